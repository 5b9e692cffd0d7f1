"""/api/v1/policies: what happens to traffic between two ends."""

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
from app.api.schemas.policy import (
    PolicyCreate,
    PolicyRead,
    PolicyReplace,
    PolicyUpdate,
)
from app.services import resources
from app.services.problems import Problem, ValidationFailed
from app.services.spec import public_form
from app.services.validation.fields import PROTOCOLS

router = APIRouter(prefix="/api/v1/policies", tags=["policies"])
KIND = "policy"


def parse_protocol_filter(text: str | None) -> int | None:
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    if text.lower() in PROTOCOLS:
        return PROTOCOLS[text.lower()]
    raise ValidationFailed(
        [Problem(("protocol",), f"{text!r} is not a protocol name or number")]
    )


@router.get("", response_model=list[PolicyRead])
def list_policies(
    db: Db,
    page: Paging,
    response: Response,
    name: Annotated[str | None, Query(description="Name prefix")] = None,
    action: Annotated[str | None, Query(description="protect, bypass or drop")] = None,
    gateway: Annotated[str | None, Query(description="An end behind it")] = None,
    subnet: Annotated[
        str | None, Query(description="An end naming or inside it")
    ] = None,
    protocol: Annotated[
        str | None, Query(description="tcp, udp, ... or number")
    ] = None,
    mode: Annotated[str | None, Query(description="tunnel or transport")] = None,
    keying: Annotated[str | None, Query(description="ike or manual")] = None,
) -> Any:
    """List policies in document order; X-Total-Count gives the total."""
    filters = {
        "name": name,
        "action": action,
        "gateway": gateway,
        "subnet": subnet,
        "protocol": parse_protocol_filter(protocol),
        "mode": mode,
        "keying": keying,
    }
    with db.reading() as session:
        found, total = resources.list_page(
            session, KIND, filters, page.offset, page.limit
        )
    response.headers["X-Total-Count"] = str(total)
    return [public_form(s) for s in found]


@router.post(
    "",
    response_model=PolicyRead,
    status_code=status.HTTP_201_CREATED,
    responses=CREATE_ERRORS,
)
def create_policy(body: PolicyCreate, db: Db, actor: Actor, response: Response) -> Any:
    """Create a policy."""
    with db.writing() as session:
        spec = resources.create_item(
            session, KIND, body.model_dump(exclude_unset=True), actor
        )
    return created(spec, response, "policies")


@router.get("/{name}", response_model=PolicyRead, responses=READ_ERRORS)
def read_policy(name: str, db: Db, response: Response) -> Any:
    """Read one policy; the ETag header is for If-Match on later writes."""
    with db.reading() as session:
        spec = resources.get_item(session, KIND, name)
    return item_response(spec, response)


@router.put("/{name}", response_model=PolicyRead, responses=WRITE_ERRORS)
def replace_policy(
    name: str,
    body: PolicyReplace,
    db: Db,
    actor: Actor,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    """Replace a policy, or create it (201) if there is none by that name."""
    with db.writing() as session:
        spec, is_new = resources.replace_item(
            session, KIND, name, body.model_dump(exclude_unset=True), actor, if_match
        )
    if is_new:
        response.status_code = status.HTTP_201_CREATED
        return created(spec, response, "policies")
    return item_response(spec, response)


@router.patch("/{name}", response_model=PolicyRead, responses=WRITE_ERRORS)
def update_policy(
    name: str,
    body: PolicyUpdate,
    db: Db,
    actor: Actor,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    """Change some fields of a policy; a new name renames it."""
    with db.writing() as session:
        spec = resources.update_item(
            session, KIND, name, body.model_dump(exclude_unset=True), actor, if_match
        )
    return item_response(spec, response)


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE_ERRORS
)
def delete_policy(
    name: str, db: Db, actor: Actor, if_match: IfMatch = None
) -> Response:
    """Delete a policy."""
    with db.writing() as session:
        resources.delete_item(session, KIND, name, actor, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
