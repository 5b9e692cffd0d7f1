"""/api/v1/gateways: the gateways, managed by Cygnet or external peers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from app.api.common import (
    CREATE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    created,
    item_response,
)
from app.api.deps import Actor, Db, IfMatch, Paging
from app.api.schemas.gateway import (
    GatewayCreate,
    GatewayRead,
    GatewayReplace,
    GatewayUpdate,
)
from app.services import resources
from app.services.spec import public_form

router = APIRouter(prefix="/api/v1/gateways", tags=["gateways"])
KIND = "gateway"


@router.get("", response_model=list[GatewayRead])
def list_gateways(
    db: Db,
    page: Paging,
    response: Response,
    name: Annotated[str | None, Query(description="Name prefix")] = None,
    managed: bool | None = None,
) -> Any:
    """List gateways in document order; X-Total-Count gives the total."""
    with db.reading() as session:
        found, total = resources.list_page(
            session, KIND, {"name": name, "managed": managed}, page.offset, page.limit
        )
    response.headers["X-Total-Count"] = str(total)
    return [public_form(s) for s in found]


@router.post(
    "",
    response_model=GatewayRead,
    status_code=status.HTTP_201_CREATED,
    responses=CREATE_ERRORS,
)
def create_gateway(
    body: GatewayCreate, db: Db, actor: Actor, response: Response
) -> Any:
    """Create a gateway."""
    with db.writing() as session:
        spec = resources.create_item(
            session, KIND, body.model_dump(exclude_unset=True), actor
        )
    return created(spec, response, "gateways")


@router.get("/{name}", response_model=GatewayRead, responses=READ_ERRORS)
def read_gateway(name: str, db: Db, response: Response) -> Any:
    """Read one gateway; the ETag header is for If-Match on later writes."""
    with db.reading() as session:
        spec = resources.get_item(session, KIND, name)
    return item_response(spec, response)


@router.put("/{name}", response_model=GatewayRead, responses=WRITE_ERRORS)
def replace_gateway(
    name: str,
    body: GatewayReplace,
    db: Db,
    actor: Actor,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    """Replace a gateway, or create it (201) if there is none by that name."""
    with db.writing() as session:
        spec, is_new = resources.replace_item(
            session, KIND, name, body.model_dump(exclude_unset=True), actor, if_match
        )
    if is_new:
        response.status_code = status.HTTP_201_CREATED
        return created(spec, response, "gateways")
    return item_response(spec, response)


@router.patch("/{name}", response_model=GatewayRead, responses=WRITE_ERRORS)
def update_gateway(
    name: str,
    body: GatewayUpdate,
    db: Db,
    actor: Actor,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    """Change some fields of a gateway; a new name renames it."""
    with db.writing() as session:
        spec = resources.update_item(
            session, KIND, name, body.model_dump(exclude_unset=True), actor, if_match
        )
    return item_response(spec, response)


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE_ERRORS
)
def delete_gateway(
    name: str, db: Db, actor: Actor, if_match: IfMatch = None
) -> Response:
    """Delete a gateway that no subnet lies behind."""
    with db.writing() as session:
        resources.delete_item(session, KIND, name, actor, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
