"""Manual keys rotate make-before-break, one phase per acknowledged revision."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import read_session, write_session
from app.models import SaKey
from app.models.base import utcnow
from app.services.audit import current_revision
from app.services.datapath import record_status
from app.services.intent import ensure_tunnels
from app.services.keys import RotationSettings, advance, ensure_keys, start_rotation
from app.services.problems import ValidationFailed
from app.services.resources import import_text
from datapath.reconcile import ApplyResult, Plan
from tests.app.helpers import FREESWAN

MANUAL = FREESWAN.replace("action: protect}", "action: protect, keying: manual}")
ON_DEMAND = RotationSettings(grace=timedelta(seconds=30), interval=None)


@pytest.fixture
def keyed(engine):
    import_text(engine, MANUAL.encode(), "test")
    with write_session(engine) as session:
        ensure_tunnels(session)
        ensure_keys(session, "test")
    return engine


def phases(engine) -> list[tuple[int, str]]:
    """(generation, phase) of every key, two per generation (one each way)."""
    with read_session(engine) as session:
        keys = session.scalars(select(SaKey).order_by(SaKey.generation, SaKey.id))
        return [(k.generation, k.phase) for k in keys]


def both_applied(engine) -> None:
    """Both gateways report the intent's current revision applied."""
    with read_session(engine) as session:
        revision = current_revision(session)
    for gateway in ("x", "y"):
        record_status(
            gateway, revision, ApplyResult(Plan(gateway, revision, [], 0)), engine
        )


def move_on(engine, settings=ON_DEMAND, now=None) -> list[str]:
    with write_session(engine) as session:
        return advance(session, "test", settings, now)


def test_first_keys_are_one_active_pair_with_distinct_spis(keyed):
    with read_session(keyed) as session:
        keys = list(session.scalars(select(SaKey)))
        spis = {k.spi for k in keys}
        lengths = {len(k.key) for k in keys}

    assert phases(keyed) == [(1, "active"), (1, "active")]
    assert len(spis) == 2
    assert lengths == {36}  # AES-256 and the RFC 4106 salt


def test_rotation_waits_for_both_gateways_before_senders_switch(keyed):
    with write_session(keyed) as session:
        generation = start_rotation(session, "x", "y", "test")

    assert generation == 2
    assert phases(keyed) == [(1, "active")] * 2 + [(2, "inbound")] * 2
    assert move_on(keyed) == []  # nobody has installed the inbound keys yet

    with read_session(keyed) as session:
        revision = current_revision(session)
    record_status("x", revision, ApplyResult(Plan("x", revision, [], 0)), keyed)
    assert move_on(keyed) == []  # x can receive, y cannot yet
    assert phases(keyed)[-1] == (2, "inbound")

    both_applied(keyed)
    done = move_on(keyed)

    assert done == ["x<->y: generation 2 now sends"]
    assert phases(keyed) == [(1, "retiring")] * 2 + [(2, "active")] * 2


def test_retiring_keys_go_after_the_grace_period_once_both_ends_switched(keyed):
    with write_session(keyed) as session:
        start_rotation(session, "x", "y", "test")
    both_applied(keyed)
    move_on(keyed)
    both_applied(keyed)

    early = move_on(keyed, now=utcnow() + timedelta(seconds=5))
    late = move_on(keyed, now=utcnow() + timedelta(seconds=31))

    assert early == []
    assert late == ["x<->y: generation 1 removed"]
    assert phases(keyed) == [(2, "active")] * 2


def test_a_second_rotation_while_one_is_under_way_is_refused(keyed):
    with write_session(keyed) as session:
        start_rotation(session, "x", "y", "test")

    with pytest.raises(ValidationFailed) as refused, write_session(keyed) as session:
        start_rotation(session, "y", "x", "test")

    assert "already under way (generation 2 is inbound)" in str(refused.value.problems)
    assert len(phases(keyed)) == 4


def test_scheduled_rotation_starts_when_the_keys_are_old_enough(keyed):
    daily = RotationSettings(grace=timedelta(seconds=30), interval=timedelta(days=1))

    soon = move_on(keyed, daily, now=utcnow() + timedelta(hours=23))
    due = move_on(keyed, daily, now=utcnow() + timedelta(days=1, seconds=1))

    assert soon == []
    assert due == ["x<->y: scheduled rotation to generation 2"]
    assert phases(keyed)[-1] == (2, "inbound")


def test_rotation_settings_name_the_variable_when_they_are_not_seconds(monkeypatch):
    monkeypatch.setenv("CYGNET_REKEY_INTERVAL", "1d")

    with pytest.raises(ValueError, match="CYGNET_REKEY_INTERVAL='1d': give a whole"):
        RotationSettings.from_env()
