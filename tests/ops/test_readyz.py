"""/readyz: ready when the database answers and the kernel holds the intent."""

from __future__ import annotations

import errno

import pytest

pytest.importorskip(
    "prometheus_client",
    reason="prometheus-client is not installed: it belongs in pyproject.toml's "
    "dependencies",
)

from app.services.datapath import apply, record_status
from datapath.errors import KernelError
from datapath.reconcile import ApplyResult, Plan
from tests.ops.conftest import load_example
from tests.topology import Topology, can_build


def _problem(response, says: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert says in response.json()["detail"]


def test_ready_without_a_gateway_name(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert "no gateway named (CYGNET_GATEWAY)" in response.text


def test_ready_while_the_gateway_is_not_in_the_intent(client, monkeypatch):
    monkeypatch.setenv("CYGNET_GATEWAY", "x")

    response = client.get("/readyz")

    assert response.status_code == 200
    assert "gateway x is not in the intent yet" in response.text


def test_not_ready_until_the_gateway_has_applied(client, engine, monkeypatch):
    monkeypatch.setenv("CYGNET_GATEWAY", "x")
    load_example(engine, "freeswan")

    _problem(client.get("/readyz"), "gateway x has not applied the intent yet")


def test_not_ready_after_a_failed_apply_and_says_why(client, engine, monkeypatch):
    monkeypatch.setenv("CYGNET_GATEWAY", "x")
    revision = load_example(engine, "freeswan")
    failed = ApplyResult(
        Plan("x", revision, [], 0), errors=[KernelError(errno.EPERM, "add", None)]
    )
    record_status("x", revision, failed)

    _problem(client.get("/readyz"), "needs CAP_NET_ADMIN")


def test_not_ready_when_the_intent_moved_past_the_applied_revision(
    client, engine, monkeypatch
):
    monkeypatch.setenv("CYGNET_GATEWAY", "x")
    revision = load_example(engine, "freeswan")
    record_status("x", revision, ApplyResult(Plan("x", revision, [], 0)))
    assert client.get("/readyz").status_code == 200

    response = client.put("/api/v1/gateways/y", json={"address": "192.0.2.22"})
    assert response.status_code == 200, response.text

    _problem(
        client.get("/readyz"),
        f"the kernel holds revision {revision} and the intent is at "
        f"{revision + 1}: an apply is due",
    )


def test_not_ready_when_the_database_is_unreachable(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from app import ops
    from app.db import make_engine
    from app.main import create_app

    monkeypatch.setenv("CYGNET_GATEWAY", "x")
    app = create_app(make_engine(f"sqlite:///{tmp_path}/missing/dir/cygnet.db"))
    if not any(getattr(r, "path", "") == "/readyz" for r in app.routes):
        app.include_router(ops.router)

    _problem(TestClient(app).get("/readyz"), "database unreachable")


@pytest.mark.root
@pytest.mark.skipif(can_build() is not None, reason=str(can_build()))
def test_ready_once_the_kernel_holds_the_intent(client, engine, monkeypatch):
    monkeypatch.setenv("CYGNET_GATEWAY", "x")
    load_example(engine, "freeswan")
    topo = Topology().build()
    try:
        result = apply("x", netns=topo.ns("x"))
        response = client.get("/readyz")
    finally:
        topo.destroy()

    assert result.ok, result.summary()
    assert response.status_code == 200, response.text
    assert "gateway x: the kernel holds revision" in response.text


def test_operations_endpoints_need_no_token(engine):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(engine)) as anonymous:
        answers = {
            path: anonymous.get(path).status_code
            for path in ("/healthz", "/readyz", "/metrics")
        }
        refused = anonymous.get("/api/v1/gateways").status_code

    assert answers == {"/healthz": 200, "/readyz": 200, "/metrics": 200}
    assert refused == 401
