"""Jinja2 templates from the top-level ``templates/`` folder, and page helpers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from app.services.problems import Problem
from app.services.spec import protocol_text
from app.web import ASSETS


def _templates_dir() -> Path:
    """``templates/`` of a source checkout, else where an install put them."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "cygnet" / "templates"


TEMPLATES = _templates_dir()
templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.globals["assets"] = ASSETS
templates.env.filters["count"] = lambda n: f"{n:,}"
templates.env.globals["protocol_name"] = lambda p: protocol_text(p) or "any"

NAV = [
    ("/", "Dashboard", "viewer"),
    ("/gateways", "Gateways", "viewer"),
    ("/subnets", "Subnets", "viewer"),
    ("/policies", "Policies", "viewer"),
    ("/topology", "Topology", "viewer"),
    ("/review", "Review & apply", "viewer"),
    ("/trace", "Tracer", "viewer"),
    ("/audit", "Audit", "viewer"),
    ("/users", "Users", "admin"),
    ("/tokens", "Tokens", "admin"),
]


def page(
    request: Request,
    template: str,
    visitor=None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the visitor, the navigation and ``context``."""
    nav = [
        (href, label)
        for href, label, role in NAV
        if visitor is not None and visitor.may(role)
    ]
    return templates.TemplateResponse(
        request,
        template,
        {
            "visitor": visitor,
            "csrf": visitor.csrf if visitor else "",
            "nav": nav,
            "path": request.url.path,
            "notice": request.query_params.get("notice", ""),
            **context,
        },
        status_code=status_code,
    )


def field_errors(problems: list[Problem]) -> dict[str, list[str]]:
    """Messages by field (``cidr``, ``between[0]``; ``""`` for the whole item)."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(problem.field, []).append(problem.message)
    return errors


def done(url: str, notice: str) -> RedirectResponse:
    """After a successful POST: back to ``url`` with a notice to show."""
    mark = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{mark}notice={quote(notice)}", status_code=303)
