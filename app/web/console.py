"""Every console page, gathered into one router for :mod:`app.main`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.config import load_settings
from app.services.report import DROP_COUNTERS
from app.web import admin, audit, datapath, intent, login, topology
from app.web.overview import read_overview
from app.web.render import page
from app.web.security import Viewer

router = APIRouter(include_in_schema=False)


# Rows the dashboard lists before "show all": enough to see every problem of a
# troubled network, few enough to render at once for a thousand gateways.
DASHBOARD_ROWS = 100


@router.get("/")
def read_dashboard(
    request: Request,
    visitor: Viewer,
    show_all: Annotated[bool, Query(alias="all")] = False,
):
    """Every gateway and tunnel, and the kernel's drop counters, at a glance."""
    overview = read_overview(
        request.app.state.engine,
        load_settings().gateway,
        getattr(request.app.state, "netns", None),
    )
    return page(
        request,
        "dashboard.html",
        visitor,
        title="Dashboard",
        o=overview,
        rows=None if show_all else DASHBOARD_ROWS,
        drop_labels=DROP_COUNTERS,
    )


for module in (login, intent, topology, datapath, audit, admin):
    router.include_router(module.router)
