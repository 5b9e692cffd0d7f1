"""Bug 1: FreeS/WAN had a fixed number of IPsec interfaces (four).

Cygnet gives each route-based tunnel its own xfrm interface, as many as there
are peers.  X gets 64 route-based tunnels, one interface each; a sample of the
peers exist as real namespaces on the outside link, and S's traffic to each of
them crosses as ESP.  Then the reconciler creates 1,000 xfrm interfaces in one
apply and removes them in the next, leaving the namespace as it was.
"""

from __future__ import annotations

import ipaddress
import time

import pytest

from datapath import reconcile
from datapath.compiler import interface_name
from datapath.intent import Gateway
from datapath.objects import XfrmInterface
from datapath.plan import CompiledPlan

from . import drive
from .capture import Wire
from .topology import ADDRESS, S_NET
from .traffic import ping

pytestmark = pytest.mark.scenario("interfaces")

PEERS = 64
SAMPLE = (1, 22, 43, 64)
MANY = 1000
PINGS = 5
PEER_NETS = ipaddress.ip_network("10.100.0.0/16")


def _peer(i: int) -> tuple[str, ipaddress.IPv4Address, ipaddress.IPv4Network]:
    return (
        f"p{i}",
        ipaddress.ip_address(f"192.0.2.{100 + i}"),
        ipaddress.ip_network(f"10.100.{i}.0/24"),
    )


def _star(peers, keyring=None):
    """X protecting S with every peer's subnet, route-based on X."""
    policies = [
        drive.policy(f"s-{name}", S_NET, net, "x", name) for name, _, net in peers
    ]
    extra = tuple(Gateway(name, addr) for name, addr, _ in peers)
    return drive.intent(policies, keyring, route_based=True, extra_gateways=extra)


def _xfrm_links(topo) -> int:
    out = topo.run("x", "ip", "-o", "link", "show", "type", "xfrm").stdout
    return len(out.splitlines())


def _all_links(topo) -> int:
    return len(topo.run("x", "ip", "-o", "link", "show").stdout.splitlines())


def test_sixty_four_route_based_peers_each_get_an_interface(topo, figures):
    peers = [_peer(i) for i in range(1, PEERS + 1)]
    for i in SAMPLE:
        name, addr, net = _peer(i)
        topo.add_outside_host(
            name,
            addr,
            "link add d0 type dummy",
            "link set d0 up",
            f"addr add {net.network_address + 1}/24 dev d0",
            f"route add {S_NET} via {ADDRESS['x']}",
        )
    keyring = drive.Keyring.both_ways(*[("x", name) for name, _, _ in peers])
    wanted = _star(peers, keyring)

    with drive.Gateways(topo, ("x", *[f"p{i}" for i in SAMPLE])) as gws:
        started = time.monotonic()
        gws.apply(wanted, "x")
        apply_x_s = time.monotonic() - started
        gws.apply(wanted, *[f"p{i}" for i in SAMPLE])
        counts = drive.owned_counts(gws.kernels["x"])
        with Wire(topo) as wire:
            replies = {}
            for i in SAMPLE:
                _, _, net = _peer(i)
                replies[f"p{i}"] = ping(
                    topo, "s", net.network_address + 1, PINGS, 0.05
                ).received
    clear = [p for p in wire.clear_capture.packets() if p.between(S_NET, PEER_NETS)]
    figures.update(
        peers=PEERS,
        xfrm_interfaces_on_x=_xfrm_links(topo),
        owned_on_x=counts,
        apply_x_seconds=round(apply_x_s, 2),
        sample_replies=replies,
        esp_on_wire=wire.esp,
        clear_s_peers_on_wire=len(clear),
    )
    assert wire.dropped == 0
    assert figures["xfrm_interfaces_on_x"] == PEERS
    assert counts["interfaces"] == PEERS and counts["routes"] == PEERS
    assert counts["states"] == 2 * PEERS
    assert all(n == PINGS for n in replies.values()), replies
    assert not clear, f"{len(clear)} packets to the peers crossed in clear"
    assert wire.esp >= 2 * PINGS * len(SAMPLE)


def test_a_thousand_xfrm_interfaces_come_and_go_cleanly(topo, figures):
    # Interfaces alone, through the reconciler: a thousand whole tunnels cost
    # 17,000 policies and about 270 s under TCG, which the tier cannot afford;
    # the 64-peer test above covers whole tunnels.
    plan = CompiledPlan(
        "x",
        1,
        interfaces=tuple(
            XfrmInterface(interface_name(if_id), if_id) for if_id in range(1, MANY + 1)
        ),
    )
    with drive.Gateways(topo, ("x",)) as gws:
        x = gws.kernels["x"]
        before = {
            "xfrm_links": _xfrm_links(topo),
            "links": _all_links(topo),
            **drive.owned_counts(x),
        }
        created = reconcile.apply(x, plan)
        during = {
            "xfrm_links": _xfrm_links(topo),
            "links": _all_links(topo),
            **drive.owned_counts(x),
        }
        up = topo.run("x", "ip", "-o", "link", "show", "type", "xfrm", "up").stdout
        removed = reconcile.apply(x, CompiledPlan("x", 2))
        after = {
            "xfrm_links": _xfrm_links(topo),
            "links": _all_links(topo),
            **drive.owned_counts(x),
        }
    figures.update(
        before=before,
        with_1000=during,
        after=after,
        interfaces_up=len(up.splitlines()),
        create_seconds=round(created.seconds, 1),
        remove_seconds=round(removed.seconds, 1),
    )
    assert created.ok and removed.ok, (created.summary(), removed.summary())
    assert during["xfrm_links"] == before["xfrm_links"] + MANY
    assert during["interfaces"] == MANY
    assert figures["interfaces_up"] == MANY
    assert after == before
