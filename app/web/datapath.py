"""Review and apply one gateway's datapath, and trace a packet through it.

The plan is read before anything happens; apply runs as a job whose page
refreshes itself without JavaScript, or is polled by ``console.js``.  These
pages work on this appliance's own kernel, so they refuse any gateway but the
one it is (``CYGNET_GATEWAY``, when set), as the REST API does.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse

from app.config import load_settings
from app.db import read_session
from app.services import datapath
from app.services.datapath import elsewhere, result_dict
from app.services.snapshot import load_document
from app.web.jobs import Jobs
from app.web.render import page
from app.web.security import Operator, OperatorForm, Viewer

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


def _netns(request: Request) -> str | None:
    return getattr(request.app.state, "netns", None)


def _jobs(request: Request) -> Jobs:
    state = request.app.state
    if getattr(state, "apply_jobs", None) is None:
        state.apply_jobs = Jobs()
    return state.apply_jobs


def _gateway_names(request: Request) -> list[str]:
    with read_session(request.app.state.engine) as session:
        return [g.name for g in load_document(session).gateways if g.managed]


@router.get("/review")
def choose_gateway(request: Request, visitor: Viewer):
    local = load_settings().gateway
    if local:
        return RedirectResponse(f"/review/{local}", 303)
    return page(
        request,
        "review_choose.html",
        visitor,
        title="Review & apply",
        gateways=_gateway_names(request),
    )


@router.get("/review/{name}")
def review_plan(name: str, request: Request, visitor: Viewer):
    """The per-object plan: what an apply would add, change and remove."""
    refused = elsewhere(name)
    plan, error = None, refused
    if refused is None:
        try:
            plan = datapath.plan(name, _netns(request), engine=request.app.state.engine)
        except datapath.UsageError as exc:
            error = str(exc)
        except OSError as exc:
            error = f"the kernel could not be read: {exc}"
    return page(
        request,
        "review.html",
        visitor,
        200 if plan else 409,
        title=f"Review {name}",
        gateway=name,
        plan=plan,
        error=error,
    )


@router.post("/review/{name}/apply")
def start_apply(name: str, request: Request, visitor: Operator, form: OperatorForm):
    refused = elsewhere(name)
    if refused is not None:
        return page(
            request, "error.html", visitor, 409, title="Not here", message=refused
        )
    engine, netns = request.app.state.engine, _netns(request)

    def work(progress):
        result = datapath.apply(
            name, netns, actor=visitor.name, progress=progress, engine=engine
        )
        return result_dict(result)

    job = _jobs(request).start(name, visitor.name, work)
    return RedirectResponse(f"/jobs/{job.id}", 303)


def _job_or_404(request: Request, job_id: int):
    return _jobs(request).get(job_id)


@router.get("/jobs/{job_id}")
def read_job(job_id: int, request: Request, visitor: Viewer):
    job = _job_or_404(request, job_id)
    if job is None:
        return page(
            request,
            "error.html",
            visitor,
            404,
            title="No such apply",
            message=f"no apply job {job_id}: it finished long ago or the "
            "service restarted; see the dashboard for the last outcome",
        )
    return page(request, "job.html", visitor, title=f"Apply {job.gateway}", job=job)


@router.get("/jobs/{job_id}/progress")
def read_job_json(job_id: int, request: Request, visitor: Viewer):
    job = _job_or_404(request, job_id)
    if job is None:
        return JSONResponse({"error": f"no apply job {job_id}"}, 404)
    return job.to_dict()


@router.get("/trace")
def trace_packet(
    request: Request,
    visitor: Viewer,
    gateway: str = "",
    src: str = "",
    dst: str = "",
    proto: str = "",
    port: str = "",
    kernel: str = "",
):
    """Which policy decides a packet, why, and whether the kernel agrees.

    A GET form: tracing reads and changes nothing, so viewers may use it.
    """
    names = _gateway_names(request)
    values = {
        "gateway": gateway or load_settings().gateway or (names[0] if names else ""),
        "src": src,
        "dst": dst,
        "proto": proto,
        "port": port,
        "kernel": kernel == "on",
    }
    errors: dict[str, list[str]] = {}
    result = None
    if src or dst:
        dport = None
        if port.strip():
            if not port.strip().isdigit() or not 0 < int(port) < 65536:
                errors["port"] = [f"{port!r} is not a port: give a number 1-65535"]
            else:
                dport = int(port)
        ask_kernel = values["kernel"]
        if ask_kernel and (refused := elsewhere(values["gateway"])):
            errors["kernel"] = [refused]
        if not errors:
            try:
                result = datapath.trace(
                    values["gateway"],
                    src.strip(),
                    dst.strip(),
                    proto.strip() or None,
                    dport,
                    kernel=ask_kernel,
                    netns=_netns(request),
                    engine=request.app.state.engine,
                )
            except datapath.UsageError as exc:
                field = "gateway" if exc.field == "gateway" else exc.field
                errors[field] = [str(exc)]
            except OSError as exc:
                errors["kernel"] = [f"the kernel could not be read: {exc}"]
    return page(
        request,
        "trace.html",
        visitor,
        422 if errors else 200,
        title="Packet tracer",
        gateways=names,
        values=values,
        errors=errors,
        result=result,
    )
