"""Bug 6: at start-up, shutdown and restart FreeS/WAN left a moment when the
network was up but IPsec was not, and packets went out in clear.

This drives the real ``cygnet`` CLI and service, as the appliance runs them:
one database (SQLite in /run) shared by X's and Y's services, the intent
imported with ``cygnet import``, each gateway's service started like the
appliance's entry point does (``cygnet guard``, then ``cygnet serve``).

* Restarts: with a steady U->S ping, both services are stopped and started
  ``RESTARTS`` times.  No U/S packet may cross the X-Y link in clear.  The
  first ``FULL_RESTARTS`` are restarts of the appliance's container: stop,
  ``cygnet guard``, start, and wait until the service answers.  The others are
  service restarts as systemd makes them (the guard runs at boot only): stop,
  start, and stop again a moment later, so most stops land while the service
  is still starting or making its first apply.  Under TCG a service takes
  about 100 s to answer (Python runs some 37 times slower there), so waiting
  for every one of twenty would take most of an hour; the host tier
  (tests/datapath/test_service_restart_netns.py) waits for all twenty.
* Boot: Y comes up from an empty datapath while U's traffic is already
  arriving: ``cygnet guard``, forwarding on, ``cygnet apply``.  No cleartext.
  A control turns forwarding on before the guard and must see a leak, so the
  capture is shown able to catch one.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .capture import Capture, Wire
from .topology import ADDRESS, S_NET, U_NET
from .traffic import Flow, netns_socket

pytestmark = pytest.mark.scenario("restart")

RESTARTS = int(os.environ.get("CYGNET_VM_RESTARTS", "20"))
FULL_RESTARTS = min(RESTARTS, int(os.environ.get("CYGNET_VM_FULL_RESTARTS", "3")))
# Seconds a quickly restarted service runs before it is stopped again, in turn.
QUICK_RUNS = (2, 5, 9, 14)
ROOT = Path("/run/cygnet-restart")
PORT = 8080
INTENT = f"""\
gateways:
  - {{name: x, address: {ADDRESS["x"]}}}
  - {{name: y, address: {ADDRESS["y"]}}}
subnets:
  - {{name: s, cidr: 10.1.0.0/24, gateway: x}}
  - {{name: t, cidr: 10.2.0.0/24, gateway: y}}
  - {{name: u, cidr: 10.3.0.0/24, gateway: y}}
policies:
  - {{name: s-u, between: [s, u], action: protect, keying: manual}}
  - {{name: s-t, between: [s, t], action: bypass}}
