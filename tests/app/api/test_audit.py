"""Every committed change bumps the revision once and is audited."""

from __future__ import annotations

from tests.app.helpers import load_freeswan


def revision(client) -> int:
    return client.get("/api/v1/revision").json()["revision"]


def test_empty_database_is_at_revision_zero(client):
    assert revision(client) == 0
    assert client.get("/api/v1/audit").json() == []


def test_each_write_bumps_the_revision_once(client):
    client.post("/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1"})
    assert revision(client) == 1
    client.patch("/api/v1/gateways/hq", json={"ike_id": "@hq"})
    assert revision(client) == 2
    client.delete("/api/v1/gateways/hq")
    assert revision(client) == 3


def test_rejected_write_bumps_nothing(client):
    client.post("/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1"})
    client.post("/api/v1/gateways", json={"name": "hq", "address": "bad"})
    assert revision(client) == 1
    assert client.get("/api/v1/audit").headers["X-Total-Count"] == "1"


def test_write_that_changes_nothing_is_not_a_revision(client):
    client.post("/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1"})
    client.patch("/api/v1/gateways/hq", json={"address": "192.0.2.1"})
    assert revision(client) == 1


def test_audit_record_has_who_what_before_and_after(client):
    client.post("/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1"})
    client.patch("/api/v1/gateways/hq", json={"address": "192.0.2.2"})
    newest = client.get("/api/v1/audit").json()[0]
    assert newest["actor"] == "api"
    assert newest["kind"] == "gateway" and newest["name"] == "hq"
    assert newest["action"] == "update"
    assert newest["revision"] == 2
    assert newest["before"]["address"] == "192.0.2.1"
    assert newest["after"]["address"] == "192.0.2.2"
    assert newest["at"].endswith(("Z", "+00:00"))


def test_import_is_one_revision_with_a_record_per_object(client):
    load_freeswan(client)
    assert revision(client) == 1
    records = client.get("/api/v1/audit", params={"revision": 1}).json()
    kinds = sorted((r["kind"], r["name"]) for r in records)
    assert kinds == [
        ("gateway", "x"),
        ("gateway", "y"),
        ("policy", "s-t"),
        ("policy", "s-u"),
        ("subnet", "s"),
        ("subnet", "t"),
        ("subnet", "u"),
        ("tunnel", "x/y"),
    ]


def test_audit_filters_and_pages(client):
    load_freeswan(client)
    client.delete("/api/v1/policies/s-t")
    response = client.get("/api/v1/audit", params={"kind": "policy", "limit": 1})
    assert response.headers["X-Total-Count"] == "3"
    assert response.json()[0]["action"] == "delete"
    assert response.json()[0]["after"] is None
    second = client.get(
        "/api/v1/audit", params={"kind": "policy", "limit": 1, "offset": 1}
    )
    assert second.json()[0]["id"] < response.json()[0]["id"]
    assert client.get("/api/v1/audit", params={"actor": "cli"}).json() == []


def test_tunnel_numbers_are_kept_across_unrelated_changes(client):
    load_freeswan(client)
    client.post("/api/v1/gateways", json={"name": "z", "address": "192.0.2.3"})
    client.post(
        "/api/v1/subnets", json={"name": "w", "cidr": "10.4.0.0/24", "gateway": "z"}
    )
    client.post(
        "/api/v1/policies",
        json={"name": "w-s", "between": ["w", "s"], "action": "protect"},
    )
    tunnels = {
        r["name"]: r["after"]
        for r in client.get("/api/v1/audit", params={"kind": "tunnel"}).json()
    }
    assert tunnels["x/y"] == {"gateways": ["x", "y"], "reqid": 1, "if_id": 1}
    assert tunnels["x/z"] == {"gateways": ["x", "z"], "reqid": 2, "if_id": 2}
