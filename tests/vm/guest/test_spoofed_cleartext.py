"""Bug 5: cleartext claiming to come from S, sent to U, must not get through Y.

While U<->S runs over ESP, the intruder m on the outside link sends UDP with a
source in S and a destination in U straight to Y.  Y's inbound policies require
ESP for S->U, so the packets are dropped and counted (``XfrmInTmplMismatch``
with policy-based tunnels, ``XfrmInPolBlock`` for the block policies that guard
route-based ones).  A control run before Cygnet is applied shows the same
injection does reach U, so the test can tell the difference.
"""

from __future__ import annotations

import time

import pytest

from . import drive
from .capture import IPPROTO_ICMP, Wire
from .topology import ADDRESS, S_NET, U_NET
from .traffic import Flow, netns_socket

pytestmark = pytest.mark.scenario("spoofed-cleartext")

SPOOF_PORT = 7777
INJECTED = 100
DROP_COUNTERS = (
    "XfrmInTmplMismatch",
    "XfrmInPolBlock",
    "XfrmInNoPols",
    "XfrmFwdHdrError",
)


class Intruder:
    """m sends UDP from S's host address to U, with Y as its next hop."""

    def __init__(self, topo):
        topo.ip(
            "m",
            f"addr add {ADDRESS['s']}/32 dev lo",
            f"route add {U_NET} via {ADDRESS['y']}",
        )
        self.tx = netns_socket(topo, "m")
        self.tx.bind((str(ADDRESS["s"]), 0))
        self.rx = netns_socket(topo, "u")
        self.rx.bind(("0.0.0.0", SPOOF_PORT))
        self.rx.settimeout(0.5)

    def inject(self, count: int, interval: float = 0.01) -> int:
        """Send ``count`` datagrams; return how many reached U."""
        for seq in range(count):
            self.tx.sendto(b"spoofed %d" % seq, (str(ADDRESS["u"]), SPOOF_PORT))
            time.sleep(interval)
        arrived = 0
        while True:
            try:
                self.rx.recv(64)
            except TimeoutError:
                return arrived
            arrived += 1

    def close(self) -> None:
        self.tx.close()
        self.rx.close()


@pytest.mark.parametrize(
    "route_based", [False, True], ids=["policy-based", "route-based"]
)
def test_spoofed_cleartext_from_s_to_u_is_dropped_at_y(topo, figures, route_based):
    intruder = Intruder(topo)
    try:
        figures["control_reached_u_without_cygnet"] = intruder.inject(20)
        assert figures["control_reached_u_without_cygnet"] == 20, (
            "the injection is broken"
        )

        keyring = drive.Keyring.both_ways(("x", "y"))
        with drive.Gateways(topo) as gws:
            gws.apply(
                drive.intent(
                    [drive.between("s-u", "s", "u")], keyring, route_based=route_based
                )
            )
            before = gws.kernels["y"].xfrm_stats()
            with (
                Flow(topo, "u", ADDRESS["s"], interval=0.02) as flow,
                Wire(topo) as wire,
            ):
                flow.wait_until_flowing()
                reached = intruder.inject(INJECTED)
                result = flow.stop()
            after = gws.kernels["y"].xfrm_stats()
    finally:
        intruder.close()

    spoofed_on_wire = [p for p in wire.clear(S_NET, U_NET) if p.dport == SPOOF_PORT]
    real_in_clear = [p for p in wire.clear(S_NET, U_NET) if p.proto == IPPROTO_ICMP]
    moved = {name: after.get(name, 0) - before.get(name, 0) for name in DROP_COUNTERS}
    figures.update(
        injected=INJECTED,
        spoofed_seen_on_wire=len(spoofed_on_wire),
        spoofed_reached_u=reached,
        y_drop_counters_moved=moved,
        xfrm_stats_available=bool(after),
        flow_u_s_sent=result.transmitted,
        flow_u_s_lost=len(flow.lost),
        u_s_icmp_in_clear_on_wire=len(real_in_clear),
        esp_on_wire=wire.esp,
        capture_dropped=wire.dropped,
    )
    assert wire.dropped == 0
    assert len(spoofed_on_wire) == INJECTED, (
        "the spoofed packets never reached Y's link"
    )
    assert reached == 0, f"{reached} spoofed packets reached U"
    assert not real_in_clear, "U<->S traffic crossed the wire in clear"
    assert not flow.lost, f"the U->S flow lost {len(flow.lost)} packets"
    assert after, "the guest kernel keeps no XFRM statistics (CONFIG_XFRM_STATISTICS)"
    assert sum(moved.values()) >= INJECTED, (
        f"Y's drop counters did not count them: {moved}"
    )
