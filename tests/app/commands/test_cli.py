"""The cygnet command line: import, export, db, serve."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from app.cli import main
from app.config import parse_listen
from tests.app.helpers import EXAMPLES, FREESWAN


@pytest.fixture
def cli(database_url, monkeypatch, capsys):
    """Run ``cygnet ARGS`` in-process on the test database: (status, out, err)."""
    monkeypatch.setenv("CYGNET_DATABASE_URL", database_url)

    def run(*args: str, stdin: str | None = None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", _Stdin(stdin))
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run


class _Stdin:
    def __init__(self, text: str) -> None:
        import io

        self.buffer = io.BytesIO(text.encode())


def test_import_freeswan_then_export_round_trips(cli):
    path = EXAMPLES / "freeswan.yaml"
    status, out, _ = cli("import", str(path))
    assert status == 0 and "7 changes; revision 1" in out
    status, out, _ = cli("export")
    assert status == 0
    assert out == path.read_text()


def test_export_json_matches_the_yaml(cli):
    cli("import", str(EXAMPLES / "hub-and-branches.yaml"))
    status, out, _ = cli("export", "--format", "json")
    assert status == 0
    assert json.loads(out) == yaml.safe_load(
        (EXAMPLES / "hub-and-branches.yaml").read_text()
    )


def test_import_from_stdin(cli):
    status, _, _ = cli("import", "-", stdin=FREESWAN)
    assert status == 0
    assert cli("export")[1] == FREESWAN


def test_import_errors_carry_paths_and_lines_and_exit_2(cli):
    cli("import", str(EXAMPLES / "freeswan.yaml"))
    bad = FREESWAN.replace("10.2.0.0/24", "10.2.0.1/24").replace("[s, u]", "[s, nope]")
    status, out, err = cli("import", "-", stdin=bad)
    assert status == 2 and out == ""
    assert (
        "subnets[1].cidr (line 6): 10.2.0.1/24 has host bits set; use 10.2.0.0/24"
        in err
    )
    assert "policies[0].between[1] (line 9): unknown subnet 'nope'" in err
    assert "nothing was changed" in err
    assert cli("export")[1] == FREESWAN


def test_import_of_malformed_yaml_exits_2(cli):
    status, _, err = cli("import", "-", stdin="gateways: [\n")
    assert status == 2 and "malformed YAML" in err


def test_import_of_missing_file_exits_2(cli, tmp_path):
    status, _, err = cli("import", str(tmp_path / "nope.yaml"))
    assert status == 2 and "No such file" in err


def test_dry_run_changes_nothing(cli):
    status, out, _ = cli("import", "--dry-run", str(EXAMPLES / "freeswan.yaml"))
    assert status == 0 and "would make 7 changes" in out
    assert cli("export")[1] == "gateways: []\nsubnets: []\npolicies: []\n"


def test_cli_changes_are_audited_as_cli(cli, engine):
    from sqlalchemy import select

    from app.db import read_session
    from app.models import AuditRecord

    cli("import", str(EXAMPLES / "freeswan.yaml"))
    with read_session(engine) as session:
        actors = set(session.scalars(select(AuditRecord.actor)))
    assert actors == {"cli"}


def run_cygnet(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def fresh_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYGNET_")}
    env["CYGNET_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_default_database_is_sqlite_in_the_data_dir_created_on_import(
    fresh_env, tmp_path
):
    result = run_cygnet("import", str(EXAMPLES / "freeswan.yaml"), env=fresh_env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "cygnet.db").exists()
    assert run_cygnet("export", env=fresh_env).stdout == FREESWAN


def test_db_verbs_upgrade_show_and_downgrade(fresh_env):
    assert "none" in run_cygnet("db", "current", env=fresh_env).stdout
    upgraded = run_cygnet("db", "upgrade", env=fresh_env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "(head)" in run_cygnet("db", "current", env=fresh_env).stdout
    down = run_cygnet("db", "downgrade", "base", env=fresh_env)
    assert down.returncode == 0 and "base" in down.stdout
    assert "none" in run_cygnet("db", "current", env=fresh_env).stdout


def test_old_schema_is_refused_with_the_fix(fresh_env):
    run_cygnet("db", "upgrade", "0001", env=fresh_env)
    result = run_cygnet("import", str(EXAMPLES / "freeswan.yaml"), env=fresh_env)
    assert result.returncode == 2 and "cygnet db upgrade" in result.stderr


def test_unknown_verb_exits_2(fresh_env):
    assert run_cygnet("frobnicate", env=fresh_env).returncode == 2


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("[::1]:8443", ("::1", 8443)),
        ("9001", ("127.0.0.1", 9001)),
        ("localhost", ("localhost", 8080)),
    ],
)
def test_listen_setting_is_parsed(value, expected):
    assert parse_listen(value) == expected


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_upgrades_an_empty_database_and_answers(fresh_env):
    port = _free_port()
    fresh_env["CYGNET_LISTEN"] = f"127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env=fresh_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=2
                ) as r:
                    assert r.read() == b"ok"
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "server did not answer within 60 s"
                time.sleep(0.3)
        cygnet = [sys.executable, "-m", "app.cli"]
        subprocess.run(
            cygnet + ["user", "add", "ops", "--role", "viewer"],
            env=fresh_env,
            input="correct horse battery\n",
            text=True,
            check=True,
        )
        token = subprocess.run(
            cygnet + ["token", "create", "--user", "ops"],
            env=fresh_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/revision",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request) as r:
            assert json.loads(r.read()) == {"revision": 0}
    finally:
        server.terminate()
        server.wait(timeout=30)
