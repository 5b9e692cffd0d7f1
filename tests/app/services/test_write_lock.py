"""Writers are serialised, so two changes that are each fine alone cannot both land."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from app.db import read_session, write_session
from app.services.problems import ValidationFailed
from app.services.resources import create_item, list_items
from tests.app.helpers import load_freeswan


def test_second_writer_sees_the_first_writers_change(client, engine):
    load_freeswan(client)
    first_inside = threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with write_session(engine) as session:
            session.execute(text("SELECT 1"))  # holds the write lock from here on
            first_inside.set()
            time.sleep(0.5)
            create_item(
                session,
                "subnet",
                {"name": "a", "cidr": "10.8.0.0/24", "gateway": "x"},
                "test",
            )
        outcome["first"] = "ok"

    def second() -> None:
        first_inside.wait(10)
        try:
            with write_session(engine) as session:
                create_item(
                    session,
                    "subnet",
                    {"name": "b", "cidr": "10.8.0.0/16", "gateway": "y"},
                    "test",
                )
            outcome["second"] = "ok"
        except ValidationFailed as exc:
            outcome["second"] = exc

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcome["first"] == "ok"
    assert isinstance(outcome["second"], ValidationFailed)
    assert "overlaps subnet a" in str(outcome["second"])
    with read_session(engine) as session:
        names = [s.name for s in list_items(session, "subnet", {})]
    assert names == ["s", "t", "u", "a"]


def test_failed_write_rolls_back_everything(client, engine):
    load_freeswan(client)
    with pytest.raises(ValidationFailed):
        with write_session(engine) as session:
            create_item(
                session, "gateway", {"name": "z", "address": "192.0.2.9"}, "test"
            )
            create_item(
                session, "gateway", {"name": "z2", "address": "192.0.2.9"}, "test"
            )
    with read_session(engine) as session:
        assert [g.name for g in list_items(session, "gateway", {})] == ["x", "y"]
    assert client.get("/api/v1/revision").json()["revision"] == 1
