"""Browser sessions: a random cookie, stored as its digest, with a CSRF token.

The cookie is HttpOnly and SameSite=Strict; every form carries the session's
CSRF token, compared in constant time.  Sessions end at logout or after
``LIFETIME``; expired ones are swept at each login.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.auth.accounts import Principal, digest
from app.models import User, WebSession
from app.models.base import utcnow

log = logging.getLogger(__name__)

COOKIE = "cygnet_session"
LIFETIME = timedelta(hours=12)


def start_session(session: Session, user: User) -> tuple[str, str]:
    """Log ``user`` in: (cookie value, CSRF token)."""
    session.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            user_id=user.id,
            digest=digest(cookie),
            csrf=csrf,
            expires_at=utcnow() + LIFETIME,
        )
    )
    log.info("user %s logged in", user.name)
    return cookie, csrf


def find_session(session: Session, cookie: str | None):
    """(principal, CSRF token) for a live session cookie, or None."""
    if not cookie:
        return None
    row = session.execute(
        select(User.id, User.name, User.role, WebSession.csrf)
        .join(User, WebSession.user_id == User.id)
        .where(WebSession.digest == digest(cookie), WebSession.expires_at > utcnow())
    ).first()
    if row is None:
        return None
    user_id, name, role, csrf = row
    return Principal(name, role, user_id, "session"), csrf


def end_session(session: Session, cookie: str | None) -> None:
    if cookie:
        session.execute(delete(WebSession).where(WebSession.digest == digest(cookie)))


def csrf_ok(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
