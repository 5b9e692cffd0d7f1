"""/healthz: is the service up and its database reachable."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from app.api.deps import Db
from app.api.problems import problem_response

router = APIRouter(tags=["health"])


@router.get("/healthz", response_class=PlainTextResponse)
def read_health(db: Db):
    """Answer "ok" when the service and its database work."""
    try:
        with db.reading() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means not healthy
        return problem_response(503, f"database unavailable: {type(exc).__name__}")
    return PlainTextResponse("ok")
