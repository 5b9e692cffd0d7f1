"""Prometheus metrics: the gateway's tunnels, its applies and the kernel's drops.

Most figures are read when scraped, from the database and the kernel, so they
hold whichever process changed things (``cygnet serve``'s reconciler or a
``cygnet apply`` by hand):

``cygnet_tunnel_up{tunnel,peer}``
    1 when the kernel holds an SA in each direction for a tunnel this gateway
    has in the database, 0 when it is configured but down.
``cygnet_tunnel_bytes_total`` / ``cygnet_tunnel_packets_total{tunnel,peer,direction}``
    what the tunnel's SAs carried (``ip -s xfrm state``).  Each SA counts from
    zero, so the sums start again when new SAs replace old ones.
``cygnet_tunnel_rekeys_total{tunnel,peer}``
    key generations after the first.
``cygnet_intent_revision``, ``cygnet_applied_revision``, ``cygnet_last_apply_*``
    from the gateway's last recorded apply.
``cygnet_xfrm_errors_total{counter}``
    every line of the kernel's ``/proc/net/xfrm_stat`` in the gateway's
    namespace; two of them again under names that say what they mean:
    ``cygnet_spoofed_cleartext_dropped_total`` (``XfrmInTmplMismatch``: clear
    packets arriving where a policy demands ESP) and
    ``cygnet_no_state_drops_total{direction}`` (``XfrmInNoStates`` /
    ``XfrmOutNoStates``: protected traffic dropped for want of an SA).

Two are counted in this process, by :func:`observe_apply`:
``cygnet_apply_duration_seconds`` (a histogram; its ``_count`` is the number of
applies) and ``cygnet_apply_failures_total``.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import Engine, func, select

log = logging.getLogger(__name__)

PROCESS = CollectorRegistry(auto_describe=True)
APPLY_SECONDS = Histogram(
    "cygnet_apply_duration_seconds",
    "Time taken by each apply of the intent to the kernel",
    ["gateway"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=PROCESS,
)
APPLY_FAILURES = Counter(
    "cygnet_apply_failures",
    "Applies the kernel refused part of (the datapath stayed closed)",
    ["gateway"],
    registry=PROCESS,
)

SPOOFED = "XfrmInTmplMismatch"
NO_STATES = {"in": "XfrmInNoStates", "out": "XfrmOutNoStates"}


def observe_apply(gateway: str, result) -> None:
    """Count one apply (a :class:`datapath.reconcile.ApplyResult`)."""
    APPLY_SECONDS.labels(gateway).observe(result.seconds)
    if not result.ok:
        APPLY_FAILURES.labels(gateway).inc()


@dataclass
class TunnelRow:
    name: str
    peer: str
    reqid: int
    rekeys: int


@dataclass
class GatewayFacts:
    """What the database says about one gateway, read in one transaction."""

    revision: int
    address: str | None = None
    tunnels: list[TunnelRow] = field(default_factory=list)
    status: object | None = None


def read_gateway(engine: Engine, gateway: str) -> GatewayFacts:
    from app.db import read_session
    from app.models import Gateway, GatewayStatus, SaKey, Tunnel
    from app.services.audit import current_revision

    with read_session(engine) as session:
        facts = GatewayFacts(current_revision(session))
        row = session.scalar(select(Gateway).where(Gateway.name == gateway))
        if row is None:
            return facts
        facts.address = row.address
        facts.status = session.get(GatewayStatus, row.id)
        generations = dict(
            session.execute(
                select(SaKey.tunnel_id, func.max(SaKey.generation)).group_by(
                    SaKey.tunnel_id
                )
            ).all()
        )
        tunnels = session.scalars(
            select(Tunnel).where(
                (Tunnel.gateway_a_id == row.id) | (Tunnel.gateway_b_id == row.id)
            )
        ).all()
        for tunnel in tunnels:
            peer = (
                tunnel.gateway_b if tunnel.gateway_a_id == row.id else tunnel.gateway_a
            )
            facts.tunnels.append(
                TunnelRow(
                    name="/".join(sorted((gateway, peer.name))),
                    peer=peer.name,
                    reqid=tunnel.reqid,
                    rekeys=max(int(generations.get(tunnel.id) or 1) - 1, 0),
                )
            )
    facts.tunnels.sort(key=lambda t: t.name)
    return facts


@dataclass
class KernelFacts:
    # reqid -> direction -> [bytes, packets]; a direction is present when the
    # kernel holds at least one SA for it.
    carried: dict[int, dict[str, list[int]]]
    xfrm_stat: dict[str, int]


def read_kernel(address: str | None, netns: str | None) -> KernelFacts:
    from datapath.kernel import Kernel

    local = ipaddress.ip_address(address) if address else None
    carried: dict[int, dict[str, list[int]]] = {}
    with Kernel(netns=netns) as kernel:
        counts = kernel.state_stats()
        for state in kernel.states():
            if not state.owned:
                continue
            direction = "in" if ipaddress.ip_address(state.dst) == local else "out"
            total = carried.setdefault(state.reqid, {}).setdefault(direction, [0, 0])
            nbytes, packets = counts.get(state.key(), (0, 0))
            total[0] += nbytes
            total[1] += packets
        return KernelFacts(carried, kernel.xfrm_stats())


class DatapathCollector:
    """Everything read at scrape time, for one gateway (``CYGNET_GATEWAY``)."""

    def __init__(
        self, engine: Engine, gateway: str | None, netns: str | None = None
    ) -> None:
        self.engine = engine
        self.gateway = gateway
        self.netns = netns
        self._kernel_failing = False

    def collect(self):
        if not self.gateway:
            return
        facts = read_gateway(self.engine, self.gateway)
        kernel = self._read_kernel(facts.address)
        yield from self._status(facts)
        if kernel is not None:
            yield from self._tunnels(facts, kernel)
            yield from self._xfrm_stat(kernel)

    def _read_kernel(self, address: str | None) -> KernelFacts | None:
        try:
            kernel = read_kernel(address, self.netns)
        # A scrape answers whatever the read raised (netlink refused, namespace
        # gone): the failure shows as cygnet_kernel_readable 0.
        except Exception as exc:  # noqa: BLE001
            if not self._kernel_failing:
                log.warning("metrics: cannot read the kernel's datapath: %s", exc)
            self._kernel_failing = True
            return None
        self._kernel_failing = False
        return kernel

    def _status(self, facts: GatewayFacts):
        gw = [self.gateway]
        readable = GaugeMetricFamily(
            "cygnet_kernel_readable",
            "1 when the kernel's datapath could be read for this scrape",
            labels=["gateway"],
        )
        readable.add_metric(gw, 0 if self._kernel_failing else 1)
        yield readable
        yield GaugeMetricFamily(
            "cygnet_intent_revision",
            "The intent's revision in the database",
            value=facts.revision,
        )
        status = facts.status
        if status is None:
            return
        for name, doc, value in (
            (
                "cygnet_applied_revision",
                "The last revision the kernel fully matched",
                status.applied_revision,
            ),
            ("cygnet_last_apply_ok", "1 when the last apply succeeded", int(status.ok)),
            (
                "cygnet_last_apply_duration_seconds",
                "How long the last apply took",
                status.duration_ms / 1000,
            ),
            (
                "cygnet_last_apply_changes",
                "Kernel changes the last apply made",
                status.changes,
            ),
            (
                "cygnet_last_apply_timestamp_seconds",
                "When the last apply ran",
                status.attempted_at.timestamp() if status.attempted_at else 0,
            ),
        ):
            family = GaugeMetricFamily(name, doc, labels=["gateway"])
            family.add_metric(gw, value)
            yield family

    def _tunnels(self, facts: GatewayFacts, kernel: KernelFacts):
        up = GaugeMetricFamily(
            "cygnet_tunnel_up",
            "1 when the kernel holds SAs both ways for the tunnel, 0 when it is "
            "configured but down",
            labels=["tunnel", "peer"],
        )
        rekeys = CounterMetricFamily(
            "cygnet_tunnel_rekeys",
            "Key generations after the first",
            labels=["tunnel", "peer"],
        )
        carried = {
            unit: CounterMetricFamily(
                f"cygnet_tunnel_{unit}",
                f"{unit.capitalize()} carried by the "
                "tunnel's SAs (restarts when new SAs replace old ones)",
                labels=["tunnel", "peer", "direction"],
            )
            for unit in ("bytes", "packets")
        }
        for tunnel in facts.tunnels:
            labels = [tunnel.name, tunnel.peer]
            ways = kernel.carried.get(tunnel.reqid, {})
            up.add_metric(labels, int("in" in ways and "out" in ways))
            rekeys.add_metric(labels, tunnel.rekeys)
            for direction in ("in", "out"):
                nbytes, packets = ways.get(direction, (0, 0))
                carried["bytes"].add_metric(labels + [direction], nbytes)
                carried["packets"].add_metric(labels + [direction], packets)
        yield up
        yield rekeys
        yield from carried.values()

    def _xfrm_stat(self, kernel: KernelFacts):
        stats = kernel.xfrm_stat
        if not stats:
            return
        errors = CounterMetricFamily(
            "cygnet_xfrm_errors",
            "The kernel's XFRM error counters (/proc/net/xfrm_stat)",
            labels=["counter"],
        )
        for name, value in sorted(stats.items()):
            errors.add_metric([name], value)
        yield errors
        yield CounterMetricFamily(
            "cygnet_spoofed_cleartext_dropped",
            f"Clear packets dropped where a policy demands ESP ({SPOOFED})",
            value=stats.get(SPOOFED, 0),
        )
        no_states = CounterMetricFamily(
            "cygnet_no_state_drops",
            "Protected packets dropped for want of an SA (XfrmInNoStates, "
            "XfrmOutNoStates)",
            labels=["direction"],
        )
        for direction, name in NO_STATES.items():
            no_states.add_metric([direction], stats.get(name, 0))
        yield no_states


class _ProcessMetrics:
    def collect(self):
        yield from PROCESS.collect()


def make_registry(collector: DatapathCollector) -> CollectorRegistry:
    """A registry with this process's counters and ``collector``'s readings."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessMetrics())
    registry.register(collector)
    return registry
