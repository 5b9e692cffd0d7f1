"""Harness self-test: a tunnel made by hand with ``ip xfrm`` carries S<->T as ESP.

This proves the VM, the topology and the wire capture work before any Cygnet
code is trusted with them: if it fails, every scenario's verdict is suspect.
"""

from __future__ import annotations

import os

import pytest

from .capture import Wire
from .topology import ADDRESS, S_NET, T_NET
from .traffic import ping

pytestmark = pytest.mark.scenario("smoke")

AEAD = "rfc4106(gcm(aes))"


def _hand_made_tunnel(topo) -> None:
    key_xy = "0x" + os.urandom(36).hex()
    key_yx = "0x" + os.urandom(36).hex()
    x, y = ADDRESS["x"], ADDRESS["y"]
    for host, me, peer, local, remote in (
        ("x", x, y, S_NET, T_NET),
        ("y", y, x, T_NET, S_NET),
    ):
        out_tmpl = f"tmpl src {me} dst {peer} proto esp reqid 1 mode tunnel"
        in_tmpl = f"tmpl src {peer} dst {me} proto esp reqid 1 mode tunnel"
        topo.ip(
            host,
            f"xfrm state add src {x} dst {y} proto esp spi 0x1001 reqid 1 "
            f"mode tunnel aead {AEAD} {key_xy} 128",
            f"xfrm state add src {y} dst {x} proto esp spi 0x1002 reqid 1 "
            f"mode tunnel aead {AEAD} {key_yx} 128",
            f"xfrm policy add src {local} dst {remote} dir out {out_tmpl}",
            f"xfrm policy add src {remote} dst {local} dir fwd {in_tmpl}",
            f"xfrm policy add src {remote} dst {local} dir in {in_tmpl}",
        )


def test_hand_made_esp_tunnel_carries_subnet_traffic(topo, figures):
    # Without a tunnel, S<->T crosses the wire in clear: the capture must see it,
    # or its "no cleartext" verdicts later would prove nothing.
    with Wire(topo) as before:
        plain = ping(topo, "s", ADDRESS["t"], count=5, interval=0.1)
    figures["clear_before_tunnel"] = len(before.clear(S_NET, T_NET))
    assert plain.received == 5, plain.output
    assert figures["clear_before_tunnel"] == 10

    _hand_made_tunnel(topo)
    with Wire(topo) as wire:
        result = ping(topo, "s", ADDRESS["t"], count=20, interval=0.05)
    figures.update(
        pings_sent=result.transmitted,
        replies=result.received,
        rtt_avg_ms=result.rtt_avg_ms,
        esp_on_wire=wire.esp,
        clear_s_t_on_wire=len(wire.clear(S_NET, T_NET)),
        capture_dropped=wire.dropped,
    )
    assert result.received == 20, result.output
    assert wire.dropped == 0
    assert figures["clear_s_t_on_wire"] == 0
    assert wire.esp >= 40
