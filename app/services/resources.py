"""Gateways, subnets and policies one at a time: what the API's CRUD calls do.

Every change is checked the same way an import is: the stored document with the
change applied must pass every rule.  Problems in the changed item are reported
by field (``cidr``); problems the change would cause elsewhere are reported at
the other item, as ``policies/web.between[0]``.  Problems that were already
there before the change are not the change's fault and do not block it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import read_session, write_session
from app.models import Gateway, Policy
from app.services.addressing import contains
from app.services.audit import current_revision
from app.services.document import read_document
from app.services.problems import (
    CONFLICT,
    NotFound,
    PreconditionFailed,
    Problem,
    ValidationFailed,
)
from app.services.snapshot import (
    gateway_query,
    gateway_specs,
    load_document,
    policy_query,
    policy_specs,
    subnet_specs,
)
from app.services.spec import (
    COLLECTIONS,
    Document,
    GatewaySpec,
    PolicySpec,
    Spec,
    SubnetSpec,
    public_form,
)
from app.services.store import write_document
from app.services.validation import check_delete, parse_item, validate_document
from app.services.validation.rules import End, Items, resolve_policy


def etag(spec: Spec) -> str:
    """A strong ETag: a digest of the item's public form."""
    text = json.dumps(public_form(spec), sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:24] + '"'


def intent_etag(revision: int) -> str:
    return f'"revision-{revision}"'


def if_match_ok(header: str | None, current: str | None) -> bool:
    """RFC 9110 If-Match with strong comparison; no header always matches."""
    if header is None:
        return True
    if current is None:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or current in tags


def get_item(session: Session, kind: str, name: str) -> Spec:
    doc = load_document(session)
    index = doc.find(kind, name)
    if index is None:
        raise NotFound(kind, name)
    return doc.items(kind)[index]


def _relative(
    problems: list[Problem], doc: Document, focus: tuple[str, int] | None
) -> list[Problem]:
    """Paths relative to the changed item; other items named ``kind/name``."""
    out = []
    for p in problems:
        if focus and p.path[:2] == (COLLECTIONS[focus[0]], focus[1]):
            out.append(replace(p, path=p.path[2:]))
        elif len(p.path) >= 2 and isinstance(p.path[1], int):
            kind = next(k for k, c in COLLECTIONS.items() if c == p.path[0])
            name = doc.items(kind)[p.path[1]].name
            out.append(replace(p, path=(f"{p.path[0]}/{name}",) + p.path[2:]))
        else:
            out.append(p)
    return out


def _new_problems(
    current: Document, candidate: Document, focus: tuple[str, int] | None
) -> list[Problem]:
    """What the candidate breaks that the current document did not already break."""
    old = {
        (p.field, p.message)
        for p in _relative(validate_document(current), current, None)
    }
    found = validate_document(candidate, focus)
    return [
        rel
        for rel, named in zip(
            _relative(found, candidate, focus),
            _relative(found, candidate, None),
            strict=True,
        )
        if (named.field, named.message) not in old
    ]


def _follow_rename(doc: Document, kind: str, old: str, new: str) -> None:
    """References by name follow a rename, as the stored foreign keys do."""
    if old == new:
        return
    if kind == "gateway":
        doc.subnets = [
            replace(s, gateway=new) if s.gateway == old else s for s in doc.subnets
        ]
    if kind == "subnet":
        doc.policies = [
            replace(p, between=tuple(new if e == old else e for e in p.between))
            if old in p.between
            else p
            for p in doc.policies
        ]


def _parse(kind: str, raw: Mapping[str, Any]) -> Spec:
    spec, problems = parse_item(kind, raw, ())
    if problems:
        raise ValidationFailed(problems)
    return spec


def _commit(
    session: Session, current: Document, candidate: Document, focus, actor: str
) -> None:
    problems = _new_problems(current, candidate, focus)
    if problems:
        raise ValidationFailed(problems)
    write_document(session, candidate, actor)


