"""Stopping, guarding and starting the Cygnet service under traffic, as an
appliance does at every restart, on this machine's kernel.

Both gateways run the real ``cygnet`` CLI and ``cygnet serve`` in their
namespaces, sharing one SQLite database.  This kernel has no ESP, so the
protected pair is dropped rather than encrypted; what matters is the same as
in the VM tier (which shows ESP resuming): across every restart no U/S packet
crosses the X-Y link in clear, the clear pair T/S keeps flowing, and the
policies are never taken down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app.helpers import FREESWAN
from tests.topology import Capture, Topology, can_build, stop_ping

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(can_build() is not None, reason=str(can_build())),
]

RESTARTS = 20
PROTECTED = "net 10.1.0.0/24 and net 10.3.0.0/24"
HEALTHZ = (
    "import urllib.request, sys\n"
    "try:\n"
    "    urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=1)\n"
    "except OSError:\n"
    "    sys.exit(1)\n"
)


class Service:
    """One gateway's ``cygnet`` in its namespace."""

    def __init__(self, topo: Topology, gateway: str, root: Path) -> None:
        self.topo = topo
        self.gateway = gateway
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CYGNET_")}
        self.env.update(
            CYGNET_GATEWAY=gateway,
            CYGNET_DATA_DIR=str(root / gateway),
            CYGNET_DATABASE_URL=f"sqlite:///{root / 'cygnet.db'}",
            CYGNET_SECRET_KEY_FILE=str(root / "secret.key"),
            CYGNET_LISTEN="127.0.0.1:8080",
        )
        self.proc: subprocess.Popen | None = None
        self.log = root / f"{gateway}.log"

    def cli(self, *args: str) -> str:
        done = self.topo.exec(
            self.gateway,
            sys.executable,
            "-m",
            "app.cli",
            *args,
            env=self.env,
            check=False,
        )
        assert done.returncode == 0, f"cygnet {' '.join(args)}: {done.stderr}"
        return done.stdout

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.proc = self.topo.popen(
                self.gateway,
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            probe = self.topo.exec(
                self.gateway, sys.executable, "-c", HEALTHZ, check=False
            )
            if probe.returncode == 0:
                return
            assert time.monotonic() < deadline, f"{self.gateway} never healthy"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
            self.proc = None


@pytest.fixture
def services(tmp_path):
    topo = Topology().build()
    found = {gw: Service(topo, gw, tmp_path) for gw in ("x", "y")}
    try:
        intent = tmp_path / "freeswan.yaml"
        intent.write_text(FREESWAN)
        found["x"].cli("import", str(intent))
        yield topo, found
    finally:
        for service in found.values():
            service.stop()
        topo.destroy()


def test_twenty_restarts_under_traffic_leak_no_protected_cleartext(services):
    topo, found = services
    for service in found.values():
        service.cli("apply", "--gateway", service.gateway)
        service.start()
    for service in found.values():
        service.wait_healthy()
    before = {gw: topo.ip(gw, "xfrm", "policy") for gw in found}

    capture = Capture(topo, "x", "out", PROTECTED)
    protected = topo.steady_ping("u", "10.1.0.2")
    clear = topo.steady_ping("t", "10.1.0.2")
    cycles = []
    try:
        for _ in range(RESTARTS):
            started = time.monotonic()
            for service in found.values():
                service.stop()
            for service in found.values():
                service.cli("guard", "--gateway", service.gateway)
            for service in found.values():
                service.start()
            for service in found.values():
                service.wait_healthy()
            cycles.append(time.monotonic() - started)
    finally:
        sent, received = stop_ping(protected)
        clear_sent, clear_received = stop_ping(clear)
        leaked = capture.stop()

    print(
        f"\n{RESTARTS} stop/guard/start cycles of both services, "
        f"{min(cycles):.1f}-{max(cycles):.1f} s each; U->S {received}/{sent} "
        f"answered (dropped: no ESP here), T->S {clear_received}/{clear_sent}; "
        f"{len(leaked)} U/S packets in clear on X-Y"
    )
    assert len(cycles) == RESTARTS
    assert sent > 100 and clear_sent > 100
    assert leaked == []
    assert received == 0
    assert clear_received > 0.95 * clear_sent, "the clear pair must keep flowing"
    assert {gw: topo.ip(gw, "xfrm", "policy") for gw in found} == before
