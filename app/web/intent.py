"""Gateways, subnets and policies: list, create, edit and delete.

Every write goes through :mod:`app.services.resources`, the same checks the
REST API and import use, so a form gets the same words the API would give,
each shown next to the field it concerns.  A refused form changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData

from app.db import read_session, write_session
from app.services import resources
from app.services.audit import current_revision
from app.services.problems import (
    CygnetError,
    NotFound,
    PreconditionFailed,
    Problem,
    ValidationFailed,
)
from app.services.snapshot import collector_paused, load_document
from app.services.spec import public_form
from app.services.validation.fields import ACTIONS, KEYINGS, MODES
from app.web.policy_tree import build_tree, flatten
from app.web.render import done, field_errors, page
from app.web.security import Admin, AdminForm, Viewer

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
POLICIES_PER_PAGE = 100
# The policy tree of the last revision seen, per engine: every write bumps the
# revision, so a stale tree is never shown.  The first view after a change
# pays for reading the intent and the whole analysis again (both grow about
# linearly: some 150 ms at 10,000 policies); nothing is carried over between
# revisions.
_trees: dict[int, tuple] = {}


@dataclass(frozen=True)
class Kind:
    kind: str
    collection: str
    label: str
    fields: tuple[str, ...]
    checkboxes: tuple[str, ...] = ()


KINDS = {
    "gateway": Kind(
        "gateway",
        "gateways",
        "Gateway",
        ("name", "address", "ike_id", "managed", "route_based"),
        ("managed", "route_based"),
    ),
    "subnet": Kind("subnet", "subnets", "Subnet", ("name", "cidr", "gateway")),
    "policy": Kind(
        "policy",
        "policies",
        "Policy",
        (
            "name",
            "between[0]",
            "between[1]",
            "action",
            "protocol",
            "ports",
            "mode",
            "keying",
        ),
    ),
}


def raw_item(kind: Kind, form: FormData) -> dict[str, Any]:
    """The form as the item the services parse; an empty box means "not given"."""
    raw: dict[str, Any] = {}
    for name in kind.fields:
        if name in kind.checkboxes:
            raw[name] = form.get(name) == "on"
            continue
        value = str(form.get(name) or "").strip()
        if name.startswith("between["):
            raw.setdefault("between", []).append(value)
        elif value or name in ("ike_id", "protocol", "ports"):
            raw[name] = value or None
    return raw


def form_values(kind: Kind, form: FormData | dict) -> dict[str, Any]:
    values = {name: form.get(name) for name in kind.fields}
    for name in kind.checkboxes:
        values[name] = form.get(name) in ("on", True)
    return values


def spec_values(spec) -> dict[str, Any]:
    values = public_form(spec)
    if "between" in values:
        values["between[0]"], values["between[1]"] = values.pop("between")
    return values


def _choices(session, kind: Kind) -> dict[str, Any]:
    doc = load_document(session)
    return {
        "gateway_names": [g.name for g in doc.gateways],
        "subnet_names": [s.name for s in doc.subnets],
        "actions": ACTIONS,
        "modes": MODES,
        "keyings": KEYINGS,
    }


def _form_page(
    request, visitor, kind: Kind, values, errors, name=None, etag=None, status=200
):
    with read_session(request.app.state.engine) as session:
        choices = _choices(session, kind)
    return page(
        request,
        f"intent/{kind.kind}_form.html",
        visitor,
        status,
        title=f"{'Edit' if name else 'New'} {kind.kind}",
        kind=kind,
        values=values,
        errors=errors,
        name=name,
        etag=etag,
        **choices,
    )


def _problems(exc: CygnetError) -> list[Problem]:
    if isinstance(exc, ValidationFailed):
        return exc.problems
    return [Problem((), str(exc))]


def _status(exc: CygnetError) -> int:
    return exc.status if isinstance(exc.status, int) else 422


def _list_gateways(request: Request, visitor, error=None, status=200):
    """Gateways with the number of subnets behind each."""
    with read_session(request.app.state.engine) as session:
        doc = load_document(session)
    behind: dict[str, int] = {}
    for subnet in doc.subnets:
        behind[subnet.gateway] = behind.get(subnet.gateway, 0) + 1
    return page(
        request,
        "intent/gateways.html",
        visitor,
        status,
        title="Gateways",
        gateways=doc.gateways,
        behind=behind,
        error=error,
    )


def _list_subnets(request: Request, visitor, error=None, status=200):
    with read_session(request.app.state.engine) as session:
        doc = load_document(session)
    return page(
        request,
        "intent/subnets.html",
        visitor,
        status,
        title="Subnets",
        subnets=doc.subnets,
        error=error,
    )


def policy_page(engine, number: int = 1, per_page: int = POLICIES_PER_PAGE):
    """(rows of this page, page count, flagged count, total): one page of trees."""
    with read_session(engine) as session:
        revision = current_revision(session)
        cached = _trees.get(id(engine))
        if cached is None or cached[0] != revision:
            # The collector stays off until the tree is counted too: a full
            # collection over its fresh objects would cost more than building it.
            with collector_paused():
                doc = load_document(session)
                roots = build_tree(doc)
                flagged = sum(
                    1
                    for node in flatten(roots)
                    if any(level != "info" for level, _ in node.flags)
                )
            cached = (revision, roots, len(doc.policies), flagged)
            _trees[id(engine)] = cached
    _, roots, count, flagged = cached
    pages = max(1, -(-len(roots) // per_page))
    number = min(max(number, 1), pages)
    shown = flatten(roots[(number - 1) * per_page : number * per_page])
    return shown, number, pages, flagged, count


def _list_policies(request: Request, visitor, page_number=1, error=None, status=200):
    rows, number, pages, flagged, total = policy_page(
        request.app.state.engine, page_number
    )
    return page(
        request,
        "intent/policies.html",
        visitor,
        status,
        title="Policies",
        rows=rows,
        number=number,
        pages=pages,
        flagged=flagged,
        total=total,
        error=error,
    )


LISTS = {"gateway": _list_gateways, "subnet": _list_subnets, "policy": _list_policies}


def _routes(kind: Kind) -> None:
    base = f"/{kind.collection}"

    def new_form(request: Request, visitor: Admin):
        defaults = {"managed": True} if kind.kind == "gateway" else {}
        return _form_page(request, visitor, kind, defaults, {})

    def create(request: Request, visitor: Admin, form: AdminForm):
        try:
            with write_session(request.app.state.engine) as session:
                spec = resources.create_item(
                    session, kind.kind, raw_item(kind, form), visitor.name
                )
        except CygnetError as exc:
            return _form_page(
                request,
                visitor,
                kind,
                form_values(kind, form),
                field_errors(_problems(exc)),
                status=_status(exc),
            )
        return done(base, f"{kind.label} {spec.name} created.")

    def edit_form(name: str, request: Request, visitor: Admin):
        try:
            with read_session(request.app.state.engine) as session:
                spec = resources.get_item(session, kind.kind, name)
        except NotFound as exc:
            return page(
                request, "error.html", visitor, 404, title="Not found", message=str(exc)
            )
        return _form_page(
            request, visitor, kind, spec_values(spec), {}, name, resources.etag(spec)
        )

    def update(name: str, request: Request, visitor: Admin, form: AdminForm):
        try:
            with write_session(request.app.state.engine) as session:
                spec = resources.update_item(
                    session,
                    kind.kind,
                    name,
                    raw_item(kind, form),
                    visitor.name,
                    form.get("etag") or None,
                )
        except PreconditionFailed:
            problem = Problem(
                (),
                f"someone changed {kind.kind} {name} while you were editing it; "
                "reload the page to see their change, then edit again",
            )
            return _form_page(
                request,
                visitor,
                kind,
                form_values(kind, form),
                field_errors([problem]),
                name,
                form.get("etag"),
                412,
            )
        except CygnetError as exc:
            return _form_page(
                request,
                visitor,
                kind,
                form_values(kind, form),
                field_errors(_problems(exc)),
                name,
                form.get("etag"),
                _status(exc),
            )
        return done(base, f"{kind.label} {spec.name} saved.")

    def delete(name: str, request: Request, visitor: Admin, form: AdminForm):
        try:
            with write_session(request.app.state.engine) as session:
                resources.delete_item(session, kind.kind, name, visitor.name)
        except CygnetError as exc:
            message = "; ".join(p.message for p in _problems(exc))
            return LISTS[kind.kind](
                request,
                visitor,
                error=f"{kind.kind} {name} was not deleted: {message}",
                status=_status(exc),
            )
        return done(base, f"{kind.label} {name} deleted.")

    router.add_api_route(f"{base}/new", new_form, methods=["GET"])
    router.add_api_route(f"{base}/new", create, methods=["POST"])
    router.add_api_route(f"{base}/{{name}}/edit", edit_form, methods=["GET"])
    router.add_api_route(f"{base}/{{name}}/edit", update, methods=["POST"])
    router.add_api_route(f"{base}/{{name}}/delete", delete, methods=["POST"])


@router.get("/gateways")
def list_gateways(request: Request, visitor: Viewer):
    return _list_gateways(request, visitor)


@router.get("/subnets")
def list_subnets(request: Request, visitor: Viewer):
    return _list_subnets(request, visitor)


@router.get("/policies")
def list_policies(request: Request, visitor: Viewer, page: int = 1):
    return _list_policies(request, visitor, page)


for _kind in KINDS.values():
    _routes(_kind)
