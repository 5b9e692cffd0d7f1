"""/api/v1/intent: the whole intent as one document; /api/v1/revision."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from app.api.common import PROBLEM
from app.api.deps import Actor, Db, IfMatch
from app.api.schemas.common import ImportResult, RevisionRead
from app.services.audit import current_revision
from app.services.document import dump_document
from app.services.resources import import_text, intent_etag
from app.services.snapshot import load_document
from app.services.spec import document_form

router = APIRouter(prefix="/api/v1", tags=["intent"])

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
DOCUMENT_SCHEMA = {
    "type": "object",
    "properties": {
        "gateways": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/GatewayCreate"},
        },
        "subnets": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/SubnetCreate"},
        },
        "policies": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/PolicyCreate"},
        },
    },
}


def _wants_yaml(fmt: str | None, accept: str | None) -> bool:
    if fmt is not None:
        return fmt.lower() in ("yaml", "yml")
    return any(t in (accept or "") for t in YAML_TYPES)


@router.get(
    "/intent",
    responses={
        200: {
            "content": {
                "application/json": {"schema": DOCUMENT_SCHEMA},
                "application/yaml": {"schema": {"type": "string"}},
            }
        }
    },
)
def export_intent(
    db: Db,
    format: Annotated[str | None, Query(description="json (default) or yaml")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Export the whole intent (JSON, or YAML with ?format=yaml or Accept)."""
    with db.reading() as session:
        doc = load_document(session)
        revision = current_revision(session)
    headers = {"ETag": intent_etag(revision), "X-Cygnet-Revision": str(revision)}
    if _wants_yaml(format, accept):
        return Response(
            dump_document(doc, "yaml"), media_type="application/yaml", headers=headers
        )
    body = json.dumps(document_form(doc), indent=2)
    return Response(body, media_type="application/json", headers=headers)


@router.put(
    "/intent",
    response_model=ImportResult,
    responses={400: PROBLEM, 409: PROBLEM, 412: PROBLEM, 422: PROBLEM},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": DOCUMENT_SCHEMA},
            },
        }
    },
)
async def import_intent(
    request: Request,
    db: Db,
    actor: Actor,
    response: Response,
    if_match: IfMatch = None,
    dry_run: Annotated[bool, Query(description="Check only, change nothing")] = False,
) -> Any:
    """Replace the whole intent, all or nothing (YAML or JSON body)."""
    body = await request.body()
    revision, changes = await run_in_threadpool(
        import_text, db.engine, body, actor, if_match, dry_run
    )
    if not dry_run:
        response.headers["ETag"] = intent_etag(revision)
    return {"revision": revision, "changes": changes, "dry_run": dry_run}


@router.get("/revision", response_model=RevisionRead)
def read_revision(db: Db, response: Response) -> Any:
    """The revision number of the last committed change."""
    with db.reading() as session:
        revision = current_revision(session)
    response.headers["ETag"] = intent_etag(revision)
    return {"revision": revision}
