"""Bug 7: a route to a protected subnet could only be deleted and added again,
leaving a window with no route.

T gets a second gateway, y2, and the intent moves T from behind Y to behind y2
and back, ``MOVES`` times, under a steady one-way UDP flow S->T.  On X that
moves the route to T in Cygnet's table from Y's xfrm interface to y2's: the
apply must replace it in place (an ``update`` step, ``ip route replace``), and
no datagram may be lost or cross the wire in clear.  Each move applies y2's side
first (it starts accepting), then X, then Y (it stops).

A control makes the same kind of change the FreeS/WAN way, delete then add
with a short gap, to show the flow does detect a window.
"""

from __future__ import annotations

import ipaddress
import time

import pytest

from datapath.compiler import DEFAULT_ROUTE_TABLE
from datapath.intent import Gateway
from datapath.objects import Route

from . import drive
from .capture import Wire
from .topology import ADDRESS, S_NET, T_NET
from .traffic import UdpFlow

pytestmark = pytest.mark.scenario("route-replace")

MOVES = 10
Y2 = ipaddress.ip_address("192.0.2.3")
V_NET = ipaddress.ip_network("10.4.0.0/24")  # y2's own subnet: keeps x-y2 up
CONTROL_GAP = 0.2


def _add_y2(topo) -> None:
    topo.add_outside_host(
        "y2",
        Y2,
        "link add d0 type dummy",
        "link set d0 up",
        f"addr add {V_NET.network_address + 1}/24 dev d0",
        f"route add {S_NET} via {ADDRESS['x']}",
    )
    topo.ip(
        "t",
        f"link add eth1 type veth peer name t0 netns {topo.ns('y2')}",
        "link set eth1 up",
    )
    topo.ip("y2", "link set t0 up", f"route add {ADDRESS['t']}/32 dev t0")
    topo.sysctl("y2", net__ipv4__ip_forward=1)


def _intent(t_behind: str, keyring) -> drive.Intent:
    policies = [
        drive.policy("s-t", S_NET, T_NET, "x", t_behind),
        drive.between("s-u", "s", "u"),
        drive.policy("s-v", S_NET, V_NET, "x", "y2"),
    ]
    return drive.intent(
        policies, keyring, route_based=True, extra_gateways=(Gateway("y2", Y2),)
    )


def _route_to_t(gws) -> str:
    return " ".join(str(r) for r in gws.kernels["x"].routes() if r.dst == T_NET)


def test_moving_the_route_to_t_under_traffic_loses_nothing(topo, figures):
    _add_y2(topo)
    keyring = drive.Keyring.both_ways(("x", "y"), ("x", "y2"))
    route_steps = []
    routes_seen = set()
    with drive.Gateways(topo, ("x", "y", "y2")) as gws:
        gws.apply(_intent("y", keyring))
        with UdpFlow(topo, "s", "t", ADDRESS["t"]) as flow, Wire(topo) as wire:
            flow.wait_until_flowing()
            for move in range(MOVES):
                new, old = ("y2", "y") if move % 2 == 0 else ("y", "y2")
                wanted = _intent(new, keyring)
                gws.apply(wanted, new)
                result = gws.apply(wanted, "x")["x"]
                gws.apply(wanted, old)
                route_steps += [
                    s.op for s in result.plan.steps if isinstance(s.obj, Route)
                ]
                routes_seen.add(_route_to_t(gws))
                time.sleep(0.5)
            flow.stop()
        figures.update(
            moves=MOVES,
            routes_to_t_seen_on_x=sorted(routes_seen),
            route_steps_on_x=sorted(set(route_steps)),
            datagrams_sent=flow.sent,
            datagrams_lost=len(flow.lost),
            lost_seqs=flow.lost[:20],
            send_errors=flow.send_errors,
            clear_s_t_on_wire=len(wire.clear(S_NET, T_NET)),
            esp_on_wire=wire.esp,
        )

        # Control: the same route deleted and added again, with a gap.
        table = DEFAULT_ROUTE_TABLE
        dev = next(r.dev for r in gws.kernels["x"].routes() if r.dst == T_NET)
        with (
            UdpFlow(topo, "s", "t", ADDRESS["t"]) as control,
            Wire(topo) as control_wire,
        ):
            control.wait_until_flowing()
            for _ in range(3):
                topo.ip("x", f"route del {T_NET} table {table}")
                time.sleep(CONTROL_GAP)
                topo.ip("x", f"route add {T_NET} dev {dev} table {table} proto 151")
                time.sleep(0.5)
            control.stop()
        figures.update(
            control_delete_add_lost=len(control.lost),
            control_clear_s_t_on_wire=len(control_wire.clear(S_NET, T_NET)),
        )

    assert wire.dropped == 0 and control_wire.dropped == 0
    assert len(routes_seen) == 2, f"the route to T did not move: {routes_seen}"
    assert set(route_steps) == {"update"}, (
        f"routes changed by {set(route_steps)}, not replaced"
    )
    assert flow.sent > 100 * MOVES
    assert not flow.lost, f"{len(flow.lost)} datagrams lost while the route moved"
    assert not wire.clear(S_NET, T_NET), "S->T crossed the wire in clear"
    assert control.lost, "the control's delete/add gap lost nothing: the flow is blind"
    assert not control_wire.clear(S_NET, T_NET), "the gap leaked S->T in clear"
