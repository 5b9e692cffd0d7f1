"""The REST API needs a bearer token, and each role may do only its share."""

from __future__ import annotations

import pytest

from tests.app.conftest import add_user
from tests.app.helpers import assert_problem, load_freeswan

GATEWAY = {"name": "hq", "address": "192.0.2.1"}


def test_api_without_a_token_is_refused_and_says_how_to_get_one(anonymous):
    response = anonymous.get("/api/v1/gateways")
    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "cygnet token create --user NAME" in body["detail"]
    assert body["type"] == "urn:cygnet:problem:unauthenticated"
    assert body["title"] == "Authentication needed"


def test_api_with_an_unknown_token_is_refused(anonymous):
    anonymous.headers["Authorization"] = "Bearer cyg_not-a-real-token"
    body = assert_problem(anonymous.get("/api/v1/gateways"), 401)
    assert "not known" in body["detail"]


@pytest.mark.parametrize("path", ["/healthz", "/docs", "/openapi.json"])
def test_health_and_docs_need_no_token(anonymous, path):
    assert anonymous.get(path).status_code == 200


def test_viewer_reads_but_cannot_write(anonymous, engine):
    anonymous.headers["Authorization"] = f"Bearer {add_user(engine, 'v', 'viewer')}"
    assert anonymous.get("/api/v1/gateways").status_code == 200
    body = assert_problem(anonymous.post("/api/v1/gateways", json=GATEWAY), 403)
    assert body["detail"] == (
        "v acts as viewer here; POST /api/v1/gateways needs admin"
    )
    assert body["type"] == "urn:cygnet:problem:forbidden"
    assert anonymous.get("/api/v1/gateways").json() == []


def test_operator_may_trace_but_not_change_the_intent(client, anonymous, engine):
    load_freeswan(client)
    anonymous.headers["Authorization"] = f"Bearer {add_user(engine, 'o', 'operator')}"
    body = assert_problem(anonymous.delete("/api/v1/policies/s-u"), 403)
    assert "needs admin" in body["detail"]
    traced = anonymous.post(
        "/api/v1/gateways/x/trace", json={"src": "10.1.0.5", "dst": "10.3.0.9"}
    )
    assert traced.status_code == 200, traced.text
    assert traced.json()["decided_by"] == "s-u"


def test_viewer_may_not_trace_through_the_api(client, anonymous, engine):
    load_freeswan(client)
    anonymous.headers["Authorization"] = f"Bearer {add_user(engine, 'v', 'viewer')}"
    body = assert_problem(
        anonymous.post(
            "/api/v1/gateways/x/trace", json={"src": "10.1.0.5", "dst": "10.3.0.9"}
        ),
        403,
    )
    assert "needs operator or admin" in body["detail"]


def test_changes_are_audited_under_the_tokens_user(anonymous, engine):
    anonymous.headers["Authorization"] = f"Bearer {add_user(engine, 'alice', 'admin')}"
    assert anonymous.post("/api/v1/gateways", json=GATEWAY).status_code == 201
    assert anonymous.get("/api/v1/audit").json()[0]["actor"] == "alice"


def test_a_token_acts_with_the_lower_of_its_role_and_its_users(anonymous, engine):
    from app.auth import accounts
    from app.db import write_session

    token = add_user(engine, "bob", "admin")
    with write_session(engine) as session:
        accounts.create_user(session, "carol", "admin", "another long one", "test")
        accounts.set_role(session, "bob", "viewer", "test")
    anonymous.headers["Authorization"] = f"Bearer {token}"
    body = assert_problem(anonymous.post("/api/v1/gateways", json=GATEWAY), 403)
    assert "bob acts as viewer" in body["detail"]


def test_a_revoked_token_stops_working(anonymous, engine):
    from app.auth import accounts
    from app.db import read_session, write_session

    anonymous.headers["Authorization"] = f"Bearer {add_user(engine, 'v', 'viewer')}"
    assert anonymous.get("/api/v1/gateways").status_code == 200
    with read_session(engine) as session:
        (token,) = accounts.list_tokens(session)
    with write_session(engine) as session:
        accounts.revoke_token(session, token.id, "test")
    assert_problem(anonymous.get("/api/v1/gateways"), 401)


def test_tokens_are_stored_only_as_digests(engine):
    from sqlalchemy import select

    from app.db import read_session
    from app.models import ApiToken

    token = add_user(engine, "v", "viewer")
    with read_session(engine) as session:
        stored = session.scalars(select(ApiToken.digest)).all()
    assert stored and token not in stored
    assert all(len(d) == 64 and token[10:] not in d for d in stored)
