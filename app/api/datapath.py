"""/api/v1/gateways/{name}/plan, apply, trace, status and rekey: the datapath.

Plan, apply and a trace that asks the kernel work on this appliance's own
kernel, so they are refused for any gateway but the one this appliance is
(``CYGNET_GATEWAY``, when set): another gateway's slice belongs in its own
appliance's kernel.  The kernel is the process's own network namespace unless
``app.state.netns`` names another (tests set it).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import Actor, Db
from app.api.problems import problem_response
from app.services import datapath
from app.services.datapath import result_dict

router = APIRouter(prefix="/api/v1/gateways", tags=["datapath"])

DATAPATH_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such gateway"},
    409: {"description": "The gateway's kernel is on another appliance"},
}


class TraceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    src: str = Field(description="Source address", examples=["10.1.0.5"])
    dst: str = Field(description="Destination address", examples=["10.3.0.9"])
    proto: str | None = Field(None, description="tcp, udp, icmp or a number")
    dport: int | None = Field(None, ge=0, le=65535, description="Destination port")
    sport: int | None = Field(None, ge=0, le=65535, description="Source port")
    kernel: bool = Field(False, description="Also ask the kernel which policy it holds")


class RekeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    peer: str = Field(description="The gateway at the other end of the tunnel")


def _netns(request: Request) -> str | None:
    return getattr(request.app.state, "netns", None)


def _problem(exc: datapath.UsageError):
    """A usage error as a problem: 404 for an unknown gateway, else 422."""
    status = 404 if exc.field == "gateway" else 422
    field = "name" if exc.field == "gateway" else exc.field
    return problem_response(status, str(exc), [{"field": field, "message": str(exc)}])


def _refuse_other_gateway(name: str) -> JSONResponse | None:
    message = datapath.elsewhere(name)
    if message is None:
        return None
    return problem_response(409, message, [{"field": "name", "message": message}])


@router.get("/{name}/plan", responses=DATAPATH_ERRORS)
def read_plan(name: str, db: Db, request: Request) -> Any:
    """What an apply would change in this appliance's kernel; changes nothing."""
    refused = _refuse_other_gateway(name)
    if refused:
        return refused
    try:
        plan = datapath.plan(name, _netns(request), engine=db.engine)
    except datapath.UsageError as exc:
        return _problem(exc)
    return plan.to_dict()


@router.post(
    "/{name}/apply",
    responses={
        **DATAPATH_ERRORS,
        502: {"description": "The kernel refused a step; the datapath stays closed"},
    },
)
def apply_gateway(name: str, db: Db, actor: Actor, request: Request) -> Any:
    """Bring this appliance's kernel to the intent; 502 when the kernel refused."""
    refused = _refuse_other_gateway(name)
    if refused:
        return refused
    try:
        result = datapath.apply(name, _netns(request), actor=actor, engine=db.engine)
    except datapath.UsageError as exc:
        return _problem(exc)
    body = result_dict(result)
    if result.ok:
        return body
    return problem_response(
        502,
        result.summary(),
        [{"field": "", "message": e["message"]} for e in body["errors"]],
        extra={"result": body},
    )


@router.post("/{name}/trace", responses=DATAPATH_ERRORS)
def trace_packet(name: str, body: TraceRequest, db: Db, request: Request) -> Any:
    """Which policy decides this packet at the gateway, and why."""
    if body.kernel:
        refused = _refuse_other_gateway(name)
        if refused:
            return refused
    try:
        result = datapath.trace(
            name,
            body.src,
            body.dst,
            body.proto,
            body.dport,
            body.sport,
            kernel=body.kernel,
            netns=_netns(request),
            engine=db.engine,
        )
    except datapath.UsageError as exc:
        return _problem(exc)
    return result.to_dict()


@router.get("/{name}/status", responses=DATAPATH_ERRORS)
def read_status(name: str, db: Db, request: Request) -> Any:
    """The gateway's last apply and its tunnels' state, bytes and packets."""
    report = datapath.status(name, _netns(request), engine=db.engine)
    if not report.known:
        return problem_response(404, f"no gateway named {name!r}")
    return report.to_dict()


@router.post("/{name}/rekey", status_code=202, responses=DATAPATH_ERRORS)
def rekey_gateway(name: str, body: RekeyRequest, db: Db, actor: Actor) -> Any:
    """Start a make-before-break rotation of the manual keys to ``peer``."""
    generation = datapath.rekey(name, body.peer, actor, engine=db.engine)
    return {"gateway": name, "peer": body.peer, "generation": generation}
