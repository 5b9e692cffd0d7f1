"""The admin console: server-rendered pages beside the REST API.

Pages come from Jinja2 templates in the top-level ``templates/`` folder; the
little CSS and JavaScript they use is served from ``/static/console`` by the
appliance itself (it is often offline, so nothing comes from elsewhere).
Every page works without JavaScript; scripts only make it quicker.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = "/static/console"


def install(app: FastAPI) -> None:
    """Serve the console's assets and turn its guard's refusals into pages."""
    from app.web.security import Forbidden, LoginRequired

    app.mount(ASSETS, StaticFiles(directory=str(STATIC)), name="console")
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(Forbidden, _forbidden)


async def _to_login(request: Request, exc: Exception) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


async def _forbidden(request: Request, exc: Exception):
    from app.web.render import page
    from app.web.security import LoginRequired, current_visitor

    try:
        visitor = current_visitor(request)
    except LoginRequired:
        visitor = None
    return page(
        request, "error.html", visitor, 403, title="Not allowed", message=str(exc)
    )
