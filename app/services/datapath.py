"""Plan, apply, guard and trace one gateway's datapath from the database's intent.

Nothing here imports the web stack: these verbs run at boot and inside slow
emulated test machines, where every import counts.  ``guard`` does not even need
the database: it reads the plan file the last apply wrote.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from datapath.compiler import DEFAULT_ROUTE_TABLE, compile_gateway
from datapath.plan import CompiledPlan
from datapath.reconcile import ApplyResult, Plan, Progress

from app.config import load_settings

log = logging.getLogger(__name__)


class UsageError(ValueError):
    """The caller asked for something that cannot be done; the message says why."""


def gateway_name(name: str | None) -> str:
    name = name or load_settings().gateway
    if not name:
        raise UsageError(
            "no gateway named: pass --gateway NAME or set CYGNET_GATEWAY to the "
            "gateway this appliance is"
        )
    return name


def route_table() -> int:
    value = os.environ.get("CYGNET_ROUTE_TABLE", str(DEFAULT_ROUTE_TABLE))
    if not value.isdigit() or not 1 <= int(value) <= 0xFFFFFFFF or int(value) in (
        253, 254, 255
    ):
        raise UsageError(
            f"CYGNET_ROUTE_TABLE={value!r}: use a routing table number from 1 to "
            "4294967295 other than 253-255 (default, main, local)"
        )
    return int(value)


def plan_file(gateway: str) -> Path:
    return load_settings().data_dir / "plans" / f"{gateway}.json"


def _write_plan_file(compiled: CompiledPlan) -> None:
    path = plan_file(compiled.gateway)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(compiled.to_json())
    os.replace(tmp, path)


def compile_current(session, gateway: str):
    """(intent, compiled plan) for ``gateway`` from the database as it is now."""
    from app.services.intent import load_intent

    intent = load_intent(session)
    names = {g.name for g in intent.gateways}
    if gateway not in names:
        raise UsageError(
            f"gateway {gateway!r} is not in the intent (known: "
            f"{', '.join(sorted(names)) or 'none'}): check --gateway or CYGNET_GATEWAY"
        )
    return intent, compile_gateway(intent, gateway, route_table=route_table())


def prepare(actor: str) -> list[str]:
    """Allocate tunnel numbers, create missing keys and move key rotations on."""
    from app.db import write_session
    from app.services.intent import ensure_tunnels
    from app.services.keys import RotationSettings, advance, ensure_keys

    with write_session() as session:
        ensure_tunnels(session)
        ensure_keys(session, actor)
        return advance(session, actor, RotationSettings.from_env())


def plan(gateway: str, netns: str | None = None) -> Plan:
    """What an apply would change in the kernel; changes nothing anywhere."""
    from app.db import read_session
    from datapath.kernel import Kernel
    from datapath.reconcile import diff

    with read_session() as session:
        _, compiled = compile_current(session, gateway)
    with Kernel(netns=netns) as kernel:
        return diff(kernel, compiled)


def apply(gateway: str, netns: str | None = None, *, actor: str = "cli",
          progress: Progress | None = None) -> ApplyResult:
    """Bring the kernel to the intent; record the outcome for the gateway."""
    from app.db import read_session
    from datapath.kernel import Kernel
    from datapath.reconcile import apply as apply_plan

    prepare(actor)
    with read_session() as session:
        _, compiled = compile_current(session, gateway)
    _write_plan_file(compiled)
    with Kernel(netns=netns) as kernel:
        result = apply_plan(kernel, compiled, progress=progress)
    record_status(gateway, compiled.revision, result)
    return result


def record_status(gateway: str, revision: int, result: ApplyResult) -> None:
    from sqlalchemy import select

    from app.db import write_session
    from app.models import Gateway
    from app.models.base import utcnow
    from app.models.status import GatewayStatus

    with write_session() as session:
        row = session.scalar(select(Gateway).where(Gateway.name == gateway))
        if row is None:
            return
        status = session.get(GatewayStatus, row.id) or GatewayStatus(
            gateway_id=row.id, applied_revision=0
        )
        now = utcnow()
        status.attempted_at = now
        status.ok = result.ok
        status.message = None if result.ok else result.summary()
        status.changes = result.applied
        status.duration_ms = int(result.seconds * 1000)
        if result.ok:
            status.applied_revision = revision
            status.applied_at = now
        session.add(status)


def guard(gateway: str, netns: str | None = None) -> ApplyResult:
    """Install the last compiled plan's policies (no SAs) so nothing leaks at boot."""
    from datapath.kernel import Kernel
    from datapath.reconcile import guard as guard_plan

    path = plan_file(gateway)
    if path.exists():
        compiled = CompiledPlan.from_json(path.read_text())
        if compiled.gateway != gateway:
            raise UsageError(f"{path} holds the plan of gateway {compiled.gateway!r}")
    else:
        try:
            from app.db import read_session

            with read_session() as session:
                _, compiled = compile_current(session, gateway)
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError(
                f"no plan file at {path} and the database could not be read ({exc}): "
                "there is nothing to guard with until 'cygnet apply' has run once"
            ) from exc
    with Kernel(netns=netns) as kernel:
        return guard_plan(kernel, compiled.without_states())


def trace(gateway: str, src: str, dst: str, proto: str | None = None,
          dport: int | None = None, sport: int | None = None, *,
          kernel: bool = False, netns: str | None = None):
    from app.db import read_session
    from datapath.trace import Packet, trace as trace_packet

    try:
        packet = Packet.parse(src, dst, proto, dport, sport)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with read_session() as session:
        intent, compiled = compile_current(session, gateway)
    if not kernel:
        return trace_packet(intent, compiled, packet)
    from datapath.kernel import Kernel

    with Kernel(netns=netns) as k:
        return trace_packet(intent, compiled, packet, kernel=k)


class Reconciler:
    """Keeps one gateway's kernel in step with the intent while ``serve`` runs.

    It applies when the intent's revision changes (polled every ``poll`` seconds,
    which works the same for a fleet sharing one PostgreSQL) and every
    ``interval`` seconds regardless, which repairs drift and moves key rotations on.
    """

    def __init__(self, gateway: str, netns: str | None = None,
                 interval: float | None = None, poll: float = 1.0) -> None:
        self.gateway = gateway
        self.netns = netns
        self.interval = interval or float(os.environ.get("CYGNET_RECONCILE_INTERVAL", "30"))
        self.poll = poll
        self.last: ApplyResult | None = None
        self.last_revision: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reconciler", daemon=True)

    def start(self) -> "Reconciler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _revision(self) -> int:
        from app.db import read_session
        from app.services.audit import current_revision

        with read_session() as session:
            return current_revision(session)

    def _run(self) -> None:
        due = 0.0
        while not self._stop.is_set():
            try:
                revision = self._revision()
                if revision != self.last_revision or time.monotonic() >= due:
                    self.last_revision = revision
                    due = time.monotonic() + self.interval
                    self.last = apply(self.gateway, self.netns, actor="reconciler")
                    if self.last.plan.steps or not self.last.ok:
                        log.info("reconcile of %s: %s", self.gateway, self.last.summary())
            except Exception:
                # The next try comes with the timer or the next change of intent.
                log.exception("reconcile of %s failed; retrying within %.0f s",
                              self.gateway, self.interval)
            self._stop.wait(self.poll)
