"""Errors as RFC 9457 problem documents (``application/problem+json``).

Every error body has ``type``, ``title``, ``status``, ``detail`` and ``errors``:
a list of ``{field, message}`` (plus ``line`` for documents) saying where the
problem is and how to fix it.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException

from app.services.problems import (
    CygnetError,
    PreconditionFailed,
    Problem,
    ValidationFailed,
    render_path,
)

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPES = {
    400: "malformed",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    415: "unsupported-media-type",
    422: "invalid",
    429: "too-many-requests",
    500: "internal",
    502: "kernel-refused",
    503: "unavailable",
}
TITLES = {
    400: "Malformed input",
    401: "Authentication needed",
    403: "Not allowed for this role",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    502: "The kernel refused the change",
    503: "Service unavailable",
}


def problem_type(status: int) -> str:
    return f"urn:cygnet:problem:{TYPES.get(status, 'error')}"


def problem_response(
    status: int,
    detail: str,
    errors: list[dict] | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict | None = None,
) -> JSONResponse:
    body = {
        "type": problem_type(status),
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "errors": errors or [],
        **(extra or {}),
    }
    return JSONResponse(
        body, status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def _error(problem: Problem) -> dict:
    error = {"field": problem.field, "message": problem.message}
    if problem.line is not None:
        error["line"] = problem.line
    return error


def _summary(problems: list[Problem]) -> str:
    shown = "; ".join(str(p) for p in problems[:5])
    if len(problems) > 5:
        shown += f"; and {len(problems) - 5} more"
    return f"{shown}. Nothing was changed."


async def _cygnet_error(request: Request, exc: CygnetError) -> JSONResponse:
    if isinstance(exc, ValidationFailed):
        return problem_response(
            exc.status,
            _summary(exc.problems),
            [_error(p) for p in exc.problems],
            exc.title,
        )
    headers = {"ETag": exc.current} if isinstance(exc, PreconditionFailed) else None
    field = "If-Match" if isinstance(exc, PreconditionFailed) else ""
    return problem_response(
        exc.status, str(exc), [{"field": field, "message": str(exc)}], headers=headers
    )


def _location(loc: tuple) -> str:
    parts = (
        list(loc[1:])
        if loc and loc[0] in ("body", "query", "path", "header")
        else list(loc)
    )
    return render_path(tuple(parts))


async def _request_invalid(
    request: Request, exc: RequestValidationError
) -> JSONResponse:
    errors = []
    for error in exc.errors():
        message = error.get("msg", "invalid")
        if error.get("type") == "extra_forbidden":
            message = "unknown field; remove it (see the schema in /docs)"
        elif error.get("type") == "missing":
            message = "missing; this field is required (see the schema in /docs)"
        errors.append(
            {"field": _location(tuple(error.get("loc", ()))), "message": message}
        )
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem_response(422, f"{detail}. Nothing was changed.", errors)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return problem_response(
        exc.status_code,
        str(exc.detail),
        [{"field": "", "message": str(exc.detail)}],
        headers=getattr(exc, "headers", None),
    )


async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
    log.warning("write refused by the database: %s", exc.orig)
    message = (
        "the database refused the change because it collides with stored data "
        "(perhaps a change made at the same time); read the data again and retry"
    )
    return problem_response(409, message, [{"field": "", "message": message}])


async def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
    log.error("database error: %s", exc.orig)
    message = "the database cannot be reached or is busy; retry shortly"
    return problem_response(503, message, [{"field": "", "message": message}])


def install(app: FastAPI) -> None:
    app.add_exception_handler(CygnetError, _cygnet_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _database_down)
