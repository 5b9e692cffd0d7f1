"""The admin console: server-rendered pages beside the REST API.

Pages come from Jinja2 templates in the top-level ``templates/`` folder; the
little CSS and JavaScript they use is served from ``/static/console`` by the
appliance itself (it is often offline, so nothing comes from elsewhere).
Every page works without JavaScript; scripts only make it quicker.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = "/static/console"


def mount_assets(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=str(STATIC)), name="console")
