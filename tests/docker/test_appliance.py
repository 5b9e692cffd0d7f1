"""The appliance end to end: Cygnet in a container is gateway X of FreeS/WAN's topology.

dockerd runs inside X's namespace, so the host-networked container's XFRM
policies are X's.  The tests run in file order, each one a step of an
appliance's life: up, intent in through the REST API, a restart under
traffic, down and up again, and the metrics of a spoofing attempt.

This machine's kernel has no ESP: the protected pair S<->U is dropped at X
rather than encrypted (there are no SAs: the example is keyed by IKE and no
IKE daemon runs).  What is checked is what matters on any kernel: no protected
packet ever crosses X's outside link in clear, and the datapath outlives the
container.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib

import pytest

from tests.docker.conftest import (
    DOCKER,
    IMAGE,
    ROOT,
    Compose,
    Dockerd,
    why_no_docker,
)
from tests.docker.figures import FIGURES
from tests.topology import Capture, Topology, can_build, stop_ping

INJECT = ROOT / "tests" / "inject.py"
PROTECTED = "net 10.1.0.0/24 and net 10.3.0.0/24"
LISTEN = "127.0.0.1:8080"


def why_not() -> str | None:
    """Why the appliance cannot be tested here, or None."""
    import importlib.util

    from app import cli, main

    reason = why_no_docker() or can_build()
    if reason:
        return reason
    if importlib.util.find_spec("app.commands.datapath") is None:
        return "the datapath commands (cygnet guard, plan) are not there yet"
    if "app.ops" not in main.ROUTER_MODULES:
        return "/readyz and /metrics are not served: app.ops is not in ROUTER_MODULES"
    if "app.commands.backup" not in cli.COMMAND_MODULES:
        return "cygnet backup is not registered in app/cli.py's COMMAND_MODULES"
    with open(ROOT / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    if not any(d.replace("_", "-").startswith("prometheus-client") for d in deps):
        return "prometheus-client is not in pyproject.toml's dependencies"
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.root,
    pytest.mark.skipif(why_not() is not None, reason=str(why_not())),
]


class Appliance:
    def __init__(self, topo: Topology, dockerd: Dockerd, compose: Compose) -> None:
        self.topo = topo
        self.dockerd = dockerd
        self.compose = compose
        self.token: str | None = None

    def login(self) -> None:
        """An admin and an API token made as an operator would, in the container."""
        self.compose(
            "exec",
            "-T",
            "cygnet",
            "cygnet",
            "user",
            "add",
            "tier",
            "--role",
            "admin",
            input="tier passphrase, long enough\n",
        )
        made = self.compose(
            "exec", "-T", "cygnet", "cygnet", "token", "create", "--user", "tier"
        )
        self.token = made.stdout.strip()

    def http(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> tuple[int, str]:
        """A request to the container's API, from inside X's namespace."""
        script = (
            "import json, sys, urllib.request, urllib.error\n"
            "a = json.loads(sys.argv[1])\n"
            "req = urllib.request.Request(a['url'], method=a['method'],\n"
            "    data=sys.stdin.buffer.read() or None)\n"
            "if a['type']: req.add_header('Content-Type', a['type'])\n"
            "if a['token']: req.add_header('Authorization', 'Bearer ' + a['token'])\n"
            "try:\n"
            "    r = urllib.request.urlopen(req, timeout=20); code = r.status\n"
            "except urllib.error.HTTPError as e:\n"
            "    r = e; code = e.code\n"
            "sys.stdout.write(str(code) + '\\n' + r.read().decode())\n"
        )
        args = json.dumps(
            {
                "url": f"http://{LISTEN}{path}",
                "method": method,
                "type": content_type,
                "token": self.token,
            }
        )
        done = self.dockerd.nsexec(
            sys.executable,
            "-c",
            script,
            args,
            input=(body or b"").decode(),
            check=False,
        )
        if done.returncode != 0:
            return 0, done.stderr
        code, _, text = done.stdout.partition("\n")
        return int(code), text

    def policies(self) -> str:
        """``ip xfrm policy`` in X: indexes change if a policy is ever re-added."""
        return self.topo.ip("x", "xfrm", "policy")

    def metric(self, name: str, **labels: str) -> float:
        """One sample of a /metrics scrape."""
        from prometheus_client.parser import text_string_to_metric_families

        code, text = self.http("GET", "/metrics")
        assert code == 200, text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        raise AssertionError(f"{name} {labels} not in /metrics:\n{text}")

    def wait_ready(self, says: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        code, text = 0, ""
        while time.monotonic() < deadline:
            code, text = self.http("GET", "/readyz")
            if code == 200 and says in text:
                return text
            time.sleep(0.5)
        raise AssertionError(f"/readyz never said {says!r}: last {code} {text}")


@pytest.fixture(scope="module")
def appliance(tier):
    compose = tier.compose
    compose.environment["CYGNET_LISTEN"] = LISTEN
    started = time.monotonic()
    try:
        compose("up", "-d")
        FIGURES["up to healthy (s)"] = round(compose.wait_healthy(), 1)
        appliance = Appliance(tier.topo, tier.dockerd, compose)
        appliance.login()
        yield appliance
    finally:
        compose("down", "-v", check=False)
        FIGURES["appliance steps (s)"] = round(time.monotonic() - started, 1)


def test_appliance_comes_up_ready_with_nothing_to_reconcile(appliance):
    code, text = appliance.http("GET", "/readyz")

    assert code == 200, text
    assert "gateway x is not in the intent yet" in text
    assert appliance.compose.health() == "healthy"


def test_the_console_is_served_from_the_image_with_its_assets(appliance):
    page_code, page = appliance.http("GET", "/login")
    css_code, css = appliance.http("GET", "/static/console/console.css")

    assert page_code == 200, page
    assert 'name="password"' in page and "/static/console/console.css" in page
    assert css_code == 200 and len(css) > 100


def test_the_api_refuses_a_caller_without_a_token(appliance):
    token, appliance.token = appliance.token, None
    try:
        code, text = appliance.http("GET", "/api/v1/gateways")
    finally:
        appliance.token = token

    assert code == 401, text
    assert "Authorization: Bearer" in text


def test_intent_put_through_the_api_reaches_the_kernel(appliance):
    code, text = appliance.http(
        "PUT",
        "/api/v1/intent",
        (ROOT / "examples/freeswan.yaml").read_bytes(),
        "application/yaml",
    )
    assert code == 200, text

    ready = appliance.wait_ready("the kernel holds revision")
    policies = appliance.policies()

    assert "gateway x" in ready
    logged = [
        json.loads(line.partition("| ")[2])
        for line in appliance.compose("logs", "--no-color").stdout.splitlines()
        if line.partition("| ")[2].startswith("{")
    ]
    assert any(
        entry["logger"] == "datapath.reconcile" and "policy" in entry["message"]
        for entry in logged
    ), "each kernel change is logged as a JSON line"
    assert "src 10.1.0.0/24 dst 10.3.0.0/24" in policies
    assert "src 10.3.0.0/24 dst 10.1.0.0/24" in policies
    assert "proto esp" in policies


def test_restart_under_traffic_sends_nothing_protected_in_clear(appliance):
    topo = appliance.topo
    before = appliance.policies()
    capture = Capture(topo, "x", "out", PROTECTED)
    protected = topo.steady_ping("s", "10.3.0.2")
    clear = topo.steady_ping("s", "10.2.0.2")
    try:
        time.sleep(1)
        started = time.monotonic()
        appliance.compose("restart")
        healthy = appliance.compose.wait_healthy()
        restart = time.monotonic() - started
        time.sleep(1)
    finally:
        sent, received = stop_ping(protected)
        clear_sent, clear_received = stop_ping(clear)
        leaked = capture.stop()

    FIGURES["restart to healthy (s)"] = round(restart, 1)
    print(
        f"\nrestart {restart:.1f} s (healthy after {healthy:.1f} s); S->U "
        f"{received}/{sent} answered, S->T {clear_received}/{clear_sent}; "
        f"{len(leaked)} protected packets on X's outside link"
    )
    assert sent > 100 and clear_sent > 100
    assert leaked == []
    assert received == 0
    assert clear_received > 0.9 * clear_sent, "X must keep forwarding the clear pair"
    assert appliance.policies() == before, "the policies were never taken down"


def test_down_leaves_the_datapath_and_up_takes_it_over_unchanged(appliance):
    before = appliance.policies()

    appliance.compose("down")
    after_down = appliance.policies()
    appliance.compose("up", "-d")
    appliance.compose.wait_healthy()
    appliance.wait_ready("the kernel holds revision")
    plan = appliance.compose(
        "exec", "-T", "cygnet", "cygnet", "plan", "--gateway", "x", "--json"
    )

    assert after_down == before
    assert appliance.policies() == before
    assert json.loads(plan.stdout)["steps"] == [], plan.stdout


def test_backup_from_the_running_container_restores_the_same_intent(appliance):
    compose = appliance.compose
    base = ["docker-compose", "-f", str(compose.context / "docker-compose.yml")]
    secret = "CYGNET_BACKUP_PASSPHRASE=tier passphrase"

    backup = subprocess.run(
        [*base, "exec", "-T", "-e", secret, "cygnet", "cygnet", "backup", "-"],
        env=compose.env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert backup.returncode == 0, backup.stderr.decode()
    # A fresh appliance of the same image, with no network and an empty data
    # directory.  (docker-compose 1.29 cannot "run" a host-network service
    # while it is up, so this goes to docker directly.)
    restored = subprocess.run(
        [
            DOCKER,
            "-H",
            appliance.dockerd.host,
            "run",
            "--rm",
            "-i",
            "--network",
            "none",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--cap-drop",
            "ALL",
            "-e",
            secret,
            "-e",
            "CYGNET_DATA_DIR=/tmp/restored",
            "--entrypoint",
            "sh",
            IMAGE,
            "-c",
            "cygnet restore - >&2 && cygnet export",
        ],
        input=backup.stdout,
        capture_output=True,
        timeout=120,
        check=False,
    )
    live = compose("exec", "-T", "cygnet", "cygnet", "export").stdout

    print(f"\nbackup of the running appliance: {len(backup.stdout)} bytes")
    assert restored.returncode == 0, restored.stderr.decode()
    assert b"restored (" in restored.stderr
    assert restored.stdout.decode() == live
    assert "192.0.2.1" in live and b"192.0.2.1" not in backup.stdout


def test_metrics_count_spoofed_cleartext_dropped_by_the_kernel(appliance):
    topo = appliance.topo
    spoofed = "cygnet_spoofed_cleartext_dropped_total"
    before = appliance.metric(spoofed)

    x_mac = topo.ip("x", "-br", "link", "show", "out").split()[2]
    topo.exec(
        "y", sys.executable, str(INJECT), "out", x_mac, "10.3.0.2", "10.1.0.2", "25"
    )
    after = appliance.metric(spoofed)

    print(f"\n{spoofed}: {before} -> {after} after 25 spoofed U->S frames")
    assert after - before >= 25
    assert appliance.metric("cygnet_tunnel_up", tunnel="x/y", peer="y") == 0
