"""Engines and sessions.

Writes are serialised: a write transaction first takes the intent lock (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT ... FOR UPDATE`` on the revision row),
so validation always sees the state it is about to change and every commit bumps
the revision exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session

from app.config import load_settings

log = logging.getLogger(__name__)

WRITE_OPTION = "cygnet_write"


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout."""
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN so writes can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def default_engine() -> Engine:
    """The engine for ``CYGNET_DATABASE_URL`` (cached per URL)."""
    return _engine_for(load_settings().database_url)


@contextmanager
def read_session(engine: Engine | None = None) -> Iterator[Session]:
    """A session for reading; it never commits."""
    with Session(engine or default_engine(), expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(engine: Engine | None = None) -> Iterator[Session]:
    """One write transaction holding the intent lock; commits when the block ends.

    Any exception rolls everything back, so a failed write changes nothing.
    """
    engine = (engine or default_engine()).execution_options(**{WRITE_OPTION: True})
    with Session(engine, expire_on_commit=False) as session:
        with session.begin():
            lock_intent(session)
            yield session


def lock_intent(session: Session) -> None:
    """Serialise writers on the revision row (SQLite already holds its write lock)."""
    from app.models import Revision

    if session.get_bind().dialect.name == "sqlite":
        return
    session.execute(select(Revision.number).where(Revision.id == 1).with_for_update())
