"""/api/v1/audit: who changed what, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import func, select

from app.api.deps import Db, Paging
from app.api.schemas.common import AuditRead
from app.models import AuditRecord

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=list[AuditRead])
def list_audit(
    db: Db,
    page: Paging,
    response: Response,
    kind: Annotated[
        str | None, Query(description="gateway, subnet, policy, tunnel")
    ] = None,
    name: Annotated[str | None, Query(description="Object name")] = None,
    actor: Annotated[str | None, Query(description="Who made the change")] = None,
    revision: Annotated[
        int | None, Query(description="Changes of one revision")
    ] = None,
) -> Any:
    """List audit records, newest first; X-Total-Count gives the total."""
    query = select(AuditRecord)
    for column, value in (
        (AuditRecord.kind, kind),
        (AuditRecord.name, name),
        (AuditRecord.actor, actor),
        (AuditRecord.revision, revision),
    ):
        if value is not None:
            query = query.where(column == value)
    with db.reading() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.scalars(
            query.order_by(AuditRecord.id.desc()).limit(page.limit).offset(page.offset)
        ).all()
        response.headers["X-Total-Count"] = str(total)
        return [
            {
                "id": r.id,
                "revision": r.revision,
                "at": r.at,
                "actor": r.actor,
                "kind": r.kind,
                "name": r.name,
                "action": r.action,
                "before": r.before,
                "after": r.after,
            }
            for r in rows
        ]
