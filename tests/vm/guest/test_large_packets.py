"""Bug 3: large packets through transport-mode connections.

Between X and Y in transport mode: echoes of 1,000 to 8,000 bytes without DF
are fragmented after encryption and arrive whole, with whole replies.  With DF
above the path MTU (m routes X->Y over a 1,280-byte hop), m answers with ICMP
"fragmentation needed", X learns the path MTU, and packets sized to it pass.
The tunnel-mode counterpart: X itself tells S the tunnel's smaller MTU.  Last,
10 MB over TCP through transport mode and through tunnel mode arrive with a
matching SHA-256.
"""

from __future__ import annotations

import re

import pytest

from . import drive
from .capture import IPPROTO_ICMP, Wire
from .topology import ADDRESS, S_NET, T_NET
from .traffic import ping, tcp_transfer

pytestmark = pytest.mark.scenario("large-packets")

SIZES = range(1000, 8001, 1000)
HOP_MTU = 1280
TRANSFER = 10 * 1024 * 1024
ICMP_FRAG_NEEDED = (3, 4)
_MTU = re.compile(r"mtu[ =]+(\d+)")


def _protect_both_ways(gws) -> None:
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


def _xy_clear(wire) -> list:
    return [
        p
        for p in wire.clear_capture.packets()
        if {p.src, p.dst} == {ADDRESS["x"], ADDRESS["y"]}
    ]


def _route_mtu(topo, host: str, dst) -> int | None:
    text = topo.run(host, "ip", "route", "get", str(dst)).stdout
    match = re.search(r"\bmtu (\d+)", text)
    return int(match.group(1)) if match else None


def _frag_needed(packets, src, dst) -> list[int]:
    """The MTUs announced by ICMP frag-needed packets from ``src`` to ``dst``."""
    found = []
    for p in packets:
        if (
            p.proto == IPPROTO_ICMP
            and p.src == src
            and p.dst == dst
            and tuple(p.payload[:2]) == ICMP_FRAG_NEEDED
        ):
            found.append(int.from_bytes(p.payload[6:8], "big"))
    return found


def test_large_transport_mode_echoes_arrive_whole(topo, figures):
    with drive.Gateways(topo) as gws:
        _protect_both_ways(gws)
        with Wire(topo) as wire:
            results = {
                size: ping(topo, "x", ADDRESS["y"], 2, 0.2, size, "-M", "dont")
                for size in SIZES
            }
    figures["replies_by_size"] = {size: r.received for size, r in results.items()}
    figures["reply_bytes_seen"] = sorted(
        {
            int(m)
            for r in results.values()
            for m in re.findall(r"(\d+) bytes from", r.output)
        }
    )
    figures["esp_on_wire"] = wire.esp
    figures["clear_x_y_on_wire"] = len(_xy_clear(wire))
    assert wire.dropped == 0
    for size, result in results.items():
        assert result.received == 2, f"{size} bytes:\n{result.output}"
        assert f"{size + 8} bytes from" in result.output
    assert not _xy_clear(wire), "X<->Y traffic crossed the wire in clear"
    # Every echo over 1,500 bytes is fragmented after encryption: more ESP
    # packets on the wire than echoes.
    assert wire.esp > 4 * len(SIZES)


