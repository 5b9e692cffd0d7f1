"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.auth.accounts import Principal, token_principal
from app.auth.roles import needed_for, roles_from
from app.db import read_session, write_session

MAX_LIMIT = 1000


@dataclass
class Database:
    engine: Engine

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with read_session(self.engine) as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One transaction under the intent lock; rolled back on any error."""
        with write_session(self.engine) as session:
            yield session


def get_database(request: Request) -> Database:
    return Database(request.app.state.engine)


_bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `cygnet token create --user NAME` or the "
    "console's Tokens page",
)
NO_TOKEN = (
    "this API needs a token: send Authorization: Bearer TOKEN (create one with "
    "`cygnet token create --user NAME` or on the console's Tokens page)"
)
BAD_TOKEN = (
    "the token in Authorization is not known (revoked, or mistyped); create a "
    "new one with `cygnet token create --user NAME`"
)


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Who is calling, from the bearer token; 401 without a valid one."""
    challenge = {"WWW-Authenticate": 'Bearer realm="cygnet"'}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, NO_TOKEN, headers=challenge)
    with read_session(request.app.state.engine) as session:
        principal = token_principal(session, credentials.credentials)
    if principal is None:
        raise HTTPException(401, BAD_TOKEN, headers=challenge)
    request.state.principal = principal
    return principal


def require_role(
    request: Request, principal: Annotated[Principal, Depends(get_principal)]
) -> Principal:
    """Refuse (403) a call the caller's role does not allow.

    Reads need ``viewer``; POSTs to .../apply, .../rekey and .../trace need
    ``operator``; every other change needs ``admin``.
    """
    needed = needed_for(request.method, request.url.path)
    if not principal.may(needed):
        raise HTTPException(
            403,
            f"{principal.name} acts as {principal.role} here; {request.method} "
            f"{request.url.path} needs {roles_from(needed)}",
        )
    return principal


def get_actor(principal: Annotated[Principal, Depends(get_principal)]) -> str:
    """Who is making the change: the user the session or token belongs to."""
    return principal.name


@dataclass
class Page:
    limit: int
    offset: int

    def apply(self, items: list, response: Response, total: int | None = None) -> list:
        """Cut ``items`` to the page and set ``X-Total-Count``."""
        total = len(items) if total is None else total
        response.headers["X-Total-Count"] = str(total)
        return items[self.offset : self.offset + self.limit]


def get_page(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-1000)")
    ] = 100,
    offset: Annotated[int, Query(ge=0, description="Items to skip")] = 0,
) -> Page:
    return Page(limit, offset)


Db = Annotated[Database, Depends(get_database)]
Actor = Annotated[str, Depends(get_actor)]
Caller = Annotated[Principal, Depends(require_role)]
Paging = Annotated[Page, Depends(get_page)]
IfMatch = Annotated[
    str | None,
    Header(description="ETag from an earlier read; a stale one gets 412"),
]
