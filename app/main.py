"""The FastAPI application: ``create_app()`` builds it.

To add a router, add its module to ``ROUTER_MODULES``; the module must define
``router``.  Every router serving paths under ``/api/v1/`` is included behind
:func:`app.api.deps.require_role`: a bearer token and a role that allows the
call.  ``/healthz``, ``/readyz``, ``/metrics`` and ``/docs`` stay open; the
console (:mod:`app.web`) checks its own session cookie.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from app import web
from app.api import docs, problems
from app.api.deps import require_role
from app.config import load_settings
from app.db import make_engine

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"

ROUTER_MODULES = [
    "app.api.health",
    "app.api.gateways",
    "app.api.subnets",
    "app.api.policies",
    "app.api.intent",
    "app.api.audit",
    "app.api.docs",
    "app.api.datapath",
    "app.ops",
    "app.web.console",
]

DESCRIPTION = """\
Cygnet keeps the VPN's intent (gateways, the subnets behind them and the policies
between subnets) and compiles it into the kernel's IPsec datapath.

* Every call needs `Authorization: Bearer TOKEN`; make a token with
  `cygnet token create --user NAME` or on the console's Tokens page.  A token
  with role `viewer` may read, `operator` may also apply, rekey and trace,
  `admin` may do everything.

* Lists are plain JSON arrays in document order, paged with `limit` (1-1000,
  default 100) and `offset`; the `X-Total-Count` header gives the total.
* Reads of one item return an `ETag`; send it back in `If-Match` on a write to
  make sure nobody changed the item meanwhile (a stale one gets 412).
* Errors are `application/problem+json` (RFC 9457) with an `errors` list of
  `{field, message}` saying what to fix.  A failed write changes nothing.
* `GET/PUT /api/v1/intent` exports and replaces everything as one YAML or JSON
  document, the same format as `cygnet export` and `cygnet import`.
"""


def _routers():
    for name in ROUTER_MODULES:
        if importlib.util.find_spec(name) is None:
            log.debug("router module %s is not there; skipped", name)
            continue
        yield importlib.import_module(name).router


def _is_api(router) -> bool:
    """Whether ``router`` serves the REST API, which needs a token and a role."""
    return any(getattr(r, "path", "").startswith(API_PREFIX) for r in router.routes)


def create_app(engine: Engine | None = None) -> FastAPI:
    """Build the application on ``engine`` (default: ``CYGNET_DATABASE_URL``)."""
    app = FastAPI(
        title="Cygnet",
        description=DESCRIPTION,
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine or make_engine(load_settings().database_url)
    problems.install(app)
    for router in _routers():
        guard = [Depends(require_role)] if _is_api(router) else []
        app.include_router(router, dependencies=guard)
    docs.mount_assets(app)
    web.install(app)
    return app