def test_df_above_the_path_mtu_gets_frag_needed_and_the_mtu_is_learned(topo, figures):
    with drive.Gateways(topo) as gws:
        _protect_both_ways(gws)
        with Wire(topo) as wire:
            # Tunnel mode on the direct path: X itself tells S the tunnel's MTU.
            tunnel_first = ping(topo, "s", ADDRESS["t"], 3, 0.5, 1472, "-M", "do")
            tunnel_mtu = _route_mtu(topo, "s", ADDRESS["t"])
            fit_tunnel = _fitting_payload(tunnel_first, tunnel_mtu)
            tunnel_fits = ping(topo, "s", ADDRESS["t"], 3, 0.2, fit_tunnel, "-M", "do")

            # Transport mode: m becomes the router between X and Y, with a
            # 1,280-byte hop towards Y.
            topo.sysctl(
                "m",
                net__ipv4__ip_forward=1,
                net__ipv4__conf__all__send_redirects=0,
                net__ipv4__conf__out0__send_redirects=0,
            )
            topo.ip("m", f"route add {ADDRESS['y']}/32 dev out0 mtu {HOP_MTU}")
            topo.ip("x", f"route add {ADDRESS['y']}/32 via {ADDRESS['m']}")
            transport_first = ping(topo, "x", ADDRESS["y"], 3, 0.5, 1400, "-M", "do")
            transport_mtu = _route_mtu(topo, "x", ADDRESS["y"])
            fit_transport = _fitting_payload(transport_first, transport_mtu)
            transport_fits = ping(
                topo, "x", ADDRESS["y"], 3, 0.2, fit_transport, "-M", "do"
            )

    packets = wire.clear_capture.packets()
    from_m = _frag_needed(packets, ADDRESS["m"], ADDRESS["x"])
    figures.update(
        transport_frag_needed_from_m=from_m,
        transport_learned_route_mtu=transport_mtu,
        transport_errors_seen_by_ping=transport_first.errors[:3],
        transport_fitting_payload=fit_transport,
        transport_fitting_replies=transport_fits.received,
        tunnel_errors_seen_by_s=tunnel_first.errors[:3],
        tunnel_learned_route_mtu_at_s=tunnel_mtu,
        tunnel_fitting_payload=fit_tunnel,
        tunnel_fitting_replies=tunnel_fits.received,
        clear_s_t_on_wire=len(wire.clear(S_NET, T_NET)),
        clear_x_y_on_wire=len(_xy_clear(wire)),
    )
    assert wire.dropped == 0
    assert from_m and all(mtu == HOP_MTU for mtu in from_m), (
        "m sent no frag-needed to X"
    )
    assert transport_mtu == HOP_MTU, f"X did not learn the path MTU: {transport_mtu}"
    assert transport_fits.received == 3, transport_fits.output
    assert tunnel_first.errors, (
        f"S was not told the tunnel's MTU:\n{tunnel_first.output}"
    )
    assert tunnel_mtu is not None and tunnel_mtu < 1500, (
        f"S learned no MTU: {tunnel_mtu}"
    )
    assert tunnel_fits.received == 3, tunnel_fits.output
    assert not wire.clear(S_NET, T_NET) and not _xy_clear(wire)


def _fitting_payload(first, route_mtu: int | None) -> int:
    """The largest echo payload the learned MTU lets through, per ping's errors."""
    announced = [int(m) for line in first.errors for m in _MTU.findall(line)]
    mtu = min(announced) if announced else route_mtu
    assert mtu, f"no MTU was learned:\n{first.output}"
    return mtu - 28


@pytest.mark.parametrize("mode", ["transport", "tunnel"])
def test_ten_megabytes_over_tcp_arrive_intact(topo, figures, mode):
    src, dst = ("x", "y") if mode == "transport" else ("s", "t")
    with drive.Gateways(topo) as gws:
        _protect_both_ways(gws)
        with Wire(topo) as wire:
            result = tcp_transfer(topo, src, dst, ADDRESS[dst], TRANSFER)
    clear = _xy_clear(wire) if mode == "transport" else wire.clear(S_NET, T_NET)
    figures.update(
        result,
        esp_on_wire=wire.esp,
        clear_on_wire=len(clear),
        clear_capture_dropped=wire.clear_capture.dropped,
    )
    assert wire.clear_capture.dropped == 0
    assert result["bytes_received"] == TRANSFER
    assert result["sha256_match"]
    assert not clear, f"{len(clear)} packets of the transfer crossed in clear"
    assert wire.esp > TRANSFER // 1500
