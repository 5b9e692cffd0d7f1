"""cygnet backup / restore: the whole appliance in one encrypted file."""

from __future__ import annotations

import argparse
import os
import stat

import pytest

from app import migrate
from app.commands import backup
from app.db import make_engine, read_session
from app.secrets import forget_keys
from app.services.datapath import _write_plan_file, compile_current, prepare
from app.services.document import dump_document
from app.services.snapshot import load_document
from datapath.reconcile import diff_objects
from tests.ops.conftest import load_example

PASSPHRASE = "correct horse battery"


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    backup.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def export(engine) -> str:
    with read_session(engine) as session:
        return dump_document(load_document(session))


def compiled(engine, gateway: str):
    with read_session(engine) as session:
        return compile_current(session, gateway)[1]


def use_data_dir(monkeypatch, path) -> None:
    monkeypatch.setenv("CYGNET_DATA_DIR", str(path))
    monkeypatch.setenv("CYGNET_SECRET_KEY_FILE", str(path / "secret.key"))
    forget_keys()


@pytest.fixture
def appliance(engine, monkeypatch):
    """hub-and-branches with its manual keys made and hub's plan file written."""
    monkeypatch.setenv(backup.PASSPHRASE_ENV, PASSPHRASE)
    load_example(engine, "hub-and-branches")
    prepare("test")
    _write_plan_file(compiled(engine, "hub"))
    return engine


def test_restore_into_an_empty_data_directory_gives_the_same_appliance(
    appliance, data_dir, tmp_path, monkeypatch, capsys
):
    file = tmp_path / "appliance.cygbak"
    before = {gw: compiled(appliance, gw) for gw in ("hub", "branch-11")}
    exported = export(appliance)
    key = (data_dir / "secret.key").read_bytes()
    plan = (data_dir / "plans" / "hub.json").read_text()

    assert cli("backup", str(file)) == 0
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert b"branch-11" not in file.read_bytes()
    fresh = tmp_path / "fresh"
    use_data_dir(monkeypatch, fresh)
    assert cli("restore", str(file)) == 0

    restored = make_engine(f"sqlite:///{fresh / 'cygnet.db'}")
    assert export(restored) == exported
    for gateway, plan_before in before.items():
        after = compiled(restored, gateway)
        assert after.states, "the manual keys of branch-11 must come back"
        assert diff_objects(list(plan_before.objects()), after).steps == []
    assert (fresh / "secret.key").read_bytes() == key
    assert stat.S_IMODE((fresh / "secret.key").stat().st_mode) == 0o600
    assert (fresh / "plans" / "hub.json").read_text() == plan
    assert migrate.current_revision(restored) == migrate.head_revision()
    assert "restored (" in capsys.readouterr().out


def test_restore_into_a_migrated_but_empty_database(appliance, tmp_path, monkeypatch):
    file = tmp_path / "b"
    exported = export(appliance)
    cli("backup", str(file))
    use_data_dir(monkeypatch, tmp_path / "fresh")
    (tmp_path / "fresh").mkdir()
    target = make_engine(f"sqlite:///{tmp_path / 'fresh' / 'cygnet.db'}")
    migrate.upgrade(target)

    assert cli("restore", str(file)) == 0
    assert export(target) == exported


def test_restore_refuses_a_database_that_holds_an_intent(appliance, tmp_path, capsys):
    file = tmp_path / "b"
    cli("backup", str(file))
    exported = export(appliance)

    assert cli("restore", str(file)) == 2
    assert "the database already holds data" in capsys.readouterr().err
    assert export(appliance) == exported


def test_wrong_passphrase_restores_nothing(appliance, tmp_path, monkeypatch, capsys):
    file = tmp_path / "b"
    cli("backup", str(file))
    use_data_dir(monkeypatch, tmp_path / "fresh")
    monkeypatch.setenv(backup.PASSPHRASE_ENV, "not the passphrase")

    assert cli("restore", str(file)) == 2
    assert "wrong passphrase, or the backup file is damaged" in capsys.readouterr().err
    assert not (tmp_path / "fresh" / "secret.key").exists()


def test_a_damaged_file_is_refused(appliance, tmp_path):
    blob = backup.seal(backup.snapshot(appliance), PASSPHRASE)
    damaged = blob[:-40] + bytes([blob[-40] ^ 1]) + blob[-39:]
    header_changed = blob[:9] + bytes([blob[9] - 1]) + blob[10:]

    for bad in (damaged, header_changed):
        with pytest.raises(backup.BackupError, match="wrong passphrase, or the"):
            backup.open_sealed(bad, PASSPHRASE)
    with pytest.raises(backup.BackupError, match="not a Cygnet backup file"):
        backup.open_sealed(b"PK\x03\x04" + blob[4:], PASSPHRASE)


def test_passphrase_must_come_from_the_environment_without_a_terminal(
    engine, tmp_path, capsys
):
    assert cli("backup", str(tmp_path / "b")) == 2
    assert "set CYGNET_BACKUP_PASSPHRASE or run from a terminal" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "b").exists()


def test_short_passphrase_is_refused(engine, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(backup.PASSPHRASE_ENV, "short")

    assert cli("backup", str(tmp_path / "b")) == 2
    assert "at least 8 characters" in capsys.readouterr().err


@pytest.mark.postgres
def test_a_sqlite_backup_restores_into_postgresql(appliance, tmp_path, monkeypatch):
    url = os.environ.get("CYGNET_TEST_POSTGRES_URL")
    if not url:
        pytest.skip(
            "CYGNET_TEST_POSTGRES_URL is not set; start a server with "
            '`eval "$(.ci/start-postgres)"`'
        )
    from sqlalchemy import text

    file = tmp_path / "b"
    exported = export(appliance)
    cli("backup", str(file))
    target = make_engine(url)
    with target.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    use_data_dir(monkeypatch, tmp_path / "fresh")
    monkeypatch.setenv("CYGNET_DATABASE_URL", url)

    assert cli("restore", str(file)) == 0
    assert export(target) == exported
    load_example(target, "freeswan")  # the id sequences moved past the restored rows
