"""What each gateway last did to its kernel, as the gateway itself reported it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UtcDateTime
from app.models.topology import Gateway


class GatewayStatus(Base):
    """One row per gateway that has applied at least once.

    ``applied_revision`` is the last intent revision its kernel fully matched; key
    rotations wait for both ends of a tunnel to reach a revision before moving on.
    ``ok``/``message`` describe the last apply, successful or not.
    """

    __tablename__ = "gateway_status"

    gateway_id: Mapped[int] = mapped_column(
        ForeignKey("gateways.id", ondelete="CASCADE"), primary_key=True
    )
    applied_revision: Mapped[int] = mapped_column(BigInteger, default=0)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    message: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)

    gateway: Mapped[Gateway] = relationship()
