"""Reading the stored intent back as a document of specs."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

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


def _ordered(model):
    return select(model).order_by(model.position, model.id)


def load_document(session: Session) -> Document:
    """The intent as stored, in document order, each item keyed by its row id."""
    gateways = session.scalars(_ordered(Gateway)).all()
    subnets = session.scalars(
        _ordered(Subnet).options(selectinload(Subnet.gateway))
    ).all()
    policies = session.scalars(
        _ordered(Policy).options(
            selectinload(Policy.a_subnet), selectinload(Policy.b_subnet)
        )
    ).all()
    return Document(
        [gateway_spec(g) for g in gateways],
        [subnet_spec(s) for s in subnets],
        [policy_spec(p) for p in policies],
    )
