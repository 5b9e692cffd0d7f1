"""Manual keying: generate SA keys and rotate them make-before-break.

Keys live in the database, sealed at rest, so both gateways of a tunnel install
matching SAs from the same intent.  One SA pair (one SA each way) exists per
tunnel and mode that manually keyed protect policies use.

A rotation moves through phases, each recorded with the intent revision it began
at, and waits for both gateways to report that revision applied before the next:

1. ``inbound``: the new keys are installed for receiving only, on both ends;
2. ``active``: senders switch to the new keys (the kernel sends with the newest
   SA of a reqid), and the old keys become ``retiring``: received, not sent;
3. after the grace period the retiring keys are deleted and drop out of both
   kernels.

No packet is ever sent with a key its receiver does not have yet.  An external
peer cannot report what it applied; rotations towards one move on without waiting,
and its operator must install the keys by hand in time.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Gateway, Policy, SaKey, Tunnel
from app.models.base import utcnow
from app.models.status import GatewayStatus
from app.services.audit import record_change, revision_for_change
from app.services.problems import Problem, ValidationFailed

log = logging.getLogger(__name__)

ALGORITHM = "rfc4106(gcm(aes))"
KEY_BYTES = 36  # a 256-bit AES key and the 32-bit salt of RFC 4106
ICV_BITS = 128


@dataclass(frozen=True)
class RotationSettings:
    grace: timedelta
    interval: timedelta | None  # None: rotate only on demand

    @classmethod
    def from_env(cls) -> "RotationSettings":
        grace = _seconds("CYGNET_REKEY_GRACE", "30")
        interval = _seconds("CYGNET_REKEY_INTERVAL", "86400")
        return cls(timedelta(seconds=grace),
                   timedelta(seconds=interval) if interval > 0 else None)


def _seconds(name: str, default: str) -> int:
    value = os.environ.get(name, default).strip()
    if not value.isdigit():
        raise ValueError(f"{name}={value!r}: give a whole number of seconds")
    return int(value)


def _gateway_of_end(policy: Policy, end: str) -> Gateway | None:
    subnet = policy.a_subnet if end == "a" else policy.b_subnet
    return subnet.gateway if subnet is not None else None


def needed_pairs(session: Session) -> dict[tuple[int, int], set[str]]:
    """(gateway id, gateway id) ordered pair -> the modes its manual policies use."""
    from app.services.intent import load_intent

    intent = load_intent(session)
    ids = {g.name: g.id for g in session.scalars(select(Gateway))}
    needed: dict[tuple[int, int], set[str]] = {}
    for policy in intent.policies:
        if policy.action != "protect" or policy.keying != "manual":
            continue
        a, b = sorted((ids[policy.a_gateway], ids[policy.b_gateway]))
        needed.setdefault((a, b), set()).add(policy.mode)
    return needed


def _tunnel(session: Session, a: int, b: int) -> Tunnel:
    from app.services.intent import ensure_tunnels

    ensure_tunnels(session)
    lo, hi = sorted((a, b))
    tunnel = session.scalar(
        select(Tunnel).where(Tunnel.gateway_a_id == lo, Tunnel.gateway_b_id == hi)
    )
    if tunnel is None:  # ensure_tunnels allocates every protect pair
        raise RuntimeError(f"no tunnel between gateway ids {lo} and {hi}")
    return tunnel


def _new_spi(session: Session) -> int:
    used = set(session.scalars(select(SaKey.spi)))
    while True:
        spi = secrets.randbelow(0xFFFFFFFF - 0x1000) + 0x1000
        if spi not in used:
            return spi


def _create_pair(session: Session, tunnel: Tunnel, mode: str, generation: int,
                 phase: str, actor: str) -> None:
    revision = revision_for_change(session)
    for src, dst in ((tunnel.gateway_a, tunnel.gateway_b),
                     (tunnel.gateway_b, tunnel.gateway_a)):
        key = SaKey(
            tunnel=tunnel, src_gateway=src, dst_gateway=dst, spi=_new_spi(session),
            key=os.urandom(KEY_BYTES), algorithm=ALGORITHM, icv_bits=ICV_BITS,
            mode=mode, generation=generation, phase=phase, phase_revision=revision,
        )
        session.add(key)
        session.flush()
        record_change(session, actor, "sa_key", _label(key), "create", None,
                      _public(key))


def _label(key: SaKey) -> str:
    return (f"{key.src_gateway.name}->{key.dst_gateway.name} {key.mode} "
            f"generation {key.generation}")


def _public(key: SaKey) -> dict:
    return {"spi": f"{key.spi:#010x}", "generation": key.generation,
            "phase": key.phase, "mode": key.mode, "algorithm": key.algorithm}


def ensure_keys(session: Session, actor: str) -> int:
    """Give every manually keyed tunnel its keys; drop keys nothing uses any more."""
    needed = needed_pairs(session)
    changes = 0
    keys = list(session.scalars(select(SaKey)))
    have = {(k.tunnel.gateway_a_id, k.tunnel.gateway_b_id, k.mode) for k in keys}
    for (a, b), modes in sorted(needed.items()):
        for mode in sorted(modes):
            if (a, b, mode) not in have:
                _create_pair(session, _tunnel(session, a, b), mode, 1, "active", actor)
                changes += 1
    for key in keys:
        pair = (key.tunnel.gateway_a_id, key.tunnel.gateway_b_id)
        if key.mode not in needed.get(pair, set()):
            record_change(session, actor, "sa_key", _label(key), "delete",
                          _public(key), None)
            session.delete(key)
            changes += 1
    return changes


def start_rotation(session: Session, gateway: str, peer: str, actor: str) -> int:
    """Begin rotating the keys between two gateways; returns the new generation."""
    gateways = {g.name: g for g in session.scalars(select(Gateway))}
    problems = [
        Problem((field,), f"no gateway named {name!r}: use one of "
                f"{', '.join(sorted(gateways)) or '(none)'}")
        for field, name in (("gateway", gateway), ("peer", peer))
        if name not in gateways
    ]
    if problems:
        raise ValidationFailed(problems)
    ensure_keys(session, actor)
    a, b = sorted((gateways[gateway].id, gateways[peer].id))
    keys = [k for k in session.scalars(select(SaKey))
            if (k.tunnel.gateway_a_id, k.tunnel.gateway_b_id) == (a, b)]
    if not keys:
        raise ValidationFailed([Problem(("peer",), (
            f"no manually keyed protect policy between {gateway} and {peer}: "
            "only manual keys are rotated by Cygnet (IKE rekeys its own SAs)"))])
    busy = [k for k in keys if k.phase != "active"]
    if busy:
        raise ValidationFailed([Problem(("peer",), (
            f"a rotation between {gateway} and {peer} is already under way "
            f"(generation {busy[0].generation} is {busy[0].phase}): "
            "let it finish, then rotate again"))])
    generation = max(k.generation for k in keys) + 1
    for mode in sorted({k.mode for k in keys}):
        _create_pair(session, keys[0].tunnel, mode, generation, "inbound", actor)
    log.info("rotation of keys between %s and %s started: generation %d",
             gateway, peer, generation)
    return generation


def _acknowledged(session: Session, tunnel: Tunnel, revision: int) -> bool:
    for gateway in (tunnel.gateway_a, tunnel.gateway_b):
        if not gateway.managed:
            continue
        status = session.get(GatewayStatus, gateway.id)
        if status is None or status.applied_revision < revision:
            return False
    return True


def advance(session: Session, actor: str, settings: RotationSettings,
            now: datetime | None = None) -> list[str]:
    """Move every rotation on as far as both ends allow; start scheduled ones."""
    now = now or utcnow()
    done: list[str] = []
    keys = list(session.scalars(select(SaKey).order_by(SaKey.id)))
    by_tunnel: dict[int, list[SaKey]] = {}
    for key in keys:
        by_tunnel.setdefault(key.tunnel_id, []).append(key)

    for group in by_tunnel.values():
        tunnel = group[0].tunnel
        inbound = [k for k in group if k.phase == "inbound"]
        if inbound and _acknowledged(session, tunnel, max(k.phase_revision for k in inbound)):
            revision = revision_for_change(session)
            for key in group:
                if key.phase == "active":
                    _set_phase(session, key, "retiring", revision, actor,
                               retire_after=now + settings.grace)
            for key in inbound:
                _set_phase(session, key, "active", revision, actor)
            done.append(f"{_pair(tunnel)}: generation {inbound[0].generation} now sends")
            continue
        retiring = [k for k in group if k.phase == "retiring"]
        if retiring and all(k.retire_after is not None and k.retire_after <= now
                            for k in retiring) and _acknowledged(
                session, tunnel, max(k.phase_revision for k in retiring)):
            for key in retiring:
                record_change(session, actor, "sa_key", _label(key), "delete",
                              _public(key), None)
                session.delete(key)
            done.append(f"{_pair(tunnel)}: generation {retiring[0].generation} removed")
            continue
        if (settings.interval is not None and not inbound and not retiring
                and all(k.created_at + settings.interval <= now for k in group)):
            generation = start_rotation(session, tunnel.gateway_a.name,
                                        tunnel.gateway_b.name, actor)
            done.append(f"{_pair(tunnel)}: scheduled rotation to generation {generation}")
    for line in done:
        log.info("key rotation: %s", line)
    return done


def _pair(tunnel: Tunnel) -> str:
    return f"{tunnel.gateway_a.name}<->{tunnel.gateway_b.name}"


def _set_phase(session: Session, key: SaKey, phase: str, revision: int, actor: str,
               retire_after: datetime | None = None) -> None:
    before = _public(key)
    key.phase = phase
    key.phase_revision = revision
    key.retire_after = retire_after
    record_change(session, actor, "sa_key", _label(key), "update", before, _public(key))
