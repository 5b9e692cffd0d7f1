"""/users and /tokens: accounts and API tokens, for admins only."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from app.auth import accounts
from app.auth.roles import ROLES
from app.db import read_session, write_session
from app.services.problems import CygnetError, Problem, ValidationFailed
from app.web.render import done, field_errors, page
from app.web.security import Admin, AdminForm

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


def _problems(exc: CygnetError) -> list[Problem]:
    return (
        exc.problems if isinstance(exc, ValidationFailed) else [Problem((), str(exc))]
    )


def _users_page(request, visitor, errors=None, values=None, status=200):
    with read_session(request.app.state.engine) as session:
        users = [(u.name, u.role, u.created_at) for u in accounts.list_users(session)]
    return page(
        request,
        "admin/users.html",
        visitor,
        status,
        title="Users",
        users=users,
        roles=ROLES,
        errors=errors or {},
        values=values or {},
    )


@router.get("/users")
def list_users(request: Request, visitor: Admin):
    return _users_page(request, visitor)


@router.post("/users/new")
def create_user(request: Request, visitor: Admin, form: AdminForm):
    values = {"name": form.get("name") or "", "role": form.get("role") or ""}
    password = str(form.get("password") or "")
    try:
        if password != form.get("password2"):
            raise ValidationFailed(
                [Problem(("password",), "the two entries differ; type it again")]
            )
        with write_session(request.app.state.engine) as session:
            accounts.create_user(
                session, values["name"].strip(), values["role"], password, visitor.name
            )
    except CygnetError as exc:
        return _users_page(request, visitor, field_errors(_problems(exc)), values, 422)
    return done("/users", f"User {values['name']} added.")


@router.post("/users/{name}/role")
def change_role(name: str, request: Request, visitor: Admin, form: AdminForm):
    try:
        with write_session(request.app.state.engine) as session:
            accounts.set_role(session, name, str(form.get("role") or ""), visitor.name)
    except CygnetError as exc:
        return _users_page(
            request,
            visitor,
            {"": [f"{name}: {p.message}" for p in _problems(exc)]},
            status=409,
        )
    return done("/users", f"{name} is now {form.get('role')}.")


@router.post("/users/{name}/delete")
def delete_user(name: str, request: Request, visitor: Admin, form: AdminForm):
    try:
        with write_session(request.app.state.engine) as session:
            accounts.delete_user(session, name, visitor.name)
    except CygnetError as exc:
        return _users_page(
            request, visitor, {"": [p.message for p in _problems(exc)]}, status=409
        )
    return done("/users", f"User {name} removed, with their tokens.")


def _tokens_page(request, visitor, errors=None, values=None, secret=None, status=200):
    with read_session(request.app.state.engine) as session:
        tokens = [
            (t.id, t.user.name, t.role, t.prefix, t.label, t.created_at)
            for t in accounts.list_tokens(session)
        ]
        users = [u.name for u in accounts.list_users(session)]
    return page(
        request,
        "admin/tokens.html",
        visitor,
        status,
        title="API tokens",
        tokens=tokens,
        users=users,
        roles=ROLES,
        errors=errors or {},
        values=values or {},
        secret=secret,
    )


@router.get("/tokens")
def list_tokens(request: Request, visitor: Admin):
    return _tokens_page(request, visitor)


@router.post("/tokens/new")
def create_token(request: Request, visitor: Admin, form: AdminForm):
    values = {k: str(form.get(k) or "") for k in ("user", "role", "label")}
    try:
        with write_session(request.app.state.engine) as session:
            _, secret = accounts.create_token(
                session,
                values["user"],
                visitor.name,
                values["role"] or None,
                values["label"],
            )
    except CygnetError as exc:
        return _tokens_page(
            request, visitor, field_errors(_problems(exc)), values, status=422
        )
    # Shown once, on this response only: it is stored as a digest.
    return _tokens_page(request, visitor, secret=secret)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: int, request: Request, visitor: Admin, form: AdminForm):
    try:
        with write_session(request.app.state.engine) as session:
            accounts.revoke_token(session, token_id, visitor.name)
    except CygnetError as exc:
        return _tokens_page(request, visitor, {"": [str(exc)]}, status=404)
    return done("/tokens", f"Token {token_id} revoked.")
