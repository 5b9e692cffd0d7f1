"""The reconciler ``cygnet serve`` runs: intent changes, drift, and stopping."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from app import migrate
from app.db import make_engine
from app.services.datapath import Reconciler
from app.services.resources import import_text
from tests.app.helpers import FREESWAN
from tests.netns import Namespaces, skip_reason

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
]

S_U = "src 10.1.0.0/24 dst 10.3.0.0/24"
S_T = "src 10.1.0.0/24 dst 10.2.0.0/24"


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cygnet.db'}"
    monkeypatch.setenv("CYGNET_DATABASE_URL", url)
    engine = make_engine(url)
    migrate.upgrade(engine)
    import_text(engine, FREESWAN.encode(), "test")
    yield engine
    engine.dispose()


@pytest.fixture
def spaces():
    with Namespaces() as spaces:
        spaces.add("x")
        yield spaces


def wait_for(condition, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


def test_a_change_of_intent_reaches_the_kernel_and_is_logged(database, spaces, caplog):
    caplog.set_level(logging.INFO)
    def policies() -> str:
        return spaces.ip("x", "xfrm", "policy")

    reconciler = Reconciler("x", spaces["x"], interval=60, poll=0.1).start()
    try:
        wait_for(lambda: S_U in policies(), what="the first apply")
        import_text(database, _without_s_t().encode(), "test")
        wait_for(lambda: S_T not in policies(), what="the removal of s-t")
    finally:
        reconciler.stop()

    assert S_U in policies()
    changes = [r.getMessage() for r in caplog.records if r.name == "datapath.reconcile"]
    assert any(m.startswith("gateway x: + policy") for m in changes)
    assert any(
        m.startswith("gateway x: - policy") and "10.2.0.0/24" in m for m in changes
    )


def _without_s_t() -> str:
    return (
        "\n".join(line for line in FREESWAN.splitlines() if "name: s-t" not in line)
        + "\n"
    )


def test_drift_is_repaired_on_the_timer(database, spaces):
    def out_policy() -> str:
        return spaces.ip("x", "xfrm", "policy", "list", *S_U.split(), "dir", "out")

    reconciler = Reconciler("x", spaces["x"], interval=0.5, poll=0.1).start()
    try:
        wait_for(out_policy, what="the first apply")
        spaces.ip("x", "xfrm", "policy", "delete", *S_U.split(), "dir", "out")
        wait_for(out_policy, 10, "the out policy put back")
    finally:
        reconciler.stop()


def test_serve_applies_its_gateway_and_stopping_leaves_the_datapath(
    database, spaces, tmp_path
):
    env = {k: v for k, v in os.environ.items() if k != "CYGNET_LOG_FORMAT"}
    env.update(
        CYGNET_GATEWAY="x",
        CYGNET_DATA_DIR=str(tmp_path / "var"),
        CYGNET_LISTEN="127.0.0.1:18080",
    )
    server = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            spaces["x"],
            sys.executable,
            "-m",
            "app.cli",
            "-v",
            "serve",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: S_U in spaces.ip("x", "xfrm", "policy") or server.poll(),
            60,
            "serve's first apply",
        )
        assert server.poll() is None, server.stderr.read()
        before = spaces.ip("x", "xfrm", "policy")
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)

    assert spaces.ip("x", "xfrm", "policy") == before
    assert "reconcile of x: applied" in err
