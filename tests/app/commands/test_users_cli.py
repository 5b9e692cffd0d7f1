"""``cygnet user`` and ``cygnet token``: passwords from stdin, tokens once."""

from __future__ import annotations

import io
import sys

import pytest

from app.cli import main

PASSWORD = "correct horse battery"


@pytest.fixture
def cli(database_url, monkeypatch, capsys):
    monkeypatch.setenv("CYGNET_DATABASE_URL", database_url)

    def run(*args: str, stdin: str = ""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_user_add_reads_the_password_from_stdin(cli):
    status, out, _ = cli("user", "add", "ana", "--role", "admin", stdin=PASSWORD)
    assert status == 0 and out == "added user ana (admin)\n"
    assert cli("user", "list")[1] == "ana\tadmin\n"


def test_user_add_without_a_password_refuses_and_adds_nobody(cli):
    status, _, err = cli("user", "add", "ana", "--role", "admin", stdin="")
    assert status == 2
    assert "password: none given" in err and "no default password" in err
    assert cli("user", "list")[1] == ""


def test_user_add_with_a_short_password_names_the_field(cli):
    status, _, err = cli("user", "add", "ana", "--role", "admin", stdin="short\n")
    assert status == 2
    assert "password: must be at least 10 characters" in err


def test_token_create_prints_the_token_once_and_it_works(cli, engine):
    from fastapi.testclient import TestClient

    from app.main import create_app

    cli("user", "add", "ana", "--role", "operator", stdin=PASSWORD)
    status, out, err = cli("token", "create", "--user", "ana", "--label", "ci")
    token = out.strip()
    assert status == 0 and token.startswith("cyg_") and len(token) > 40
    assert "shown only now" in err
    listed = cli("token", "list")[1]
    assert "ana\toperator" in listed and "ci" in listed and token not in listed

    with TestClient(create_app(engine)) as client:
        response = client.get(
            "/api/v1/gateways", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200


def test_token_revoke_and_unknown_user(cli):
    cli("user", "add", "ana", "--role", "viewer", stdin=PASSWORD)
    cli("token", "create", "--user", "ana")
    token_id = cli("token", "list")[1].split("\t")[0]
    assert cli("token", "revoke", token_id)[0] == 0
    assert cli("token", "list")[1] == ""
    status, _, err = cli("token", "create", "--user", "nobody")
    assert status == 2 and "no user named 'nobody'" in err


def test_user_role_and_remove(cli):
    cli("user", "add", "ana", "--role", "admin", stdin=PASSWORD)
    cli("user", "add", "bob", "--role", "viewer", stdin=PASSWORD)
    assert cli("user", "role", "bob", "operator")[0] == 0
    assert cli("user", "remove", "bob")[0] == 0
    assert cli("user", "list")[1] == "ana\tadmin\n"
    status, _, err = cli("user", "remove", "ana")
    assert status == 2 and "only admin" in err
