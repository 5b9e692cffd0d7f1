"""The state of one gateway: its last apply and each of its tunnels.

Read from the database (what the gateway last reported) and, where it can be
read, from the kernel (which SAs exist and what they carried).  A tunnel is

``configured``
    in the intent, but this gateway has not applied it yet (or its kernel could
    not be read);
``down``
    applied, but the kernel lacks an SA in at least one direction;
``idle``
    SAs both ways, nothing carried yet;
``established``
    SAs both ways and packets through them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import Engine

log = logging.getLogger(__name__)

# /proc/net/xfrm_stat counters an operator watches, with what they mean.
DROP_COUNTERS = {
    "XfrmInTmplMismatch": "spoofed cleartext dropped",
    "XfrmInNoStates": "inbound dropped: no SA",
    "XfrmOutNoStates": "outbound dropped: no SA",
    "XfrmOutPolBlock": "outbound dropped by a drop policy",
    "XfrmInPolBlock": "inbound dropped by a drop policy",
}


@dataclass
class TunnelReport:
    name: str
    peer: str
    reqid: int
    state: str
    rekeys: int
    bytes_in: int = 0
    bytes_out: int = 0
    packets_in: int = 0
    packets_out: int = 0


@dataclass
class GatewayReport:
    gateway: str
    known: bool
    revision: int
    applied_revision: int | None = None
    last_apply_ok: bool | None = None
    last_apply_at: datetime | None = None
    last_apply_message: str | None = None
    kernel_error: str | None = None
    tunnels: list[TunnelReport] = field(default_factory=list)
    drops: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def render(self) -> str:
        if not self.known:
            return f"gateway {self.gateway} is not in the intent"
        if self.applied_revision is None:
            head = f"gateway {self.gateway}: has not applied the intent yet"
        else:
            outcome = "ok" if self.last_apply_ok else "FAILED"
            head = (
                f"gateway {self.gateway}: last apply {outcome} at "
                f"{self.last_apply_at:%Y-%m-%d %H:%M:%S}Z; kernel holds revision "
                f"{self.applied_revision}, intent is at {self.revision}"
            )
        lines = [head]
        if self.last_apply_ok is False and self.last_apply_message:
            lines.append(f"  {self.last_apply_message}")
        if self.kernel_error:
            lines.append(f"  the kernel could not be read: {self.kernel_error}")
        for t in self.tunnels:
            lines.append(
                f"  tunnel {t.name} (peer {t.peer}, reqid {t.reqid}): {t.state}; "
                f"in {t.packets_in} pkts/{t.bytes_in} B, "
                f"out {t.packets_out} pkts/{t.bytes_out} B; {t.rekeys} rekey(s)"
            )
        if not self.tunnels:
            lines.append("  no tunnels")
        for counter, value in self.drops.items():
            lines.append(f"  {DROP_COUNTERS[counter]} ({counter}): {value}")
        return "\n".join(lines)


def tunnel_state(applied: bool, ways: dict[str, list[int]] | None) -> str:
    if not applied or ways is None:
        return "configured"
    if "in" not in ways or "out" not in ways:
        return "down"
    if ways["in"][1] + ways["out"][1] == 0:
        return "idle"
    return "established"


def gateway_report(
    engine: Engine, gateway: str, netns: str | None = None
) -> GatewayReport:
    """What the database and the kernel say about ``gateway`` now."""
    from app.metrics import read_gateway, read_kernel
    from datapath.errors import KernelError

    facts = read_gateway(engine, gateway)
    report = GatewayReport(gateway, facts.address is not None, facts.revision)
    if not report.known:
        return report
    status = facts.status
    if status is not None:
        report.applied_revision = status.applied_revision
        report.last_apply_ok = status.ok
        report.last_apply_at = status.attempted_at
        report.last_apply_message = status.message
    applied = status is not None and status.applied_at is not None

    carried = None
    try:
        kernel = read_kernel(facts.address, netns)
        carried = kernel.carried
        report.drops = {c: kernel.xfrm_stat.get(c, 0) for c in DROP_COUNTERS}
    except (KernelError, OSError) as exc:
        report.kernel_error = str(exc)
        log.debug("gateway %s: kernel not readable: %s", gateway, exc)

    for row in facts.tunnels:
        ways = None if carried is None else carried.get(row.reqid, {})
        t = TunnelReport(
            row.name, row.peer, row.reqid, tunnel_state(applied, ways), row.rekeys
        )
        if ways:
            t.bytes_in, t.packets_in = ways.get("in", (0, 0))
            t.bytes_out, t.packets_out = ways.get("out", (0, 0))
        report.tunnels.append(t)
    return report
