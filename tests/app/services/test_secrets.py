"""Secrets at rest: sealed under a key file, never returned, never audited."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import select, text

from app.db import read_session, write_session
from app.models import Gateway, SaKey, Tunnel
from app.secrets import SecretError, forget_keys, open_sealed, seal
from app.services.audit import record_change
from tests.app.helpers import load_freeswan

KEY = bytes.fromhex("00112233445566778899aabbccddeeff0011223344556677")


def test_key_file_is_created_private_on_first_use(tmp_path):
    path = tmp_path / "secret.key"
    assert not path.exists()
    sealed = seal(b"psk", "test")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert open_sealed(sealed, "test") == b"psk"


def test_sealed_value_hides_the_plaintext_and_varies():
    one, two = seal(KEY, "sa_key"), seal(KEY, "sa_key")
    assert KEY not in one and one != two


def test_value_sealed_for_one_purpose_cannot_be_opened_as_another():
    with pytest.raises(SecretError, match="cannot be decrypted"):
        open_sealed(seal(KEY, "sa_key"), "psk")


def test_another_key_file_cannot_open_old_secrets(tmp_path, monkeypatch):
    sealed = seal(KEY, "sa_key")
    monkeypatch.setenv("CYGNET_SECRET_KEY_FILE", str(tmp_path / "other.key"))
    forget_keys()
    with pytest.raises(SecretError, match="not the one it was sealed with"):
        open_sealed(sealed, "sa_key")


def test_key_file_set_by_environment_is_used(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere" / "k"
    monkeypatch.setenv("CYGNET_SECRET_KEY_FILE", str(path))
    forget_keys()
    seal(b"x", "t")
    assert path.exists()


def add_key(engine) -> None:
    with write_session(engine) as session:
        tunnel = session.scalars(select(Tunnel)).one()
        x, y = (
            session.scalars(select(Gateway).where(Gateway.name == n)).one()
            for n in ("x", "y")
        )
        session.add(
            SaKey(
                tunnel=tunnel,
                src_gateway=x,
                dst_gateway=y,
                spi=0x1234,
                key=KEY,
                generation=1,
                phase="active",
            )
        )
        record_change(
            session,
            "test",
            "sa_key",
            "x->y",
            "create",
            None,
            {"spi": 0x1234, "key": KEY.hex()},
        )


def test_sa_key_is_encrypted_in_the_database(client, engine):
    load_freeswan(client)
    add_key(engine)
    with engine.connect() as connection:
        stored = bytes(connection.execute(text("SELECT key FROM sa_keys")).scalar())
    assert KEY not in stored and KEY.hex().encode() not in stored
    with read_session(engine) as session:
        assert session.scalars(select(SaKey)).one().key == KEY


def test_sa_key_never_appears_in_api_answers_or_audit(client, engine):
    load_freeswan(client)
    add_key(engine)
    answers = "".join(
        client.get(url).text
        for url in (
            "/api/v1/intent",
            "/api/v1/audit?limit=1000",
            "/api/v1/gateways",
            "/api/v1/policies",
            "/openapi.json",
        )
    )
    assert KEY.hex() not in answers
    record = client.get("/api/v1/audit", params={"kind": "sa_key"}).json()[0]
    assert record["after"]["key"] == "(secret)"


def test_sa_key_repr_hides_the_key():
    key = SaKey(spi=0x1234, key=KEY, generation=1, phase="active")
    assert KEY.hex() not in repr(key) and str(KEY) not in repr(key)


def test_secret_key_file_is_not_world_readable_even_with_a_loose_umask(tmp_path):
    old = os.umask(0)
    try:
        seal(b"x", "t")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