def create_item(
    session: Session, kind: str, raw: Mapping[str, Any], actor: str
) -> Spec:
    """Add a new item; its name must be free."""
    spec = _parse(kind, raw)
    current = load_document(session)
    if current.find(kind, spec.name) is not None:
        raise ValidationFailed(
            [
                Problem(
                    ("name",),
                    f"a {kind} named {spec.name!r} already exists; choose another "
                    f"name, or PUT /api/v1/{COLLECTIONS[kind]}/{spec.name} to "
                    "replace it",
                    CONFLICT,
                )
            ]
        )
    candidate = current.copy()
    candidate.items(kind).append(spec)
    _commit(session, current, candidate, (kind, len(candidate.items(kind)) - 1), actor)
    return get_item(session, kind, spec.name)


def _change(
    session: Session,
    kind: str,
    name: str,
    make: Callable[[Spec], Spec],
    actor: str,
    if_match: str | None,
) -> Spec:
    current = load_document(session)
    index = current.find(kind, name)
    if index is None:
        raise NotFound(kind, name)
    old = current.items(kind)[index]
    if not if_match_ok(if_match, etag(old)):
        raise PreconditionFailed(f"{kind} {name}", etag(old))
    new = replace(make(old), key=old.key)
    candidate = current.copy()
    candidate.items(kind)[index] = new
    _follow_rename(candidate, kind, old.name, new.name)
    _commit(session, current, candidate, (kind, index), actor)
    return get_item(session, kind, new.name)


def replace_item(
    session: Session,
    kind: str,
    name: str,
    raw: Mapping[str, Any],
    actor: str,
    if_match: str | None = None,
) -> tuple[Spec, bool]:
    """Replace the item (PUT), or create it if there is none; (spec, created)."""
    raw = dict(raw)
    if raw.setdefault("name", name) != name:
        raise ValidationFailed(
            [
                Problem(
                    ("name",),
                    f"{raw['name']!r} differs from {name!r} in the path; leave name "
                    'out of a PUT, or rename with PATCH {"name": ...}',
                )
            ]
        )
    spec = _parse(kind, raw)
    if load_document(session).find(kind, name) is None:
        if not if_match_ok(if_match, None):
            raise PreconditionFailed(f"{kind} {name}", "absent: it does not exist")
        return create_item(session, kind, raw, actor), True
    return _change(session, kind, name, lambda _: spec, actor, if_match), False


def update_item(
    session: Session,
    kind: str,
    name: str,
    patch: Mapping[str, Any],
    actor: str,
    if_match: str | None = None,
) -> Spec:
    """Change some fields (PATCH); a ``name`` in ``patch`` renames the item."""

    def make(old: Spec) -> Spec:
        return _parse(kind, {**public_form(old), **patch})

    return _change(session, kind, name, make, actor, if_match)


def delete_item(
    session: Session, kind: str, name: str, actor: str, if_match: str | None = None
) -> None:
    """Delete the item unless something still uses it."""
    current = load_document(session)
    index = current.find(kind, name)
    if index is None:
        raise NotFound(kind, name)
    old = current.items(kind)[index]
    if not if_match_ok(if_match, etag(old)):
        raise PreconditionFailed(f"{kind} {name}", etag(old))
    users = check_delete(current, kind, name)
    if users:
        raise ValidationFailed(_relative(users, current, (kind, index)))
    candidate = current.copy()
    del candidate.items(kind)[index]
    _commit(session, current, candidate, None, actor)


def replace_document(
    session: Session, doc: Document, actor: str, if_match: str | None = None
) -> int:
    """Make ``doc`` (already validated) the whole intent; returns the changes."""
    revision = current_revision(session)
    if not if_match_ok(if_match, intent_etag(revision)):
        raise PreconditionFailed("the intent", intent_etag(revision))
    return write_document(session, doc, actor, renumber=True)


def policy_touches(
    policy: PolicySpec,
    items: Items,
    gateway: str | None = None,
    subnet: str | None = None,
) -> bool:
    """Whether an end of ``policy`` lies behind ``gateway`` or inside ``subnet``."""
    target = items.subnet_by_name.get(subnet) if subnet else None
    for text, end in zip(policy.between, resolve_policy(policy, items), strict=True):
        if not isinstance(end, End):
            continue
        if gateway is not None and end.gateway == gateway:
            return True
        if subnet is not None and (
            text == subnet or (target and contains(target.cidr, end.cidr))
        ):
            return True
    return False


