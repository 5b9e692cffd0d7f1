"""/metrics: tunnels, applies and the kernel's XFRM drops in Prometheus format."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

pytest.importorskip(
    "prometheus_client",
    reason="prometheus-client is not installed: it belongs in pyproject.toml's "
    "dependencies",
)
from prometheus_client.parser import text_string_to_metric_families

from app import metrics
from app.services.datapath import apply
from datapath.reconcile import ApplyResult, Plan
from tests.ops.conftest import load_example
from tests.topology import Topology, can_build

INJECT = Path(__file__).resolve().parents[1] / "inject.py"


def samples(text: str) -> dict[tuple, float]:
    """{(name, (label, value), ...): value} for every sample in a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return found


def test_apply_duration_and_failures_are_counted():
    gateway = f"gw{time.monotonic_ns()}"
    plan = Plan(gateway, 1, [], 0)

    metrics.observe_apply(gateway, ApplyResult(plan, seconds=0.2))
    metrics.observe_apply(
        gateway, ApplyResult(plan, errors=[RuntimeError("no")], seconds=0.05)
    )

    got = samples(_scrape_process())
    assert got[("cygnet_apply_duration_seconds_count", ("gateway", gateway))] == 2
    assert got[("cygnet_apply_duration_seconds_sum", ("gateway", gateway))] == (
        pytest.approx(0.25)
    )
    assert got[("cygnet_apply_failures_total", ("gateway", gateway))] == 1


def _scrape_process() -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.PROCESS).decode()


def test_scrape_says_so_when_the_kernel_cannot_be_read(client, engine, monkeypatch):
    monkeypatch.setenv("CYGNET_GATEWAY", "x")
    load_example(engine, "freeswan")
    client.app.state.netns = "cygnet-no-such-namespace"

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("cygnet_kernel_readable", ("gateway", "x"))] == 0
    assert got[("cygnet_intent_revision",)] == 1
    assert not [k for k in got if k[0].startswith("cygnet_tunnel_")]


@pytest.fixture
def topo():
    if can_build() is not None:
        pytest.skip(str(can_build()))
    topology = Topology().build()
    try:
        yield topology
    finally:
        topology.destroy()


@pytest.mark.root
def test_configured_tunnel_without_sas_is_reported_down(
    client, engine, monkeypatch, topo
):
    monkeypatch.setenv("CYGNET_GATEWAY", "x")
    load_example(engine, "freeswan")
    assert apply("x", netns=topo.ns("x")).ok
    client.app.state.netns = topo.ns("x")

    got = samples(client.get("/metrics").text)

    tunnel = (("peer", "y"), ("tunnel", "x/y"))
    assert got[("cygnet_kernel_readable", ("gateway", "x"))] == 1
    assert got[("cygnet_tunnel_up", *tunnel)] == 0
    assert got[("cygnet_tunnel_rekeys_total", *tunnel)] == 0
    assert got[("cygnet_tunnel_packets_total", ("direction", "out"), *tunnel)] == 0
    assert got[("cygnet_last_apply_ok", ("gateway", "x"))] == 1
    assert got[("cygnet_applied_revision", ("gateway", "x"))] == 1


@pytest.mark.root
def test_spoofed_cleartext_and_no_state_drops_move_the_counters(
    client, engine, monkeypatch, topo
):
    monkeypatch.setenv("CYGNET_GATEWAY", "x")
    load_example(engine, "freeswan")
    assert apply("x", netns=topo.ns("x")).ok
    client.app.state.netns = topo.ns("x")
    before = samples(client.get("/metrics").text)

    # Clear S<-U frames on the wire from Y's side: X's policy demands ESP.
    x_mac = topo.ip("x", "-br", "link", "show", "out").split()[2]
    topo.exec(
        "y", sys.executable, str(INJECT), "out", x_mac, "10.3.0.2", "10.1.0.2", "20"
    )
    # S->U from behind X: protected, and no SA to carry it.
    sent, received = topo.ping("s", "u", count=3, wait=0.2, interval=0.01)
    after = samples(client.get("/metrics").text)

    spoofed = ("cygnet_spoofed_cleartext_dropped_total",)
    out_no_state = "cygnet_no_state_drops_total", ("direction", "out")
    print(
        f"\nspoofed {before[spoofed]} -> {after[spoofed]}, out no-state "
        f"{before[out_no_state]} -> {after[out_no_state]}; pings {received}/{sent}"
    )
    assert after[spoofed] - before[spoofed] >= 20
    assert (
        after[("cygnet_xfrm_errors_total", ("counter", "XfrmInTmplMismatch"))]
        == (after[spoofed])
    )
    assert after[out_no_state] - before[out_no_state] >= 3
    assert received == 0