"""


class Appliance:
    """The ``cygnet`` CLI and service of one gateway, run in its namespace."""

    def __init__(self, topo, gateway: str):
        self.topo = topo
        self.gateway = gateway
        data = ROOT / gateway
        data.mkdir(parents=True, exist_ok=True)
        # The log goes where the host can read it after the VM is gone.
        logs = Path(os.environ.get("CYGNET_VM_OUT") or data)
        log = logs / f"restart-{gateway}.log"
        self.log = open(log, "a")  # noqa: SIM115 - closed by close()
        self.env = dict(
            os.environ,
            CYGNET_GATEWAY=gateway,
            CYGNET_DATA_DIR=str(data),
            CYGNET_DATABASE_URL=f"sqlite:///{ROOT / 'cygnet.db'}",
            CYGNET_SECRET_KEY_FILE=str(ROOT / "secret.key"),
            CYGNET_LISTEN=f"127.0.0.1:{PORT}",
        )
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str, in_netns: bool = True) -> str:
        argv = ["cygnet", *args]
        if in_netns:
            argv = self.topo.exec_args(self.gateway, *argv)
        proc = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=300, check=False
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {proc.returncode}:\n"
                f"{proc.stdout}{proc.stderr}"
            )
        return proc.stdout + proc.stderr

    def guard(self) -> subprocess.Popen:
        return self.topo.popen(
            self.gateway,
            "cygnet",
            "guard",
            "--gateway",
            self.gateway,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def start(self) -> None:
        self.proc = self.topo.popen(
            self.gateway,
            "cygnet",
            "-v",
            "serve",
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def healthy(self) -> bool:
        try:
            sock = netns_socket(self.topo, self.gateway, type=socket.SOCK_STREAM)
            sock.settimeout(5)
            sock.connect(("127.0.0.1", PORT))
        except OSError:
            return False
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
        conn.sock = sock
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def wait_healthy(self, timeout: float = 180) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"cygnet serve on {self.gateway} exited "
                    f"{self.proc.returncode}; see {self.log.name}"
                )
            if self.healthy():
                return time.monotonic() - started
            time.sleep(0.5)
        raise AssertionError(
            f"cygnet serve on {self.gateway} not healthy in {timeout} s"
        )

    def close(self) -> None:
        self.stop()
        self.log.close()


def _needs_cli_verbs() -> None:
    text = subprocess.run(
        ["cygnet", "--help"], capture_output=True, text=True, check=False
    ).stdout
    missing = [verb for verb in ("apply", "guard") if verb not in text]
    assert not missing, (
        f"the cygnet CLI has no {', '.join(missing)} verb(s) yet; "
        f"its commands are:\n{text}"
    )


@pytest.fixture
def appliances(topo):
    _needs_cli_verbs()
    subprocess.run(["rm", "-rf", str(ROOT)], check=True)
    ROOT.mkdir(parents=True)
    found = {name: Appliance(topo, name) for name in ("x", "y")}
    intent = ROOT / "freeswan.yaml"
    intent.write_text(INTENT)
    found["x"].cli("import", str(intent), in_netns=False)
    try:
        yield found
    finally:
        for appliance in found.values():
            appliance.close()


def _clear_u_s(wire) -> int:
    return len(wire.clear(U_NET, S_NET))


def test_restarting_the_service_under_traffic_leaks_no_cleartext(
    topo, appliances, figures
):
    for appliance in appliances.values():
        appliance.cli("apply", "--gateway", appliance.gateway)
        appliance.start()
    for appliance in appliances.values():
        appliance.wait_healthy()

    cycles = []
    quick = []
    with Flow(topo, "u", ADDRESS["s"], interval=0.02) as flow, Wire(topo) as wire:
        flow.wait_until_flowing()
        for _ in range(FULL_RESTARTS):
            started = time.monotonic()
            for appliance in appliances.values():
                appliance.stop()
            guards = [a.guard() for a in appliances.values()]
            assert all(g.wait(timeout=300) == 0 for g in guards), "cygnet guard failed"
            for appliance in appliances.values():
                appliance.start()
            ready = max(a.wait_healthy() for a in appliances.values())
            cycles.append((round(time.monotonic() - started, 1), round(ready, 1)))
        for n in range(RESTARTS - FULL_RESTARTS):
            for appliance in appliances.values():
                appliance.stop()
                appliance.start()
            time.sleep(QUICK_RUNS[n % len(QUICK_RUNS)])
            quick.append(QUICK_RUNS[n % len(QUICK_RUNS)])
        # The last start is waited for: the service comes back in full.
        back = max(a.wait_healthy() for a in appliances.values())
        with Capture(topo, bpf="ip proto 50", write=False) as after:
            time.sleep(2)
        result = flow.stop()

    figures.update(
        restarts=RESTARTS,
        full_restarts=FULL_RESTARTS,
        cycle_seconds=[c for c, _ in cycles],
        seconds_to_healthy=[r for _, r in cycles],
        quick_restart_run_seconds=quick,
        last_start_to_healthy=round(back, 1),
        esp_in_2_s_after_the_last_start=after.captured,
        pings_u_s=result.transmitted,
        pings_lost=len(flow.lost),
        clear_u_s_on_wire=_clear_u_s(wire),
        esp_on_wire=wire.esp,
        capture_dropped=wire.dropped,
    )
    assert wire.dropped == 0
    assert _clear_u_s(wire) == 0, f"{_clear_u_s(wire)} U/S packets crossed in clear"
    assert wire.esp > 0 and result.received > 0
    assert after.captured > 0, "no ESP after the last restart"


def _empty_datapath(topo, host: str) -> None:
    """Y as after a reboot: nothing in its XFRM tables, forwarding off."""
    topo.sysctl(host, net__ipv4__ip_forward=0)
    topo.ip(host, "xfrm policy flush", "xfrm state flush")


def test_boot_with_traffic_arriving_leaks_no_cleartext(topo, appliances, figures):
    y = appliances["y"]
    for appliance in appliances.values():
        appliance.cli("apply", "--gateway", appliance.gateway)

    with Flow(topo, "u", ADDRESS["s"], interval=0.02) as flow:
        flow.wait_until_flowing()

        # Control: forwarding on before the guard leaks, and the capture sees it.
        _empty_datapath(topo, "y")
        with Wire(topo) as control:
            topo.sysctl("y", net__ipv4__ip_forward=1)
            time.sleep(1)
            topo.sysctl("y", net__ipv4__ip_forward=0)

        # The appliance's order: guard, forwarding on, apply.
        _empty_datapath(topo, "y")
        with Wire(topo) as wire:
            started = time.monotonic()
            y.cli("guard", "--gateway", "y")
            guarded = time.monotonic() - started
            topo.sysctl("y", net__ipv4__ip_forward=1)
            time.sleep(1)
            y.cli("apply", "--gateway", "y")
            applied = time.monotonic() - started
            time.sleep(2)
        result = flow.stop()

    figures.update(
        control_clear_u_s_forwarding_before_guard=_clear_u_s(control),
        clear_u_s_on_wire=_clear_u_s(wire),
        guard_seconds=round(guarded, 1),
        guard_and_apply_seconds=round(applied, 1),
        esp_after_apply=wire.esp,
        pings_u_s=result.transmitted,
        pings_answered=result.received,
        capture_dropped=wire.dropped + control.dropped,
    )
    assert wire.dropped == 0 and control.dropped == 0
    assert _clear_u_s(control) > 0, "the control leaked nothing: the capture is blind"
    assert _clear_u_s(wire) == 0, f"{_clear_u_s(wire)} U/S packets crossed in clear"
    assert wire.esp > 0, "no ESP after the apply: the tunnel did not come back"
