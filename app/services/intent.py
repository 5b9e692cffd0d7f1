"""The stored intent as :class:`datapath.intent.Intent`, everything resolved.

This is what the datapath compiler is handed: policy ends turned into CIDRs and
gateways, tunnel numbers, decrypted SA keys and the revision they belong to.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import SaKey as SaKeyRow
from app.services.audit import current_revision
from app.services.snapshot import load_document
from app.services.spec import Document
from app.services.tunnels import ensure_tunnels, stored_tunnels
from app.services.validation import resolve_ends
from datapath import intent

__all__ = ["ensure_tunnels", "load_intent", "resolved_policies"]


def resolved_policies(doc: Document) -> tuple[intent.Policy, ...]:
    """The document's policies with both ends resolved; ``doc`` must be valid.

    Ends that name a subnet, nearly all of them, are looked up directly; only a
    policy with a CIDR end goes through :func:`resolve_ends`' rules.
    """
    subnets = {s.name: (s.cidr, s.gateway) for s in doc.subnets}
    out = []
    slow = []
    for p in doc.policies:
        a, b = subnets.get(p.between[0]), subnets.get(p.between[1])
        if a is None or b is None:
            slow.append(len(out))
            out.append(p)
            continue
        out.append(
            intent.Policy(
                p.name,
                a[0],
                b[0],
                a[1],
                b[1],
                p.action,
                p.protocol,
                p.ports,
                p.mode,
                p.keying,
            )
        )
    if slow:
        ends = resolve_ends(Document(doc.gateways, doc.subnets, [out[i] for i in slow]))
        for i, (a, b) in zip(slow, ends, strict=True):
            p = out[i]
            out[i] = intent.Policy(
                p.name,
                a.cidr,
                b.cidr,
                a.gateway,
                b.gateway,
                p.action,
                p.protocol,
                p.ports,
                p.mode,
                p.keying,
            )
    return tuple(out)


def _keys(session: Session) -> tuple[intent.SAKey, ...]:
    rows = session.scalars(
        select(SaKeyRow)
        .options(selectinload(SaKeyRow.src_gateway), selectinload(SaKeyRow.dst_gateway))
        .order_by(SaKeyRow.id)
    ).all()
    return tuple(
        intent.SAKey(
            src=r.src_gateway.name,
            dst=r.dst_gateway.name,
            spi=r.spi,
            key=r.key,
            generation=r.generation,
            phase=r.phase,
            mode=r.mode,
            algorithm=r.algorithm,
            icv_bits=r.icv_bits,
        )
        for r in rows
    )


def load_intent(session: Session) -> intent.Intent:
    """Everything the compiler needs, read in one transaction."""
    doc = load_document(session)
    return intent.Intent(
        gateways=tuple(
            intent.Gateway(g.name, g.address, g.managed, g.ike_id, g.route_based)
            for g in doc.gateways
        ),
        subnets=tuple(intent.Subnet(s.name, s.cidr, s.gateway) for s in doc.subnets),
        policies=resolved_policies(doc),
        tunnels=stored_tunnels(session),
        keys=_keys(session),
        revision=current_revision(session),
    )
