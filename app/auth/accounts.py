"""Users and API tokens: create, change, remove, and check who is calling.

Changes are audited like changes to the intent (kind ``user`` or ``token``) but
do not bump the intent's revision: they change nothing the kernel holds.  The
audit record never holds a password hash or a token, only the public form.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password, password_problem, verify_password
from app.auth.roles import ROLES, at_least, lower
from app.models import ApiToken, AuditRecord, User
from app.services.audit import current_revision
from app.services.problems import CONFLICT, NotFound, Problem, ValidationFailed

log = logging.getLogger(__name__)

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
TOKEN_PREFIX = "cyg_"


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user, with the role it acts with."""

    name: str
    role: str
    user_id: int
    via: str  # "session" or "token"

    def may(self, needed: str) -> bool:
        return at_least(self.role, needed)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_form(user: User) -> dict[str, Any]:
    return {"name": user.name, "role": user.role}


def token_form(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": token.user.name,
        "label": token.label,
        "role": token.role,
        "prefix": token.prefix,
    }


def _audit(
    session: Session,
    actor: str,
    kind: str,
    name: str,
    action: str,
    before: dict | None,
    after: dict | None,
) -> None:
    session.add(
        AuditRecord(
            revision=current_revision(session),
            actor=actor,
            kind=kind,
            name=name,
            action=action,
            before=before,
            after=after,
        )
    )
    log.info("%s %sd %s %s", actor, action, kind, name)


def _role_problem(role: Any) -> Problem | None:
    if role not in ROLES:
        return Problem(("role",), f"{role!r} is not one of {', '.join(ROLES)}")
    return None


def find_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound("user", name)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def create_user(
    session: Session, name: str, role: str, password: str, actor: str
) -> User:
    """Add a user; every problem with the input is reported by field."""
    problems = []
    if not USER_NAME.match(name or ""):
        problems.append(
            Problem(
                ("name",),
                f"{name!r} is not a user name: use 1-64 letters, digits, '_', '.', "
                "'@' or '-', starting with a letter or digit",
            )
        )
    elif session.scalar(select(User.id).where(User.name == name)) is not None:
        problems.append(
            Problem(
                ("name",),
                f"a user named {name!r} already exists; choose another name",
                CONFLICT,
            )
        )
    if (problem := _role_problem(role)) is not None:
        problems.append(problem)
    if (message := password_problem(password)) is not None:
        problems.append(Problem(("password",), message))
    if problems:
        raise ValidationFailed(problems)
    user = User(name=name, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    _audit(session, actor, "user", name, "create", None, user_form(user))
    return user


def _admins(session: Session) -> int:
    return session.scalar(select(func.count()).where(User.role == "admin")) or 0


def set_role(session: Session, name: str, role: str, actor: str) -> User:
    user = find_user(session, name)
    if (problem := _role_problem(role)) is not None:
        raise ValidationFailed([problem])
    if user.role == "admin" and role != "admin" and _admins(session) == 1:
        raise ValidationFailed(
            [
                Problem(
                    ("role",),
                    f"{name} is the only admin; make another user admin first",
                    CONFLICT,
                )
            ]
        )
    before = user_form(user)
    user.role = role
    _audit(session, actor, "user", name, "update", before, user_form(user))
    return user


def set_password(session: Session, name: str, password: str, actor: str) -> None:
    user = find_user(session, name)
    if (message := password_problem(password)) is not None:
        raise ValidationFailed([Problem(("password",), message)])
    user.password_hash = hash_password(password)
    # The audit says the password changed, never what it is.
    _audit(
        session,
        actor,
        "user",
        name,
        "update",
        {"password": "(old)"},
        {"password": "(new)"},
    )


def delete_user(session: Session, name: str, actor: str) -> None:
    user = find_user(session, name)
    if user.role == "admin" and _admins(session) == 1:
        raise ValidationFailed(
            [
                Problem(
                    ("name",),
                    f"{name} is the only admin; make another user admin first",
                    CONFLICT,
                )
            ]
        )
    before = user_form(user)
    session.delete(user)
    _audit(session, actor, "user", name, "delete", before, None)


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user when ``password`` is theirs; None otherwise (same time either way)."""
    user = session.scalar(select(User).where(User.name == name))
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok and user is not None else None


def create_token(
    session: Session,
    user_name: str,
    actor: str,
    role: str | None = None,
    label: str = "",
) -> tuple[ApiToken, str]:
    """A new token for ``user_name``: (row, the token itself, shown only now)."""
    user = find_user(session, user_name)
    role = role or user.role
    problems = []
    if (problem := _role_problem(role)) is not None:
        problems.append(problem)
    elif not at_least(user.role, role):
        problems.append(
            Problem(
                ("role",),
                f"{role} is above user {user.name}'s role {user.role}; a token "
                f"cannot do more than its user: choose {user.role} or lower",
            )
        )
    label = (label or "").strip()
    if len(label) > 100:
        problems.append(Problem(("label",), "must be at most 100 characters"))
    if problems:
        raise ValidationFailed(problems)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        label=label or f"token for {user.name}",
        prefix=secret[:10],
        digest=digest(secret),
        role=role,
    )
    session.add(token)
    session.flush()
    _audit(session, actor, "token", f"{token.id}", "create", None, token_form(token))
    return token, secret


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(session: Session, token_id: int, actor: str) -> None:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("token", str(token_id))
    before = token_form(token)
    session.delete(token)
    _audit(session, actor, "token", f"{token_id}", "delete", before, None)


def token_principal(session: Session, secret: str) -> Principal | None:
    """Who a bearer token acts as, or None for an unknown token."""
    row = session.execute(
        select(ApiToken.role, User.id, User.name, User.role)
        .join(User, ApiToken.user_id == User.id)
        .where(ApiToken.digest == digest(secret))
    ).first()
    if row is None:
        return None
    token_role, user_id, name, user_role = row
    return Principal(name, lower(token_role, user_role), user_id, "token")
