"""Plan, apply, guard and trace one gateway's datapath from the database's intent.

Nothing here imports the web stack: these verbs run at boot and inside slow
emulated test machines, where every import counts.  ``guard`` does not even need
the database: it reads the plan file the last apply wrote.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from app.config import load_settings
from datapath.compiler import DEFAULT_ROUTE_TABLE, compile_gateway
from datapath.plan import CompiledPlan
from datapath.reconcile import ApplyResult, Plan, Progress

log = logging.getLogger(__name__)


class UsageError(ValueError):
    """The caller asked for something that cannot be done; the message says why.

    ``field`` names what the caller gave that is wrong ("gateway", "dst", ...).
    """

    def __init__(self, message: str, field: str = "gateway") -> None:
        super().__init__(message)
        self.field = field


def check_packet(src: str, dst: str, proto: str | None) -> None:
    """Raise UsageError naming the first wrong field of a packet to trace."""
    import ipaddress

    from datapath.intent import PROTOCOLS

    addresses = []
    for field, value in (("src", src), ("dst", dst)):
        try:
            addresses.append(ipaddress.ip_address(value))
        except ValueError:
            raise UsageError(
                f"{field} {value!r} is not an IP address: give one address such as "
                "10.1.0.5 or 2001:db8::5, without a prefix length",
                field,
            ) from None
    if addresses[0].version != addresses[1].version:
        raise UsageError(
            "src and dst are of different families: give two IPv4 or two IPv6 "
            "addresses",
            "dst",
        )
    if proto and not proto.isdigit() and proto.lower() not in PROTOCOLS:
        raise UsageError(
            f"proto {proto!r} is unknown: use {', '.join(PROTOCOLS)} or a protocol "
            "number",
            "proto",
        )


def gateway_name(name: str | None) -> str:
    name = name or load_settings().gateway
    if not name:
        raise UsageError(
            "no gateway named: pass --gateway NAME or set CYGNET_GATEWAY to the "
            "gateway this appliance is"
        )
    return name


def elsewhere(gateway: str) -> str | None:
    """Why ``gateway``'s kernel cannot be worked on here, or None when it can.

    Only this appliance's own gateway (``CYGNET_GATEWAY``, when set) has its
    kernel here; any other gateway's slice belongs in its own appliance.
    """
    local = load_settings().gateway
    if local and gateway != local:
        return (
            f"this appliance is gateway {local} (CYGNET_GATEWAY); gateway "
            f"{gateway}'s kernel is on its own appliance: plan and apply it there"
        )
    return None


def route_table() -> int:
    value = os.environ.get("CYGNET_ROUTE_TABLE", str(DEFAULT_ROUTE_TABLE))
    if (
        not value.isdigit()
        or not 1 <= int(value) <= 0xFFFFFFFF
        or int(value) in (253, 254, 255)
    ):
        raise UsageError(
            f"CYGNET_ROUTE_TABLE={value!r}: use a routing table number from 1 to "
            "4294967295 other than 253-255 (default, main, local)",
            "CYGNET_ROUTE_TABLE",
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


@contextmanager
def exclusive(gateway: str):
    """Hold the gateway's datapath lock: one apply or guard at a time.

    A file lock, so a ``cygnet apply`` by hand waits for the service's
    reconciler (and the other way round) instead of racing it in the kernel.
    """
    path = load_settings().data_dir / "plans" / f".{gateway}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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


def prepare(actor: str, engine=None) -> list[str]:
    """Allocate tunnel numbers, create missing keys and move key rotations on."""
    from app.db import write_session
    from app.services.intent import ensure_tunnels
    from app.services.keys import RotationSettings, advance, ensure_keys

    with write_session(engine) as session:
        ensure_tunnels(session)
        ensure_keys(session, actor)
        return advance(session, actor, RotationSettings.from_env())


def plan(gateway: str, netns: str | None = None, *, engine=None) -> Plan:
    """What an apply would change in the kernel; changes nothing anywhere."""
    from app.db import read_session
    from datapath.kernel import Kernel
    from datapath.reconcile import diff

    with read_session(engine) as session:
        _, compiled = compile_current(session, gateway)
    with Kernel(netns=netns) as kernel:
        return diff(kernel, compiled)


def apply(
    gateway: str,
    netns: str | None = None,
    *,
    actor: str = "cli",
    progress: Progress | None = None,
    engine=None,
) -> ApplyResult:
    """Bring the kernel to the intent; record the outcome for the gateway."""
    from app.db import read_session
    from datapath.kernel import Kernel
    from datapath.reconcile import apply as apply_plan

    # The kernel first: a namespace that is not there changes nothing anywhere.
    with Kernel(netns=netns) as kernel, exclusive(gateway):
        prepare(actor, engine)
        with read_session(engine) as session:
            _, compiled = compile_current(session, gateway)
        _write_plan_file(compiled)
        result = apply_plan(kernel, compiled, progress=progress)
        record_status(gateway, compiled.revision, result, engine)
    return result


def result_dict(result: ApplyResult) -> dict:
    """An apply's outcome as plain data, for JSON (the CLI's and the API's)."""
    return {
        "gateway": result.plan.gateway,
        "revision": result.plan.revision,
        "ok": result.ok,
        "applied": result.applied,
        "planned": len(result.plan.steps),
        "seconds": round(result.seconds, 3),
        "summary": result.summary(),
        "errors": [
            {"op": e.op, "object": str(e.obj), "errno": e.errno, "message": str(e)}
            for e in result.errors
        ],
        "plan": result.plan.to_dict(),
    }


