"""The revision number and the audit trail.

The first change recorded in a transaction bumps the global revision; every
later change in the same transaction shares that number, so one commit is one
revision.  Audit records carry public forms only; as a second guard, any field
whose name says it is secret is masked before it is stored.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import AuditRecord, Revision

log = logging.getLogger(__name__)

SECRET_FIELDS = ("key", "psk", "pre_shared_key", "private_key", "secret", "password")
MASK = "(secret)"
_BUMPED = "cygnet_revision"


def current_revision(session: Session) -> int:
    number = session.scalar(select(Revision.number).where(Revision.id == 1))
    return int(number or 0)


def _masked(form: Any) -> Any:
    if isinstance(form, dict):
        return {
            k: (MASK if k.lower() in SECRET_FIELDS and v is not None else _masked(v))
            for k, v in form.items()
        }
    if isinstance(form, list):
        return [_masked(v) for v in form]
    return form


def revision_for_change(session: Session) -> int:
    """The revision this transaction's changes get, bumping it on first use."""
    number = session.info.get(_BUMPED)
    if number is None:
        session.execute(
            update(Revision).where(Revision.id == 1).values(number=Revision.number + 1)
        )
        number = current_revision(session)
        session.info[_BUMPED] = number
    return number


def record_change(
    session: Session,
    actor: str,
    kind: str,
    name: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditRecord:
    """Write one audit record (``action``: create, update or delete)."""
    record = AuditRecord(
        revision=revision_for_change(session),
        actor=actor,
        kind=kind,
        name=name,
        action=action,
        before=_masked(before),
        after=_masked(after),
    )
    session.add(record)
    log.info("%s %sd %s %s (revision %d)", actor, action, kind, name, record.revision)
    return record


def _forget_revision(session: Session, *_: Any) -> None:
    session.info.pop(_BUMPED, None)


def install(session_class: type[Session] = Session) -> None:
    """Reset the per-transaction revision when a transaction ends."""
    from sqlalchemy import event

    for name in ("after_commit", "after_rollback", "after_soft_rollback"):
        if not event.contains(session_class, name, _forget_revision):
            event.listen(session_class, name, _forget_revision)


install()
