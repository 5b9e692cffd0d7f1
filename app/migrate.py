"""Schema migrations through Alembic, configured in code (no ini file needed).

Alembic is imported only when a migration runs: reading the state of a database
(:func:`schema_state`) needs SQLAlchemy alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, inspect, text

import migrations

log = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(next(iter(migrations.__path__))).resolve()
VERSION_TABLE = "alembic_version"


def _config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _run(engine: Engine, command_name: str, revision: str) -> None:
    from alembic import command

    config = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, command_name)(config, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (``alembic upgrade``)."""
    log.info("upgrading database schema to %s", revision)
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the schema to ``revision`` (``alembic downgrade``)."""
    log.info("downgrading database schema to %s", revision)
    _run(engine, "downgrade", revision)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(SCRIPT_LOCATION))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None if it has none."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(
            text(f"SELECT version_num FROM {VERSION_TABLE}")
        ).scalar()


def is_empty(engine: Engine) -> bool:
    """True when the database holds no table but perhaps Alembic's own."""
    with engine.connect() as connection:
        names = set(inspect(connection).get_table_names()) - {VERSION_TABLE}
    return not names


class SchemaError(Exception):
    """The database schema is not the one this version of Cygnet needs."""


def ensure_schema(engine: Engine) -> None:
    """Create the schema in an empty database; refuse one that is not at head."""
    if is_empty(engine):
        upgrade(engine)
        return
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaError(
            f"database schema is at {current or 'no revision'}, this Cygnet needs "
            f"{head}: run `cygnet db upgrade` (back up the database first)"
        )
