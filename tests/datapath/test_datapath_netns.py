"""Cygnet's datapath on this machine's kernel, with packets between namespaces.

This kernel has XFRM policies but no ESP: a protected pair is dropped here rather
than encrypted (the VM tier shows it as ESP).  What matters is the same on both:
protected traffic never crosses the outside link in clear.
"""

import ipaddress
import sys
import threading
import time
from pathlib import Path

import pytest

from datapath.compiler import compile_gateway
from datapath.intent import SAKey
from datapath.kernel import Kernel
from datapath.objects import Route
from datapath.reconcile import apply, diff

from tests.datapath.intents import broad_protect_on_freeswan, freeswan
from tests.topology import Capture, Topology, can_build

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(can_build() is not None, reason=str(can_build())),
]

INJECT = Path(__file__).resolve().parent.parent / "inject.py"
PROTECTED = "net 10.1.0.0/24 and net 10.3.0.0/24"
CLEAR = "net 10.1.0.0/24 and net 10.2.0.0/24"


@pytest.fixture
def topo():
    topology = Topology().build()
    try:
        yield topology
    finally:
        topology.destroy()


def apply_both(topo, intent):
    results = {}
    for gw in ("x", "y"):
        with Kernel(netns=topo.ns(gw)) as kernel:
            results[gw] = apply(kernel, compile_gateway(intent, gw))
    return results


def test_protected_pair_never_crosses_in_clear_and_exception_does(topo):
    results = apply_both(topo, freeswan())
    assert all(r.ok for r in results.values()), results
    cap = Capture(topo, "x", "out", "icmp")
    u_to_s = topo.ping("u", "s", count=3)
    t_to_s = topo.ping("t", "s", count=3)
    lines = cap.stop()
    assert u_to_s[1] == 0, "without ESP the protected pair must be dropped"
    assert t_to_s == (3, 3), "the T-S exception must pass in clear"
    assert not [l for l in lines if "10.3.0.2" in l], f"U-S leaked in clear: {lines}"
    assert [l for l in lines if "10.2.0.2" in l], "T-S should be seen on the wire"
    print(f"\nU->S received {u_to_s[1]}/{u_to_s[0]}, T->S {t_to_s[1]}/{t_to_s[0]}, "
          f"{len(lines)} cleartext ICMP packets on X-Y, none of them U-S")


def test_spoofed_cleartext_is_dropped(topo):
    apply_both(topo, freeswan())
    y_mac = topo.ip("y", "-br", "link", "show", "out").split()[2]
    before = topo.xfrm_stat("y", "XfrmInTmplMismatch")
    cap = Capture(topo, "y", "in-u", "icmp")
    topo.exec("x", sys.executable, str(INJECT), "out", y_mac, "10.1.0.2", "10.3.0.2", "50")
    reached_u = cap.stop()
    after = topo.xfrm_stat("y", "XfrmInTmplMismatch")
    print(f"\n50 spoofed S->U frames injected on X-Y; XfrmInTmplMismatch on Y "
          f"{before} -> {after}; {len(reached_u)} reached U")
    assert after - before >= 50
    assert reached_u == []


@pytest.mark.parametrize("bypass_first", [False, True])
def test_exception_is_exact_whichever_policy_came_first(topo, bypass_first):
    intent = broad_protect_on_freeswan(bypass_first)
    assert all(r.ok for r in apply_both(topo, intent).values())
    cap = Capture(topo, "x", "out", "icmp")
    t_to_s = topo.ping("t", "s", count=3)
    u_to_s = topo.ping("u", "s", count=3)
    lines = cap.stop()
    assert t_to_s == (3, 3)
    assert u_to_s[1] == 0
    assert not [l for l in lines if "10.3.0.2" in l]


def test_reapply_changes_nothing_and_foreign_policy_survives(topo):
    intent = freeswan()
    foreign = ["xfrm", "policy", "add", "src", "10.9.0.0/24", "dst", "10.8.0.0/24",
               "dir", "out", "action", "block"]
    topo.ip("x", *foreign)
    apply_both(topo, intent)
    with Kernel(netns=topo.ns("x")) as kernel:
        compiled = compile_gateway(intent, "x")
        assert diff(kernel, compiled).empty
        again = apply(kernel, compiled)
        assert again.ok and again.applied == 0
        mine = [p for p in kernel.policies() if p.owned]
        others = [p for p in kernel.policies() if not p.owned]
    assert len(mine) == len(compiled.policies)
    assert [str(p.selector.src) for p in others] == ["10.9.0.0/24"]
    # Removing everything Cygnet owns still leaves the hand-made policy alone.
    with Kernel(netns=topo.ns("x")) as kernel:
        empty = compile_gateway(freeswan(), "x")
        empty = type(empty)(empty.gateway, empty.revision)
        assert apply(kernel, empty).ok
        assert [p.owned for p in kernel.policies()] == [False]


def test_route_change_under_traffic_loses_nothing(topo):
    apply_both(topo, freeswan())
    routes = [
        Route(ipaddress.ip_network("10.1.0.0/24"), "out2", 254,
              ipaddress.ip_address("198.51.100.1")),
        Route(ipaddress.ip_network("10.1.0.0/24"), "out", 254,
              ipaddress.ip_address("192.0.2.1")),
    ]
    stop = threading.Event()
    changes = 0

    def flap():
        nonlocal changes
        with Kernel(netns=topo.ns("y")) as kernel:
            while not stop.is_set():
                kernel.update(routes[changes % 2])
                changes += 1
                time.sleep(0.01)

    flapper = threading.Thread(target=flap)
    flapper.start()
    try:
        sent, received = topo.ping("t", "s", count=1000, interval=0.005, wait=2)
    finally:
        stop.set()
        flapper.join()
    shown = topo.ip("y", "route", "show", "10.1.0.0/24")
    print(f"\n{changes} route replacements under 1,000 pings at 5 ms: "
          f"{received}/{sent} received")
    assert changes > 50
    assert (sent, received) == (1000, 1000)
    assert len(shown.strip().splitlines()) == 1


def test_apply_failing_half_way_leaves_protected_pairs_dropped(topo):
    keys = (SAKey("x", "y", 0x1000, bytes(36), 1), SAKey("y", "x", 0x2000, bytes(36), 1))
    intent = freeswan(keys=keys)
    results = apply_both(topo, intent)
    failed = results["x"]
    assert not failed.ok
    assert "CONFIG_INET_ESP" in str(failed.errors[0])
    cap = Capture(topo, "x", "out", "icmp")
    u_to_s = topo.ping("u", "s", count=3)
    lines = cap.stop()
    assert u_to_s[1] == 0
    assert not [l for l in lines if "10.3.0.2" in l]
    with Kernel(netns=topo.ns("x")) as kernel:
        protecting = [p for p in kernel.policies() if p.owned and p.templates]
    assert protecting, "the ESP-requiring policies must stay in place"
