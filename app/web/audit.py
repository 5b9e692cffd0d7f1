"""/audit: who changed what and when, with each change's before and after."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from app.db import read_session
from app.models import AuditRecord
from app.web.render import page
from app.web.security import Viewer

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def changes(
    before: dict | None, after: dict | None
) -> list[tuple[str, str, str, bool]]:
    """(field, before, after, changed) for every field of either side."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))

    def shown(form: dict, key: str) -> str:
        if key not in form:
            return ""
        value = form[key]
        return "—" if value is None else str(value)

    return [
        (k, shown(before, k), shown(after, k), before.get(k) != after.get(k))
        for k in keys
    ]


@router.get("/audit")
def list_audit(
    request: Request,
    visitor: Viewer,
    page_number: int = 1,
    kind: str = "",
    actor: str = "",
):
    query = select(AuditRecord)
    if kind:
        query = query.where(AuditRecord.kind == kind)
    if actor:
        query = query.where(AuditRecord.actor == actor)
    page_number = max(page_number, 1)
    with read_session(request.app.state.engine) as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        records = session.scalars(
            query.order_by(AuditRecord.id.desc())
            .limit(PER_PAGE)
            .offset((page_number - 1) * PER_PAGE)
        ).all()
    return page(
        request,
        "audit.html",
        visitor,
        title="Audit log",
        records=records,
        changes=changes,
        total=total,
        number=page_number,
        pages=max(1, -(-total // PER_PAGE)),
        kind=kind,
        actor=actor,
    )
