"""Users and tokens: field-keyed errors, the last admin kept, limits on tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.auth import accounts
from app.auth.ratelimit import LoginLimiter
from app.db import read_session, write_session
from app.models import AuditRecord, User
from app.services.problems import ValidationFailed

PASSWORD = "correct horse battery"


def problems(excinfo) -> dict[str, str]:
    return {p.field: p.message for p in excinfo.value.problems}


def test_bad_user_input_names_every_field_and_changes_nothing(engine):
    with pytest.raises(ValidationFailed) as excinfo, write_session(engine) as session:
        accounts.create_user(session, "-bad name", "root", "short", "test")
    found = problems(excinfo)
    assert "is not a user name" in found["name"]
    assert found["role"] == "'root' is not one of viewer, operator, admin"
    assert found["password"].startswith("must be at least 10 characters")
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_password_is_stored_as_an_argon2_hash_and_checked(engine):
    with write_session(engine) as session:
        accounts.create_user(session, "ana", "admin", PASSWORD, "test")
    with read_session(engine) as session:
        stored = session.scalar(select(User.password_hash))
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert accounts.authenticate(session, "ana", PASSWORD).name == "ana"
        assert accounts.authenticate(session, "ana", PASSWORD + "x") is None
        assert accounts.authenticate(session, "nobody", PASSWORD) is None


def test_the_only_admin_cannot_be_demoted_or_removed(engine):
    with write_session(engine) as session:
        accounts.create_user(session, "ana", "admin", PASSWORD, "test")
    for change in (
        lambda s: accounts.set_role(s, "ana", "viewer", "test"),
        lambda s: accounts.delete_user(s, "ana", "test"),
    ):
        with pytest.raises(ValidationFailed) as excinfo, write_session(engine) as s:
            change(s)
        assert "ana is the only admin; make another user admin first" in str(
            excinfo.value
        )


def test_a_token_cannot_do_more_than_its_user(engine):
    with write_session(engine) as session:
        accounts.create_user(session, "val", "viewer", PASSWORD, "test")
    with pytest.raises(ValidationFailed) as excinfo, write_session(engine) as session:
        accounts.create_token(session, "val", "test", role="admin")
    assert problems(excinfo)["role"].startswith("admin is above user val's role")


def test_account_changes_are_audited_without_secrets(engine):
    with write_session(engine) as session:
        accounts.create_user(session, "ana", "admin", PASSWORD, "cli")
        _, secret = accounts.create_token(session, "ana", "cli")
    with read_session(engine) as session:
        records = session.scalars(select(AuditRecord)).all()
    assert [(r.kind, r.action, r.actor) for r in records] == [
        ("user", "create", "cli"),
        ("token", "create", "cli"),
    ]
    text = repr([(r.before, r.after) for r in records])
    assert secret not in text and "argon2" not in text


def test_login_limiter_pauses_after_five_failures_and_forgets_later():
    now = [0.0]
    limiter = LoginLimiter(max_failures=5, window=300, clock=lambda: now[0])
    keys = ["addr:192.0.2.9", "user:ana"]
    for _ in range(5):
        assert limiter.retry_after(keys) is None
        limiter.failed(keys)
    assert limiter.retry_after(keys) == 301
    assert limiter.retry_after(["user:ana"]) == 301
    assert limiter.retry_after(["user:bob"]) is None
    now[0] = 301.0
    assert limiter.retry_after(keys) is None
