"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session

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


def get_actor() -> str:
    """Who is making the change.

    The API has no authentication yet: every API change is recorded as "api".
    Anyone who can reach the listening address can change the intent, which is
    why ``cygnet serve`` listens on 127.0.0.1 unless told otherwise.
    """
    return "api"


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
Paging = Annotated[Page, Depends(get_page)]
IfMatch = Annotated[
    str | None,
    Header(description="ETag from an earlier read; a stale one gets 412"),
]
