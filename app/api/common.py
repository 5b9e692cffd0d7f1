"""Helpers the resource routers share: ETags, Location and error docs."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from app.api.schemas.common import ProblemRead
from app.services.resources import etag
from app.services.spec import Spec, public_form

PROBLEM = {"model": ProblemRead, "content": {"application/problem+json": {}}}
READ_ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: PROBLEM,
    404: PROBLEM,
    409: PROBLEM,
    412: PROBLEM,
    422: PROBLEM,
}
CREATE_ERRORS: dict[int | str, dict[str, Any]] = {409: PROBLEM, 422: PROBLEM}


def item_response(spec: Spec, response: Response) -> dict[str, Any]:
    """The item's public form, with its ETag set on the response."""
    response.headers["ETag"] = etag(spec)
    return public_form(spec)


def created(spec: Spec, response: Response, collection: str) -> dict[str, Any]:
    response.headers["Location"] = f"/api/v1/{collection}/{spec.name}"
    return item_response(spec, response)
