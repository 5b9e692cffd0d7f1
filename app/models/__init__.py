"""The ORM models (SQLAlchemy 2.0 typed mappings); the schema comes from Alembic."""

from app.models.account import ApiToken, User, WebSession
from app.models.audit import AuditRecord, Revision
from app.models.base import Base
from app.models.status import GatewayStatus
from app.models.topology import Gateway, Policy, Subnet
from app.models.tunnel import SaKey, Tunnel

__all__ = [
    "ApiToken",
    "AuditRecord",
    "Base",
    "Gateway",
    "GatewayStatus",
    "Policy",
    "Revision",
    "SaKey",
    "Subnet",
    "Tunnel",
    "User",
    "WebSession",
]
