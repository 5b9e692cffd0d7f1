"""Operations endpoints: ``/readyz`` for health checks, ``/metrics`` for Prometheus.

Both are about the gateway this appliance is (``CYGNET_GATEWAY``).  The kernel
read is the process's own network namespace unless ``app.state.netns`` names
another (tests set it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.api.problems import problem_response
from app.config import load_settings
from app.metrics import DatapathCollector, make_registry, read_gateway

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str


def readiness(engine: Engine, gateway: str | None) -> Readiness:
    """Ready: the database answers and the kernel holds the current intent.

    "Holds" is what the last apply recorded: it succeeded, at the intent's
    current revision.  An appliance with no gateway named, or whose gateway is
    not in the intent yet, has nothing to reconcile and is ready.
    """
    try:
        facts = read_gateway(engine, gateway or "")
    except (SQLAlchemyError, OSError) as exc:
        return Readiness(False, f"database unreachable: {type(exc).__name__}: {exc}")
    if not gateway:
        return Readiness(
            True,
            "no gateway named (CYGNET_GATEWAY): serving the "
            "API only, nothing to reconcile",
        )
    if facts.address is None:
        return Readiness(
            True, f"gateway {gateway} is not in the intent yet: nothing to reconcile"
        )
    status = facts.status
    if status is None:
        return Readiness(False, f"gateway {gateway} has not applied the intent yet")
    if not status.ok:
        return Readiness(
            False,
            f"the last apply of gateway {gateway} failed "
            f"(the datapath stays closed): {status.message}",
        )
    if status.applied_revision < facts.revision:
        return Readiness(
            False,
            f"the kernel holds revision {status.applied_revision}"
            f" and the intent is at {facts.revision}: an apply "
            "is due",
        )
    return Readiness(
        True, f"gateway {gateway}: the kernel holds revision {status.applied_revision}"
    )


@router.get("/readyz", response_class=PlainTextResponse)
def read_readiness(request: Request):
    """Answer 200 when the database works and the datapath holds the intent."""
    verdict = readiness(request.app.state.engine, load_settings().gateway)
    if not verdict.ready:
        return problem_response(503, verdict.reason, title="Not ready")
    return PlainTextResponse(f"ready: {verdict.reason}")


@router.get("/metrics")
def read_metrics(request: Request):
    """Tunnels, applies and the kernel's XFRM drops in Prometheus text format."""
    state = request.app.state
    registry = getattr(state, "metrics_registry", None)
    if registry is None:
        collector = DatapathCollector(
            state.engine, load_settings().gateway, getattr(state, "netns", None)
        )
        registry = state.metrics_registry = make_registry(collector)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
