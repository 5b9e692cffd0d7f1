"""/login and /logout.

The login form carries its own CSRF token (a cookie and a hidden field that
must match), since there is no session yet to hold one.  Failed logins are
limited per client address and per user name (:mod:`app.auth.ratelimit`).
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from app.auth.accounts import authenticate
from app.auth.ratelimit import LoginLimiter
from app.auth.sessions import COOKIE, LIFETIME, csrf_ok, end_session, start_session
from app.db import write_session
from app.web.render import page
from app.web.security import CSRF_REFUSED, checked_form

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

LOGIN_COOKIE = "cygnet_login"
WRONG = "wrong user name or password; check both and try again"


def _safe_next(target: str | None) -> str:
    """Only a path on this appliance, never another site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _login_page(request: Request, status: int = 200, error: str = "", name: str = ""):
    token = secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        None,
        status,
        title="Log in",
        error=error,
        login_csrf=token,
        next=_safe_next(request.query_params.get("next") or ""),
        values={"name": name},
    )
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", max_age=3600
    )
    return response


def _limiter(request: Request) -> LoginLimiter:
    """One limiter per application (so each test's app starts afresh)."""
    state = request.app.state
    if getattr(state, "login_limiter", None) is None:
        state.login_limiter = LoginLimiter()
    return state.login_limiter


@router.get("/login", response_class=HTMLResponse)
def read_login(request: Request):
    return _login_page(request)


async def _form(request: Request) -> FormData:
    return await request.form()


@router.post("/login")
def login(request: Request, form: Annotated[FormData, Depends(_form)]):
    name = str(form.get("name") or "").strip()
    if not csrf_ok(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return _login_page(request, 403, CSRF_REFUSED, name)
    limiter = _limiter(request)
    address = request.client.host if request.client else "unknown"
    keys = [f"address:{address}", f"user:{name.lower()}"]
    wait = limiter.retry_after(keys)
    if wait is not None:
        log.warning("login of %r from %s refused: too many failures", name, address)
        response = _login_page(
            request,
            429,
            f"too many failed logins; wait {wait} seconds and try again",
            name,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    with write_session(request.app.state.engine) as session:
        user = authenticate(session, name, str(form.get("password") or ""))
        if user is None:
            limiter.failed(keys)
            log.warning("failed login of %r from %s", name, address)
            return _login_page(request, 401, WRONG, name)
        cookie, _ = start_session(session, user)
    limiter.succeeded(keys[1:])
    response = RedirectResponse(_safe_next(str(form.get("next") or "")), 303)
    response.set_cookie(
        COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=int(LIFETIME.total_seconds()),
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request, form: Annotated[FormData, Depends(checked_form("viewer"))]
):
    with write_session(request.app.state.engine) as session:
        end_session(session, request.cookies.get(COOKIE))
    log.info("user %s logged out", request.state.principal.name)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE)
    return response
