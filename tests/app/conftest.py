"""Fixtures for the application's tests.

Every database test runs on SQLite, and on PostgreSQL too when
``CYGNET_TEST_POSTGRES_URL`` points at a server (``eval "$(.ci/start-postgres)"``
starts a throwaway one); without it the PostgreSQL runs skip with that reason.
Each test gets an empty, migrated database and its own secret key file.
"""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy import text

from app import migrate
from app.db import make_engine
from app.secrets import forget_keys

POSTGRES_URL = os.environ.get("CYGNET_TEST_POSTGRES_URL")
PASSWORD = "correct horse battery"
DATA_TABLES = (
    "web_sessions",
    "api_tokens",
    "users",
    "sa_keys",
    "gateway_status",
    "tunnels",
    "policies",
    "subnets",
    "gateways",
    "audit_records",
)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path, monkeypatch):
    """A data dir and secret key of the test's own; no stray database URL."""
    monkeypatch.setenv("CYGNET_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CYGNET_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.delenv("CYGNET_DATABASE_URL", raising=False)
    forget_keys()
    yield
    forget_keys()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, copied for each test (faster than migrating)."""
    path = tmp_path_factory.mktemp("template") / "cygnet.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine():
    if not POSTGRES_URL:
        pytest.skip(
            "CYGNET_TEST_POSTGRES_URL is not set; start a server with "
            '`eval "$(.ci/start-postgres)"` to run the PostgreSQL tests'
        )
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _empty_postgres(engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE")
        )
        connection.execute(text("UPDATE revision SET number = 0"))


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def engine(request, tmp_path, sqlite_template):
    """An empty, migrated database: SQLite, then PostgreSQL when available."""
    if request.param == "sqlite":
        path = tmp_path / "cygnet.db"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("postgres_engine")
        _empty_postgres(engine)
        yield engine


@pytest.fixture
def database_url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def add_user(engine, name: str, role: str, password: str = PASSWORD) -> str:
    """Add a user with an API token of their role; returns the token.

    Rows are written directly, not through :mod:`app.auth.accounts`, so that the
    audit trail the API tests count holds only what the tests themselves did.
    """
    import secrets

    from app.auth.accounts import digest
    from app.auth.passwords import hash_password
    from app.db import write_session
    from app.models import ApiToken, User

    token = "cyg_" + secrets.token_urlsafe(32)
    with write_session(engine) as session:
        user = User(name=name, role=role, password_hash=hash_password(password))
        session.add(user)
        session.add(
            ApiToken(
                user=user,
                label="test",
                prefix=token[:10],
                digest=digest(token),
                role=role,
            )
        )
    return token


@pytest.fixture
def anonymous(engine):
    """The application with no credentials at all."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(engine)) as client:
        yield client


@pytest.fixture
def client(engine, anonymous):
    """The application, called with the token of admin "api" (the actor that
    every change the API tests make is audited under)."""
    anonymous.headers["Authorization"] = f"Bearer {add_user(engine, 'api', 'admin')}"
    return anonymous
