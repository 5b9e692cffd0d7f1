"""The dashboard's facts: every gateway and tunnel, read in a few queries.

Only this appliance's own gateway (``CYGNET_GATEWAY``) has a kernel to read,
through :func:`app.services.report.gateway_report`; the other gateways show
what they last recorded in the shared database, and their tunnels stay
``configured`` here because their SAs live in other kernels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import aliased

from app.db import read_session
from app.models import Gateway, GatewayStatus, SaKey, Subnet, Tunnel
from app.services.audit import current_revision
from app.services.snapshot import collector_paused

log = logging.getLogger(__name__)

STATES = ("established", "idle", "down", "configured")


@dataclass
class TunnelLine:
    name: str
    a: str
    b: str
    reqid: int
    state: str = "configured"
    bytes_in: int = 0
    bytes_out: int = 0
    packets_in: int = 0
    packets_out: int = 0
    rekeys: int = 0
    last_rekey: datetime | None = None


@dataclass
class GatewayLine:
    name: str
    address: str
    managed: bool
    subnets: int
    status: GatewayStatus | None = None


@dataclass
class Overview:
    revision: int
    local: str | None
    gateways: list[GatewayLine] = field(default_factory=list)
    tunnels: list[TunnelLine] = field(default_factory=list)
    drops: dict[str, int] = field(default_factory=dict)
    kernel_error: str | None = None

    def states(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for tunnel in self.tunnels:
            counts[tunnel.state] += 1
        return counts

    def first_gateways(self, limit: int | None) -> list[GatewayLine]:
        """Gateways whose last apply failed or is due first, then the rest."""
        ranked = sorted(
            self.gateways, key=lambda g: -_gateway_trouble(g, self.revision)
        )
        return ranked if limit is None else ranked[:limit]

    def first_tunnels(self, limit: int | None) -> list[TunnelLine]:
        """Down tunnels first, then configured, idle and established ones."""
        ranked = sorted(self.tunnels, key=lambda t: ATTENTION.index(t.state))
        return ranked if limit is None else ranked[:limit]


# The order in which the dashboard lists tunnels: what needs an operator first.
ATTENTION = ("down", "configured", "idle", "established")


def _gateway_trouble(line: GatewayLine, revision: int) -> int:
    status = line.status
    if status is None or not line.managed:
        return 0
    if not status.ok:
        return 2
    return 1 if status.applied_revision < revision else 0


def read_overview(
    engine: Engine, local: str | None, netns: str | None = None
) -> Overview:
    with read_session(engine) as session, collector_paused():
        overview = Overview(current_revision(session), local)
        subnet_counts = dict(
            session.execute(
                select(Subnet.gateway_id, func.count()).group_by(Subnet.gateway_id)
            ).all()
        )
        statuses = {s.gateway_id: s for s in session.scalars(select(GatewayStatus))}
        for id_, name, address, managed in session.execute(
            select(Gateway.id, Gateway.name, Gateway.address, Gateway.managed).order_by(
                Gateway.position
            )
        ):
            overview.gateways.append(
                GatewayLine(
                    name, address, managed, subnet_counts.get(id_, 0), statuses.get(id_)
                )
            )
        keys = {
            tunnel_id: (generation, created)
            for tunnel_id, generation, created in session.execute(
                select(
                    SaKey.tunnel_id,
                    func.max(SaKey.generation),
                    func.max(SaKey.created_at),
                ).group_by(SaKey.tunnel_id)
            )
        }
        a, b = aliased(Gateway), aliased(Gateway)
        for tunnel_id, reqid, a_name, b_name in session.execute(
            select(Tunnel.id, Tunnel.reqid, a.name, b.name)
            .join(a, Tunnel.gateway_a_id == a.id)
            .join(b, Tunnel.gateway_b_id == b.id)
            .order_by(a.name, b.name)
        ):
            first, second = sorted((a_name, b_name))
            line = TunnelLine(f"{first}/{second}", first, second, reqid)
            generation, created = keys.get(tunnel_id, (1, None))
            line.rekeys = max(int(generation or 1) - 1, 0)
            line.last_rekey = created if line.rekeys else None
            overview.tunnels.append(line)
    if local and any(g.name == local for g in overview.gateways):
        _read_local(overview, engine, local, netns)
    return overview


def _read_local(overview: Overview, engine: Engine, local: str, netns) -> None:
    from app.services.report import gateway_report

    report = gateway_report(engine, local, netns)
    overview.kernel_error = report.kernel_error
    overview.drops = report.drops
    seen = {t.reqid: t for t in report.tunnels}
    for line in overview.tunnels:
        found = seen.get(line.reqid)
        if found is None:
            continue
        line.state = found.state
        line.bytes_in, line.bytes_out = found.bytes_in, found.bytes_out
        line.packets_in, line.packets_out = found.packets_in, found.packets_out
