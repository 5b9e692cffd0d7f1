"""/api/v1/subnets: the address blocks behind each gateway."""

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
from app.api.schemas.subnet import (
    SubnetCreate,
    SubnetRead,
    SubnetReplace,
    SubnetUpdate,
)
from app.services import resources
from app.services.spec import public_form

router = APIRouter(prefix="/api/v1/subnets", tags=["subnets"])
KIND = "subnet"


@router.get("", response_model=list[SubnetRead])
def list_subnets(
    db: Db,
    page: Paging,
    response: Response,
    name: Annotated[str | None, Query(description="Name prefix")] = None,
    gateway: Annotated[str | None, Query(description="Behind this gateway")] = None,
    family: Annotated[int | None, Query(description="4 or 6")] = None,
) -> Any:
    """List subnets in document order; X-Total-Count gives the total."""
    filters = {"name": name, "gateway": gateway, "family": family}
    with db.reading() as session:
        found, total = resources.list_page(
            session, KIND, filters, page.offset, page.limit
        )
    response.headers["X-Total-Count"] = str(total)
    return [public_form(s) for s in found]


@router.post(
    "",
    response_model=SubnetRead,
    status_code=status.HTTP_201_CREATED,
    responses=CREATE_ERRORS,
)
def create_subnet(body: SubnetCreate, db: Db, actor: Actor, response: Response) -> Any:
    """Create a subnet."""
    with db.writing() as session:
        spec = resources.create_item(
            session, KIND, body.model_dump(exclude_unset=True), actor
        )
    return created(spec, response, "subnets")


@router.get("/{name}", response_model=SubnetRead, responses=READ_ERRORS)
def read_subnet(name: str, db: Db, response: Response) -> Any:
    """Read one subnet; the ETag header is for If-Match on later writes."""
    with db.reading() as session:
        spec = resources.get_item(session, KIND, name)
    return item_response(spec, response)


@router.put("/{name}", response_model=SubnetRead, responses=WRITE_ERRORS)
def replace_subnet(
    name: str,
    body: SubnetReplace,
    db: Db,
    actor: Actor,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    """Replace a subnet, or create it (201) if there is none by that name."""
    with db.writing() as session:
        spec, is_new = resources.replace_item(
            session, KIND, name, body.model_dump(exclude_unset=True), actor, if_match
        )
    if is_new:
        response.status_code = status.HTTP_201_CREATED
        return created(spec, response, "subnets")
    return item_response(spec, response)


@router.patch("/{name}", response_model=SubnetRead, responses=WRITE_ERRORS)
def update_subnet(
    name: str,
    body: SubnetUpdate,
    db: Db,
    actor: Actor,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    """Change some fields of a subnet; a new name renames it."""
    with db.writing() as session:
        spec = resources.update_item(
            session, KIND, name, body.model_dump(exclude_unset=True), actor, if_match
        )
    return item_response(spec, response)


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE_ERRORS
)
def delete_subnet(
    name: str, db: Db, actor: Actor, if_match: IfMatch = None
) -> Response:
    """Delete a subnet that no policy uses."""
    with db.writing() as session:
        resources.delete_item(session, KIND, name, actor, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
