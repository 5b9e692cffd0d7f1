"""Bug 2: KLIPS could not cope with IP packets carrying IP options.

ICMP echoes with record-route and with timestamp options, and UDP with a
router-alert option, cross the S<->T tunnel (tunnel mode) and the X<->Y
transport-mode SA.  A capture at the receiver shows the options arrived, the
UDP receiver reads them back through ``IP_RECVOPTS`` byte for byte, and the
replies come back.  The outside link shows no cleartext for either pair.
"""

from __future__ import annotations

import select
import socket

import pytest

from . import drive
from .capture import IPPROTO_ESP, IPPROTO_ICMP, IPPROTO_UDP, Capture, Wire
from .topology import ADDRESS, S_NET, T_NET
from .traffic import netns_socket, ping

pytestmark = pytest.mark.scenario("ip-options")

IPOPT_RR, IPOPT_TS, IPOPT_RA = 7, 68, 148
ROUTER_ALERT = bytes([IPOPT_RA, 4, 0, 0])
IP_RECVOPTS = getattr(socket, "IP_RECVOPTS", 6)
PINGS = 3
UDP_PORT = 9000

# (sender, receiver, receiver's interface) for each mode.
PATHS = {
    "tunnel": ("s", "t", "eth0"),
    "transport": ("x", "y", "out0"),
}


def _setup(topo, gws) -> None:
    policies = [
        drive.between("s-t", "s", "t"),
        drive.policy(
            "x-y",
            f"{ADDRESS['x']}/32",
            f"{ADDRESS['y']}/32",
            "x",
            "y",
            mode="transport",
        ),
    ]
    keyring = drive.Keyring.both_ways(("x", "y"), modes=("tunnel", "transport"))
    gws.apply(drive.intent(policies, keyring))


def _udp_with_router_alert(topo, sender: str, receiver: str) -> dict:
    """Send UDP carrying a router-alert option; the receiver echoes it back with
    the options it received.  Return what each end saw."""
    server = netns_socket(topo, receiver)
    server.setsockopt(socket.IPPROTO_IP, IP_RECVOPTS, 1)
    server.bind(("0.0.0.0", UDP_PORT))
    client = netns_socket(topo, sender)
    client.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, ROUTER_ALERT)
    client.setsockopt(socket.IPPROTO_IP, IP_RECVOPTS, 1)
    client.settimeout(10)
    seen = {"at_receiver": [], "replies": 0, "reply_options": []}
    try:
        for n in range(PINGS):
            client.sendto(b"options %d" % n, (str(ADDRESS[receiver]), UDP_PORT))
            if not select.select([server], [], [], 10)[0]:
                continue
            data, ancillary, _, peer = server.recvmsg(256, 256)
            opts = b"".join(d for lvl, kind, d in ancillary if kind == IP_RECVOPTS)
            seen["at_receiver"].append(opts.hex())
            server.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, ROUTER_ALERT)
            server.sendto(data, peer)
            reply, ancillary, _, _ = client.recvmsg(256, 256)
            if reply == data:
                seen["replies"] += 1
                seen["reply_options"].append(
                    b"".join(
                        d for lvl, kind, d in ancillary if kind == IP_RECVOPTS
                    ).hex()
                )
    finally:
        server.close()
        client.close()
    return seen


def _recorded_route(output: str) -> list[str]:
    """The addresses of the first record-route block ping printed."""
    route: list[str] = []
    for line in output.splitlines():
        if line.startswith("RR:"):
            route = line[3:].split()
        elif route and line.startswith("\t") and line.strip():
            route += line.split()
        elif route:
            break
    return route


@pytest.mark.parametrize("mode", ["tunnel", "transport"])
def test_ip_options_cross_the_sa_intact_and_replies_come_back(topo, figures, mode):
    sender, receiver, dev = PATHS[mode]
    dst = ADDRESS[receiver]
    with drive.Gateways(topo) as gws:
        _setup(topo, gws)
        # In tunnel mode the receiver's link carries the inner packets; in
        # transport mode the options stay in the ESP packet's own header.
        at_receiver = Capture(topo, receiver, dev, bpf="ip[0] & 0xf > 5")
        with Wire(topo) as wire, at_receiver:
            rr = ping(topo, sender, dst, PINGS, 0.2, None, "-R")
            ts = ping(topo, sender, dst, PINGS, 0.2, None, "-T", "tsonly")
            udp = _udp_with_router_alert(topo, sender, receiver)

    inner = IPPROTO_ICMP if mode == "tunnel" else IPPROTO_ESP
    arrived = [
        p for p in at_receiver.packets() if p.dst == dst and p.src == ADDRESS[sender]
    ]
    option_kinds = [
        kind
        for p in arrived
        if p.proto in (inner, IPPROTO_ESP)
        for kind in p.option_types
    ]
    udp_options = [
        p.options.hex()
        for p in arrived
        if p.proto in (IPPROTO_UDP, IPPROTO_ESP) and p.option_types == [IPOPT_RA]
    ]
    if mode == "tunnel":
        clear = wire.clear(S_NET, T_NET)
    else:
        clear = [
            p
            for p in wire.clear_capture.packets()
            if {p.src, p.dst} == {ADDRESS["x"], ADDRESS["y"]}
        ]
    recorded = _recorded_route(rr.output)
    figures.update(
        record_route_replies=rr.received,
        recorded_route=recorded,
        timestamp_replies=ts.received,
        timestamp_lines=sum("TS:" in line for line in ts.output.splitlines()),
        packets_with_rr_at_receiver=option_kinds.count(IPOPT_RR),
        packets_with_ts_at_receiver=option_kinds.count(IPOPT_TS),
        packets_with_ra_at_receiver=udp_options,
        receiver_link_carries="inner packets" if mode == "tunnel" else "ESP",
        udp_options_read_by_receiver=udp["at_receiver"],
        udp_replies=udp["replies"],
        udp_reply_options=udp["reply_options"],
        clear_on_wire=len(clear),
        esp_on_wire=wire.esp,
    )
    assert wire.dropped == 0 and at_receiver.dropped == 0
    assert rr.received == PINGS, rr.output
    assert recorded, f"no recorded route in the replies:\n{rr.output}"
    assert ts.received == PINGS, ts.output
    assert figures["timestamp_lines"] >= 1, ts.output
    assert option_kinds.count(IPOPT_RR) == PINGS
    assert option_kinds.count(IPOPT_TS) == PINGS
    assert udp_options == [ROUTER_ALERT.hex()] * PINGS
    assert udp["at_receiver"] == [ROUTER_ALERT.hex()] * PINGS
    assert udp["replies"] == PINGS
    assert udp["reply_options"] == [ROUTER_ALERT.hex()] * PINGS
    assert not clear, f"{len(clear)} packets crossed the wire in clear"
    assert wire.esp >= 6 * PINGS
