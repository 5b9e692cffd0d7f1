"""Tunnel numbers: one ``reqid`` and ``if_id`` per gateway pair that protects.

Numbers come from :func:`datapath.intent.allocate_tunnels`, which keeps the ones
already given out, so a pair keeps its numbers across every other change.  A
pair that no longer protects anything loses its row (and its SA keys); if it
protects again later it gets the lowest free numbers, not necessarily its old
ones.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Gateway
from app.models import Tunnel as TunnelRow
from app.services.audit import record_change
from app.services.snapshot import load_document
from datapath.intent import Tunnel, allocate_tunnels

log = logging.getLogger(__name__)


def tunnel_name(pair: frozenset[str]) -> str:
    return "/".join(sorted(pair))


def _form(tunnel: Tunnel) -> dict:
    return {
        "gateways": sorted(tunnel.gateways),
        "reqid": tunnel.reqid,
        "if_id": tunnel.if_id,
    }


def stored_tunnels(session: Session) -> tuple[Tunnel, ...]:
    rows = session.scalars(
        select(TunnelRow).options(
            selectinload(TunnelRow.gateway_a), selectinload(TunnelRow.gateway_b)
        )
    ).all()
    return tuple(
        Tunnel(frozenset((r.gateway_a.name, r.gateway_b.name)), r.reqid, r.if_id)
        for r in rows
    )


def ensure_tunnels(session: Session, actor: str | None = None) -> tuple[Tunnel, ...]:
    """Give every protecting gateway pair its numbers and drop unused ones.

    Works on the session's current (flushed) state; with ``actor`` each change
    is audited.  Returns all tunnels.
    """
    from app.services.intent import resolved_policies

    doc = load_document(session)
    pairs = {
        frozenset((p.a_gateway, p.b_gateway))
        for p in resolved_policies(doc)
        if p.action == "protect" and p.a_gateway != p.b_gateway
    }
    existing = stored_tunnels(session)
    wanted = allocate_tunnels(existing, pairs)
    keep = set(wanted)
    rows = session.scalars(select(TunnelRow)).all()
    by_numbers = {(r.reqid, r.if_id): r for r in rows}

    # Drop first: a number freed here may go to a new pair below.
    for tunnel in existing:
        if tunnel not in keep:
            session.delete(by_numbers[(tunnel.reqid, tunnel.if_id)])
            log.info("dropped tunnel %s", tunnel_name(tunnel.gateways))
            if actor:
                record_change(
                    session,
                    actor,
                    "tunnel",
                    tunnel_name(tunnel.gateways),
                    "delete",
                    _form(tunnel),
                    None,
                )
    session.flush()

    ids = {name: id_ for name, id_ in session.execute(select(Gateway.name, Gateway.id))}
    for tunnel in wanted:
        if tunnel in existing:
            continue
        a, b = sorted(ids[name] for name in tunnel.gateways)
        session.add(
            TunnelRow(
                gateway_a_id=a, gateway_b_id=b, reqid=tunnel.reqid, if_id=tunnel.if_id
            )
        )
        log.info(
            "allocated tunnel %s: reqid %d, if_id %d",
            tunnel_name(tunnel.gateways),
            tunnel.reqid,
            tunnel.if_id,
        )
        if actor:
            record_change(
                session,
                actor,
                "tunnel",
                tunnel_name(tunnel.gateways),
                "create",
                None,
                _form(tunnel),
            )
    session.flush()
    return wanted