def record_status(
    gateway: str, revision: int, result: ApplyResult, engine=None
) -> None:
    from sqlalchemy import select

    from app.db import write_session
    from app.models import Gateway
    from app.models.base import utcnow
    from app.models.status import GatewayStatus

    with write_session(engine) as session:
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
    with exclusive(gateway), Kernel(netns=netns) as kernel:
        return guard_plan(kernel, compiled.without_states())


def status(gateway: str, netns: str | None = None, *, engine=None):
    """The gateway's last apply and its tunnels (see :mod:`app.services.report`)."""
    from app.db import default_engine
    from app.services.report import gateway_report

    return gateway_report(engine or default_engine(), gateway, netns)


def rekey(gateway: str, peer: str, actor: str, *, engine=None) -> int:
    """Start rotating the manual keys between two gateways; the new generation.

    Later applies on both ends move the rotation through its phases.
    """
    from app.db import write_session
    from app.services.keys import start_rotation

    with write_session(engine) as session:
        return start_rotation(session, gateway, peer, actor)


def trace(
    gateway: str,
    src: str,
    dst: str,
    proto: str | None = None,
    dport: int | None = None,
    sport: int | None = None,
    *,
    kernel: bool = False,
    netns: str | None = None,
    engine=None,
):
    from app.db import read_session
    from datapath.trace import Packet
    from datapath.trace import trace as trace_packet

    check_packet(src, dst, proto)
    packet = Packet.parse(src, dst, proto, dport, sport)
    with read_session(engine) as session:
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

    def __init__(
        self,
        gateway: str,
        netns: str | None = None,
        interval: float | None = None,
        poll: float = 1.0,
    ) -> None:
        self.gateway = gateway
        self.netns = netns
        self.interval = interval or float(
            os.environ.get("CYGNET_RECONCILE_INTERVAL", "30")
        )
        self.poll = poll
        self.last: ApplyResult | None = None
        self.last_revision: int | None = None
        self.last_problem: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="reconciler", daemon=True
        )

    def start(self) -> Reconciler:
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
        from app.metrics import observe_apply

        due = 0.0
        while not self._stop.is_set():
            try:
                revision = self._revision()
                if revision != self.last_revision or time.monotonic() >= due:
                    self.last_revision = revision
                    due = time.monotonic() + self.interval
                    self.last = apply(self.gateway, self.netns, actor="reconciler")
                    observe_apply(self.gateway, self.last)
                    if self.last.plan.steps or not self.last.ok:
                        log.info(
                            "reconcile of %s: %s", self.gateway, self.last.summary()
                        )
            except UsageError as exc:
                # Typically a gateway not in the intent yet: say so once per change.
                if str(exc) != self.last_problem:
                    log.warning("nothing to reconcile: %s", exc)
                self.last_problem = str(exc)
            except Exception:
                # The next try comes with the timer or the next change of intent.
                log.exception(
                    "reconcile of %s failed; retrying within %.0f s",
                    self.gateway,
                    self.interval,
                )
            self._stop.wait(self.poll)
