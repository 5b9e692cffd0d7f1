"""The schema comes from Alembic: up from empty to head and back down to base."""

from __future__ import annotations

from sqlalchemy import inspect

from app import migrate
from app.db import make_engine
from app.models import Base


def tables(engine) -> set[str]:
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names()) - {migrate.VERSION_TABLE}


def test_upgrade_empty_database_to_head_and_back_to_base(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert migrate.is_empty(engine) and migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert tables(engine) == set(Base.metadata.tables)
    migrate.downgrade(engine, "base")
    assert tables(engine) == set() and migrate.is_empty(engine)
    assert migrate.current_revision(engine) is None


def test_down_and_up_again_on_every_database(engine):
    migrate.downgrade(engine, "base")
    assert tables(engine) == set()
    migrate.upgrade(engine)
    assert tables(engine) == set(Base.metadata.tables)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_schema_matches_the_models(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_ensure_schema_creates_an_empty_database_and_refuses_an_old_one(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'auto.db'}")
    migrate.ensure_schema(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    migrate.downgrade(engine, "0001")
    try:
        migrate.ensure_schema(engine)
    except migrate.SchemaError as exc:
        assert "cygnet db upgrade" in str(exc)
    else:
        raise AssertionError("an old schema was accepted")
