"""/topology: an SVG picture of the intent, drawn here from the database.

Gateways sit on a circle with their subnets fanned out behind them; a grey band
joins two gateways that have a tunnel (a protect policy between them); each
policy is a line between its two ends, coloured by action: green protect, amber
dashed bypass (a clear exception), red dotted drop.  A policy end given as a
CIDR is drawn at the subnet that contains it.  Drawn for the whole intent, the
picture gets crowded beyond a few dozen gateways; the page then says so.
"""

from __future__ import annotations

import math
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.db import read_session
from app.services.intent import resolved_policies
from app.services.snapshot import load_document
from app.services.spec import Document
from app.services.validation import resolve_ends
from app.web.render import page
from app.web.security import Viewer

router = APIRouter(include_in_schema=False)

COLOURS = {"protect": "#1f8a4c", "bypass": "#d98a00", "drop": "#c62f2f"}
DASHES = {"protect": "", "bypass": "8 5", "drop": "2 5"}
CROWDED = 40


def draw(doc: Document) -> str:
    """The SVG text for ``doc``."""
    gateways = doc.gateways
    count = max(len(gateways), 1)
    behind: dict[str, list] = {g.name: [] for g in gateways}
    for subnet in doc.subnets:
        behind.setdefault(subnet.gateway, []).append(subnet)
    fan = max((len(v) for v in behind.values()), default=0)
    ring = 150 + 26 * count
    reach = 130 + 8 * min(fan, 10)
    size = 2 * (ring + reach + 90)
    cx = cy = size / 2

    gateway_at, subnet_at = {}, {}
    for i, gateway in enumerate(gateways):
        angle = (math.pi if count == 2 else -math.pi / 2) + 2 * math.pi * i / count
        gx, gy = cx + ring * math.cos(angle), cy + ring * math.sin(angle)
        gateway_at[gateway.name] = (gx, gy)
        subnets = behind.get(gateway.name, [])
        spread = min(math.pi * 0.9, 0.45 * max(len(subnets) - 1, 0))
        for j, subnet in enumerate(subnets):
            offset = (
                0
                if len(subnets) == 1
                else -spread / 2 + spread * j / (len(subnets) - 1)
            )
            sa = angle + offset
            subnet_at[subnet.name] = (
                gx + reach * math.cos(sa),
                gy + reach * math.sin(sa),
            )

    def spot(end) -> tuple[float, float]:
        """Where a policy end is drawn: its subnet, or the one holding its CIDR."""
        if end.subnet is not None:
            return subnet_at[end.subnet]
        for subnet in behind.get(end.gateway, []):
            if subnet.cidr.version == end.cidr.version and end.cidr.subnet_of(
                subnet.cidr
            ):
                return subnet_at[subnet.name]
        return gateway_at[end.gateway]

    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size:.0f} {size:.0f}" '
            f'width="{min(size, 1100):.0f}" role="img" aria-label="Topology of the intent" '
            'font-family="system-ui, sans-serif" font-size="13">'
        ),
        "<title>Cygnet topology</title>",
    ]
    for a, b in {
        frozenset((p.a_gateway, p.b_gateway))
        for p in resolved_policies(doc)
        if p.action == "protect" and p.a_gateway != p.b_gateway
    }:
        (x1, y1), (x2, y2) = gateway_at[a], gateway_at[b]
        out.append(
            f'<line class="tunnel" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" '
            f'y2="{y2:.1f}" stroke="#7d8aa0" stroke-opacity=".35" stroke-width="14" '
            f'stroke-linecap="round"><title>tunnel {escape(a)} ⇄ {escape(b)}</title>'
            "</line>"
        )
    for subnet in doc.subnets:
        (x1, y1), (x2, y2) = gateway_at[subnet.gateway], subnet_at[subnet.name]
        out.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            'stroke="#b8c1cf" stroke-width="2"/>'
        )
    for n, (policy, (a, b)) in enumerate(
        zip(doc.policies, resolve_ends(doc), strict=True)
    ):
        (x1, y1), (x2, y2) = spot(a), spot(b)
        bend = 40 + 14 * (n % 5)
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1
        qx, qy = mx - dy / length * bend, my + dx / length * bend
        out.append(
            f'<path class="policy {policy.action}" d="M{x1:.1f},{y1:.1f} '
            f'Q{qx:.1f},{qy:.1f} {x2:.1f},{y2:.1f}" fill="none" '
            f'stroke="{COLOURS[policy.action]}" stroke-width="3" '
            f'stroke-dasharray="{DASHES[policy.action]}">'
            f"<title>{escape(policy.name)}: {policy.action} {escape(str(a.cidr))} ⇄ "
            f"{escape(str(b.cidr))}</title></path>"
        )
    for gateway in gateways:
        x, y = gateway_at[gateway.name]
        out.append(
            f'<g class="gateway"><rect x="{x - 58:.1f}" y="{y - 24:.1f}" width="116" '
            'height="48" rx="10" fill="#18212f"/>'
            f'<text x="{x:.1f}" y="{y - 3:.1f}" text-anchor="middle" fill="#fff" '
            f'font-weight="700">{escape(gateway.name)}</text>'
            f'<text x="{x:.1f}" y="{y + 14:.1f}" text-anchor="middle" fill="#9fb4d3" '
            f'font-size="11">{escape(str(gateway.address))}</text></g>'
        )
    for subnet in doc.subnets:
        x, y = subnet_at[subnet.name]
        out.append(
            f'<g class="subnet"><rect x="{x - 62:.1f}" y="{y - 20:.1f}" width="124" '
            'height="40" rx="20" fill="#fff" stroke="#1f5fbf" stroke-width="2"/>'
            f'<text x="{x:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
            f'font-weight="600">{escape(subnet.name)}</text>'
            f'<text x="{x:.1f}" y="{y + 12:.1f}" text-anchor="middle" fill="#5d6778" '
            f'font-size="11">{escape(str(subnet.cidr))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def _document(request: Request) -> Document:
    with read_session(request.app.state.engine) as session:
        return load_document(session)


@router.get("/topology")
def read_topology(request: Request, visitor: Viewer):
    doc = _document(request)
    return page(
        request,
        "topology.html",
        visitor,
        title="Topology",
        svg=draw(doc),
        crowded=len(doc.gateways) > CROWDED,
        empty=not doc.gateways,
    )


@router.get("/topology.svg")
def read_topology_svg(request: Request, visitor: Viewer):
    return Response(draw(_document(request)), media_type="image/svg+xml")
