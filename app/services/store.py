"""The intent document in the database: read it, and write a new one.

:func:`write_document` makes the database hold exactly the given document,
touching only what differs: rows are matched by ``key`` (their id) and else by
name, so untouched rows, their ids and the tunnel numbers tied to gateway ids
stay as they are.  Every difference is audited, and the tunnels are brought in
line in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Gateway, Policy, Subnet
from app.services.audit import record_change
from app.services.snapshot import (
    gateway_spec as _gateway_spec,
)
from app.services.snapshot import (
    policy_spec as _policy_spec,
)
from app.services.snapshot import (
    subnet_spec as _subnet_spec,
)
from app.services.spec import (
    Document,
    GatewaySpec,
    PolicySpec,
    Spec,
    SubnetSpec,
    public_form,
)
from app.services.tunnels import ensure_tunnels

log = logging.getLogger(__name__)


class _Sync:
    """Bring one table in line with one list of specs."""

    def __init__(self, session: Session, actor: str, renumber: bool) -> None:
        self.session, self.actor, self.renumber = session, actor, renumber
        self.changes = 0
        self.before: dict[tuple[type, int], dict] = {}

    def remember(self, rows: list, to_spec: Callable[[object], Spec]) -> None:
        """Note the public form of ``rows`` before anything changes."""
        for row in rows:
            if row is not None:
                self.before[(type(row), row.id)] = public_form(to_spec(row))

    def match(self, model, specs: list[Spec]) -> tuple[list, list]:
        """(row or None for each spec, rows no spec matched)."""
        rows = self.session.scalars(select(model)).all()
        by_id = {r.id: r for r in rows}
        by_name = {r.name: r for r in rows}
        matched, used = [], set()
        for spec in specs:
            row = (
                by_id.get(spec.key) if spec.key is not None else by_name.get(spec.name)
            )
            if row is not None and row.id in used:
                row = None
            matched.append(row)
            if row is not None:
                used.add(row.id)
        return matched, [r for r in rows if r.id not in used]

    def vacate(self, specs: list[Spec], rows: list, gone: list, unique: dict) -> None:
        """Move unique values out of the way so renames and swaps cannot collide.

        ``unique`` maps a column to how a spec gives its value.  Rows about to
        change such a value, and rows about to go, hold a placeholder until
        :meth:`apply` or :meth:`delete` deals with them; nothing of it is
        committed.
        """
        moved = False
        for spec, row in [*zip(specs, rows, strict=True), *((None, r) for r in gone)]:
            if row is None:
                continue
            for column, value_of in unique.items():
                if spec is None or getattr(row, column) != value_of(spec):
                    setattr(row, column, f"~{row.id}")
                    moved = True
        if moved:
            self.session.flush()

    def apply(
        self,
        kind: str,
        model,
        specs: list[Spec],
        rows: list,
        assign: Callable[[object, Spec], None],
    ) -> dict[str, object]:
        next_position = (self.session.scalar(select(func.max(model.position))) or 0) + 1
        by_name = {}
        for index, (spec, row) in enumerate(zip(specs, rows, strict=True)):
            before = self.before.get((model, row.id)) if row is not None else None
            if row is None:
                row = model()
                self.session.add(row)
            assign(row, spec)
            if self.renumber:
                row.position = index
            elif before is None:
                row.position, next_position = next_position, next_position + 1
            after = public_form(spec)
            if before != after:
                action = "create" if before is None else "update"
                record_change(
                    self.session, self.actor, kind, spec.name, action, before, after
                )
                self.changes += 1
            by_name[spec.name] = row
        self.session.flush()
        return by_name

    def delete(self, kind: str, rows: list) -> None:
        for row in rows:
            form = self.before[(type(row), row.id)]
            self.session.delete(row)
            record_change(
                self.session, self.actor, kind, row.name, "delete", form, None
            )
            self.changes += 1
        self.session.flush()


def write_document(
    session: Session, doc: Document, actor: str, *, renumber: bool = False
) -> int:
    """Make the database hold ``doc`` (already validated); returns the changes made.

    With ``renumber`` the document order becomes the stored order (import);
    otherwise new items go last and the others keep their places.
    """
    sync = _Sync(session, actor, renumber)
    gateway_rows, gone_gateways = sync.match(Gateway, doc.gateways)
    subnet_rows, gone_subnets = sync.match(Subnet, doc.subnets)
    policy_rows, gone_policies = sync.match(Policy, doc.policies)

    # Policies that go first, so nothing they name stands in the way; then
    # gateways, subnets and policies in dependency order; then what is left.
    sync.remember(gateway_rows + gone_gateways, _gateway_spec)
    sync.remember(subnet_rows + gone_subnets, _subnet_spec)
    sync.remember(policy_rows + gone_policies, _policy_spec)
    sync.delete("policy", gone_policies)
    sync.vacate(
        doc.gateways,
        gateway_rows,
        gone_gateways,
        {"name": lambda g: g.name, "address": lambda g: str(g.address)},
    )
    sync.vacate(doc.subnets, subnet_rows, gone_subnets, {"name": lambda s: s.name})
    sync.vacate(doc.policies, policy_rows, [], {"name": lambda p: p.name})

    def assign_gateway(row: Gateway, spec: GatewaySpec) -> None:
        row.name, row.address = spec.name, str(spec.address)
        row.ike_id, row.managed, row.route_based = (
            spec.ike_id,
            spec.managed,
            spec.route_based,
        )

    gateways = sync.apply(
        "gateway", Gateway, doc.gateways, gateway_rows, assign_gateway
    )

    def assign_subnet(row: Subnet, spec: SubnetSpec) -> None:
        row.name, row.cidr = spec.name, str(spec.cidr)
        row.gateway = gateways[spec.gateway]

    subnets = sync.apply("subnet", Subnet, doc.subnets, subnet_rows, assign_subnet)

    def assign_policy(row: Policy, spec: PolicySpec) -> None:
        row.name, row.action, row.mode, row.keying = (
            spec.name,
            spec.action,
            spec.mode,
            spec.keying,
        )
        row.protocol = spec.protocol
        row.port_first = spec.ports.first if spec.ports else None
        row.port_last = spec.ports.last if spec.ports else None
        (a, b) = spec.between
        row.a_subnet, row.a_cidr = (subnets.get(a), None) if a in subnets else (None, a)
        row.b_subnet, row.b_cidr = (subnets.get(b), None) if b in subnets else (None, b)

    sync.apply("policy", Policy, doc.policies, policy_rows, assign_policy)
    sync.delete("subnet", gone_subnets)
    sync.delete("gateway", gone_gateways)

    if sync.changes:
        ensure_tunnels(session, actor=actor)
    log.debug("wrote the intent document: %d changes", sync.changes)
    return sync.changes
