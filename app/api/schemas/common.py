from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class RevisionRead(BaseModel):
    revision: int


class ImportResult(BaseModel):
    revision: int
    changes: int
    dry_run: bool = False


class AuditRead(BaseModel):
    id: int
    revision: int
    at: datetime
    actor: str
    kind: str
    name: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ProblemError(BaseModel):
    field: str
    message: str
    line: int | None = None


class ProblemRead(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError]
