"""Bug 8: two subnets behind one gateway, one encrypted to S and one in clear.

FreeS/WAN could only do this with manual keying because the two connections
shared a route.  Cygnet compiles each policy to its own selectors, ordered by
specificity, so U<->S goes as ESP while T<->S crosses in clear, in policy-based
and route-based mode, and whichever policy was created first.

Two shapes: siblings (protect S-U, bypass S-T) and a carve-out (protect S with
all of 10.2.0.0/15 behind Y, bypass the more specific S-T inside it).
"""

from __future__ import annotations

import ipaddress

import pytest

from datapath import reconcile

from . import drive
from .capture import Wire
from .topology import ADDRESS, S_NET, T_NET, U_NET
from .traffic import ping

pytestmark = pytest.mark.scenario("exceptions")

PINGS = 10
BEHIND_Y = ipaddress.ip_network("10.2.0.0/15")


def _policies(shape: str) -> tuple:
    if shape == "siblings":
        protect = drive.between("s-u", "s", "u")
    else:
        protect = drive.policy("s-behind-y", S_NET, BEHIND_Y, "x", "y")
    return protect, drive.between("s-t", "s", "t", action="bypass")


def _look_at_the_wire(topo) -> dict:
    with Wire(topo) as wire:
        us = ping(topo, "u", ADDRESS["s"], count=PINGS, interval=0.05)
        ts = ping(topo, "t", ADDRESS["s"], count=PINGS, interval=0.05)
    return {
        "u_s_replies": us.received,
        "t_s_replies": ts.received,
        "u_s_clear_on_wire": len(wire.clear(U_NET, S_NET)),
        "t_s_clear_on_wire": len(wire.clear(T_NET, S_NET)),
        "esp_on_wire": wire.esp,
        "capture_dropped": wire.dropped,
    }


def _kernel_objects(gws) -> dict[str, list[str]]:
    return {
        name: sorted(str(o) for o in reconcile.current_objects(kernel))
        for name, kernel in gws.kernels.items()
    }


@pytest.mark.parametrize(
    "route_based", [False, True], ids=["policy-based", "route-based"]
)
@pytest.mark.parametrize("shape", ["siblings", "carve-out"])
def test_u_s_encrypted_and_t_s_in_clear_whichever_policy_came_first(
    topo, figures, shape, route_based
):
    protect, bypass = _policies(shape)
    keyring = drive.Keyring.both_ways(("x", "y"))
    seen = {}
    with drive.Gateways(topo) as gws:
        for order, first, second in (
            ("protect-first", protect, bypass),
            ("bypass-first", bypass, protect),
        ):
            gws.apply(drive.intent([first], keyring, route_based=route_based))
            gws.apply(drive.intent([first, second], keyring, route_based=route_based))
            figures[order] = wire = _look_at_the_wire(topo)
            seen[order] = _kernel_objects(gws)

            assert wire["capture_dropped"] == 0
            assert wire["u_s_replies"] == PINGS, f"{order}: U<->S lost pings"
            assert wire["t_s_replies"] == PINGS, f"{order}: T<->S lost pings"
            assert wire["u_s_clear_on_wire"] == 0, f"{order}: U<->S leaked in clear"
            assert wire["t_s_clear_on_wire"] == 2 * PINGS, (
                f"{order}: T<->S not in clear"
            )
            assert wire["esp_on_wire"] >= 2 * PINGS, f"{order}: too little ESP"

            # Tear everything down before the other order re-creates it.
            gws.apply(drive.intent([], route_based=route_based))
            left = {name: drive.owned_counts(k) for name, k in gws.kernels.items()}
            assert all(not any(c.values()) for c in left.values()), left

    figures["kernel_objects_per_gateway"] = {
        n: len(o) for n, o in seen["protect-first"].items()
    }
    figures["same_kernel_objects_either_order"] = (
        seen["protect-first"] == seen["bypass-first"]
    )
    assert seen["protect-first"] == seen["bypass-first"]
