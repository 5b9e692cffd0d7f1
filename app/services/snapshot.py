"""Reading the stored intent back as a document of specs.

The readers select plain columns (subnet and gateway names joined in) rather
than ORM objects: at 10,000 policies, building and relating mapped objects took
most of a page's time.  The ``*_spec`` functions over mapped rows remain for the
writer, which holds rows it is about to change.
"""

from __future__ import annotations

import gc
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from app.models import Gateway, Policy, Subnet
from app.services.spec import Document, GatewaySpec, PolicySpec, SubnetSpec
from datapath.intent import PortRange


def gateway_spec(row: Gateway) -> GatewaySpec:
    return GatewaySpec(
        row.name,
        ipaddress.ip_address(row.address),
        row.managed,
        row.ike_id,
        row.route_based,
        key=row.id,
    )


def subnet_spec(row: Subnet) -> SubnetSpec:
    return SubnetSpec(
        row.name, ipaddress.ip_network(row.cidr), row.gateway.name, row.id
    )


def policy_spec(row: Policy) -> PolicySpec:
    a = row.a_subnet.name if row.a_subnet is not None else row.a_cidr
    b = row.b_subnet.name if row.b_subnet is not None else row.b_cidr
    ports = None
    if row.port_first is not None:
        ports = PortRange(row.port_first, row.port_last)
    return PolicySpec(
        row.name, (a, b), row.action, row.protocol, ports, row.mode, row.keying, row.id
    )


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold Python's cycle collector off while a large intent is built.

    Reading 10,000 policies makes some 100,000 objects and no cycles, yet the
    allocations alone set off full collections that walk the whole heap, which
    at that size cost as much as the reading.  The collector is switched off
    for the whole process, not just this thread, until the outermost caller
    is done; a request that allocates meanwhile is collected afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def gateway_query() -> Select:
    """Gateways as (id, name, address, managed, ike_id, route_based), in order."""
    return select(
        Gateway.id,
        Gateway.name,
        Gateway.address,
        Gateway.managed,
        Gateway.ike_id,
        Gateway.route_based,
    ).order_by(Gateway.position, Gateway.id)


def subnet_query() -> Select:
    """Subnets as (id, name, cidr, gateway name), in order."""
    return (
        select(Subnet.id, Subnet.name, Subnet.cidr, Gateway.name)
        .join(Gateway, Subnet.gateway_id == Gateway.id)
        .order_by(Subnet.position, Subnet.id)
    )


def policy_query() -> Select:
    """Policies as (id, name, a name, a cidr, b name, b cidr, action, protocol,
    first port, last port, mode, keying), in order; a name is None for a CIDR end."""
    a, b = aliased(Subnet), aliased(Subnet)
    return (
        select(
            Policy.id,
            Policy.name,
            a.name,
            Policy.a_cidr,
            b.name,
            Policy.b_cidr,
            Policy.action,
            Policy.protocol,
            Policy.port_first,
            Policy.port_last,
            Policy.mode,
            Policy.keying,
        )
        .outerjoin(a, Policy.a_subnet_id == a.id)
        .outerjoin(b, Policy.b_subnet_id == b.id)
        .order_by(Policy.position, Policy.id)
    )


def gateway_specs(session: Session, query: Select | None = None) -> list[GatewaySpec]:
    """Gateways from :func:`gateway_query` (or a narrowed copy of it)."""
    address = ipaddress.ip_address
    return [
        GatewaySpec(name, address(text), managed, ike_id, route_based, key=id_)
        for id_, name, text, managed, ike_id, route_based in session.execute(
            gateway_query() if query is None else query
        )
    ]


def subnet_specs(session: Session, query: Select | None = None) -> list[SubnetSpec]:
    """Subnets from :func:`subnet_query` (or a narrowed copy of it)."""
    network = ipaddress.ip_network
    return [
        SubnetSpec(name, network(cidr), gateway, id_)
        for id_, name, cidr, gateway in session.execute(
            subnet_query() if query is None else query
        )
    ]


def policy_specs(session: Session, query: Select | None = None) -> list[PolicySpec]:
    """Policies from :func:`policy_query` (or a narrowed copy of it)."""
    ranges: dict[tuple[int, int], PortRange] = {}
    specs = []
    for row in session.execute(policy_query() if query is None else query):
        (id_, name, a_name, a_cidr, b_name, b_cidr) = row[:6]
        (action, protocol, first, last, mode, keying) = row[6:]
        ports = None
        if first is not None:
            ports = ranges.get((first, last))
            if ports is None:
                ports = ranges[(first, last)] = PortRange(first, last)
        a = a_name if a_name is not None else a_cidr
        b = b_name if b_name is not None else b_cidr
        specs.append(
            PolicySpec(name, (a, b), action, protocol, ports, mode, keying, id_)
        )
    return specs


def load_document(session: Session) -> Document:
    """The intent as stored, in document order, each item keyed by its row id."""
    with collector_paused():
        return Document(
            gateway_specs(session), subnet_specs(session), policy_specs(session)
        )
