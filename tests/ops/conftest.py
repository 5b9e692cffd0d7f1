"""Fixtures for the operations tests: a data directory and database of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import migrate
from app.db import make_engine
from app.secrets import forget_keys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    """CYGNET_DATA_DIR and the secret key file of the test's own."""
    path = tmp_path / "var"
    monkeypatch.setenv("CYGNET_DATA_DIR", str(path))
    monkeypatch.setenv("CYGNET_SECRET_KEY_FILE", str(path / "secret.key"))
    for name in (
        "CYGNET_DATABASE_URL",
        "CYGNET_GATEWAY",
        "CYGNET_LOG_FORMAT",
        "CYGNET_LOG_LEVEL",
        "CYGNET_BACKUP_PASSPHRASE",
    ):
        monkeypatch.delenv(name, raising=False)
    forget_keys()
    yield path
    forget_keys()


@pytest.fixture
def engine(data_dir):
    """A migrated SQLite database in the data directory (the default URL)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{data_dir / 'cygnet.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def load_example(engine, name: str) -> int:
    """Import ``examples/NAME.yaml``; the revision it made."""
    from app.services.resources import import_text

    revision, _ = import_text(engine, (EXAMPLES / f"{name}.yaml").read_bytes(), "test")
    return revision


@pytest.fixture
def client(engine):
    """The application, with an admin's API token on every request.

    The operations endpoints themselves need no token; the API calls that
    change the intent do.
    """
    from fastapi.testclient import TestClient

    from app.auth.accounts import create_token, create_user
    from app.db import write_session
    from app.main import create_app

    with write_session(engine) as session:
        create_user(session, "ops", "admin", "correct horse battery", "test")
        _, token = create_token(session, "ops", "test")
    with TestClient(create_app(engine)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