def _passes(spec: Spec, filters: Mapping[str, Any], items: Items | None) -> bool:
    """Whether ``spec`` passes every filter (``items`` for the ends' filters)."""
    if filters.get("name") and not spec.name.startswith(filters["name"]):
        return False
    if (
        isinstance(spec, GatewaySpec)
        and filters.get("managed") is not None
        and spec.managed != filters["managed"]
    ):
        return False
    if isinstance(spec, SubnetSpec):
        if filters.get("gateway") and spec.gateway != filters["gateway"]:
            return False
        if filters.get("family") and spec.cidr.version != filters["family"]:
            return False
    if isinstance(spec, PolicySpec):
        if any(
            filters.get(f) is not None and getattr(spec, f) != filters[f]
            for f in ("action", "protocol", "mode", "keying")
        ):
            return False
        if filters.get("gateway") and not policy_touches(
            spec, items, gateway=filters["gateway"]
        ):
            return False
        if filters.get("subnet") and not policy_touches(
            spec, items, subnet=filters["subnet"]
        ):
            return False
    return True


def list_items(session: Session, kind: str, filters: Mapping[str, Any]) -> list[Spec]:
    """The items of ``kind`` that pass every filter, in document order.

    Filters: ``name`` (a prefix) for all; ``managed`` for gateways; ``gateway``
    and ``family`` for subnets; ``action``, ``protocol``, ``mode``, ``keying``,
    ``gateway`` (an end behind it) and ``subnet`` (an end naming or inside it)
    for policies.
    """
    items = None
    if kind == "gateway":
        specs: list[Spec] = gateway_specs(session)
    elif kind == "subnet":
        specs = subnet_specs(session)
    else:
        specs = policy_specs(session)
        if filters.get("gateway") or filters.get("subnet"):
            # Ends resolve against the subnets alone; gateways and the other
            # policies play no part in it.
            items = Items([], subnet_specs(session), [])
    return [spec for spec in specs if _passes(spec, filters, items)]


def _prefix(column, prefix: str):
    """``column`` starts with ``prefix``, case and wildcards taken literally."""
    return func.substr(column, 1, len(prefix)) == prefix


def list_page(
    session: Session, kind: str, filters: Mapping[str, Any], offset: int, limit: int
) -> tuple[list[Spec], int]:
    """One page of :func:`list_items` and the number of items on all pages.

    Gateways, and policies filtered by nothing about their ends, are counted
    and cut to the page in the database, so a page reads only its own rows.
    Other lists are filtered here after reading every candidate.
    """
    if kind == "gateway":
        query, model = gateway_query(), Gateway
    elif kind == "policy" and not (filters.get("gateway") or filters.get("subnet")):
        query, model = policy_query(), Policy
    else:
        found = list_items(session, kind, filters)
        return found[offset : offset + limit], len(found)

    conditions = []
    if filters.get("name"):
        conditions.append(_prefix(model.name, filters["name"]))
    if kind == "gateway" and filters.get("managed") is not None:
        conditions.append(Gateway.managed == filters["managed"])
    if kind == "policy":
        for name in ("action", "protocol", "mode", "keying"):
            if filters.get(name) is not None:
                conditions.append(getattr(Policy, name) == filters[name])
    total = session.scalar(select(func.count()).select_from(model).where(*conditions))
    query = query.where(*conditions).offset(offset).limit(limit)
    if kind == "gateway":
        return gateway_specs(session, query), int(total or 0)
    return policy_specs(session, query), int(total or 0)


class _DryRun(Exception):
    def __init__(self, changes: int) -> None:
        self.changes = changes


def import_text(
    engine,
    text: str | bytes,
    actor: str,
    if_match: str | None = None,
    dry_run: bool = False,
) -> tuple[int, int]:
    """Replace the intent with a YAML or JSON document; (revision, changes).

    All or nothing: any problem anywhere raises :class:`ValidationFailed` listing
    every problem with its line, and nothing is written.  ``dry_run`` checks the
    document against the stored state and reports what would change.
    """
    doc = read_document(text)
    try:
        with write_session(engine) as session:
            changes = replace_document(session, doc, actor, if_match)
            revision = current_revision(session)
            if dry_run:
                raise _DryRun(changes)
    except _DryRun as outcome:
        with read_session(engine) as session:
            revision = current_revision(session) + (1 if outcome.changes else 0)
        return revision, outcome.changes
    return revision, changes
