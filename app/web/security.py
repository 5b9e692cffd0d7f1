"""The console's own guard: session cookie, role, and the CSRF token of each form.

A page that needs a login sends the browser to ``/login``; a role that may not
see a page gets a 403 page saying which role it needs; a form posted without
its session's CSRF token is refused with 403 and changes nothing.
"""

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from app.auth.accounts import Principal
from app.auth.roles import roles_from
from app.auth.sessions import COOKIE, csrf_ok, find_session
from app.db import read_session

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf"
CSRF_REFUSED = (
    "this form came without a valid CSRF token, so it was refused and nothing "
    "was changed; reload the page and submit the form again"
)


class LoginRequired(Exception):
    """No live session: the browser goes to the login page."""


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Visitor:
    """A logged-in browser: who it is and its session's CSRF token."""

    principal: Principal
    csrf: str

    @property
    def name(self) -> str:
        return self.principal.name

    def may(self, needed: str) -> bool:
        return self.principal.may(needed)


def current_visitor(request: Request) -> Visitor:
    with read_session(request.app.state.engine) as session:
        found = find_session(session, request.cookies.get(COOKIE))
    if found is None:
        raise LoginRequired()
    principal, csrf = found
    request.state.principal = principal
    return Visitor(principal, csrf)


def needs(role: str):
    """A dependency: the visitor, when their role is at least ``role``."""

    def check(visitor: Annotated[Visitor, Depends(current_visitor)]) -> Visitor:
        if not visitor.may(role):
            raise Forbidden(
                f"{visitor.name} is {visitor.principal.role}; this page needs "
                f"{roles_from(role)}"
            )
        return visitor

    return check


async def _form(request: Request) -> FormData:
    return await request.form()


def checked_form(role: str):
    """A dependency for POSTs: the form, once its CSRF token matches the session's."""

    def check(
        request: Request,
        visitor: Annotated[Visitor, Depends(needs(role))],
        form: Annotated[FormData, Depends(_form)],
    ) -> FormData:
        if not csrf_ok(visitor.csrf, form.get(CSRF_FIELD)):
            log.warning(
                "refused a form from %s to %s: no valid CSRF token",
                visitor.name,
                request.url.path,
            )
            raise Forbidden(CSRF_REFUSED)
        return form

    return check


Viewer = Annotated[Visitor, Depends(needs("viewer"))]
Operator = Annotated[Visitor, Depends(needs("operator"))]
Admin = Annotated[Visitor, Depends(needs("admin"))]
OperatorForm = Annotated[FormData, Depends(checked_form("operator"))]
AdminForm = Annotated[FormData, Depends(checked_form("admin"))]
