"""/api/v1/gateways: create, read, replace, update, delete and the rules."""

from __future__ import annotations

import pytest

from tests.app.helpers import assert_problem, load_freeswan, snapshot


def test_create_gateway_returns_it_with_location_and_etag(client):
    response = client.post(
        "/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1"}
    )
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/gateways/hq"
    assert response.headers["ETag"].startswith('"')
    assert response.json() == {
        "name": "hq",
        "address": "192.0.2.1",
        "ike_id": None,
        "managed": True,
        "route_based": False,
    }


def test_read_gateway_after_create(client):
    client.post(
        "/api/v1/gateways",
        json={
            "name": "peer",
            "address": "2001:DB8::1",
            "managed": False,
            "route_based": True,
            "ike_id": "@peer.example",
        },
    )
    response = client.get("/api/v1/gateways/peer")
    assert response.status_code == 200
    assert response.json()["address"] == "2001:db8::1"
    assert response.json()["managed"] is False
    assert response.json()["route_based"] is True
    assert response.json()["ike_id"] == "@peer.example"


def test_read_unknown_gateway_is_404_problem(client):
    assert_problem(
        client.get("/api/v1/gateways/nope"), 404, "", "no gateway named 'nope'"
    )


@pytest.mark.parametrize("name", ["-hq", "hq-", "h_q", "a" * 64, "hq.example", ""])
def test_create_gateway_with_bad_dns_label_is_rejected(client, name):
    before = snapshot(client)
    response = client.post(
        "/api/v1/gateways", json={"name": name, "address": "192.0.2.1"}
    )
    assert_problem(response, 422, "name")
    assert snapshot(client) == before


@pytest.mark.parametrize(
    "address, says",
    [
        ("192.0.2.300", "is not an IPv4 or IPv6 address"),
        ("192.0.2.0/24", "is a network"),
        ("0.0.0.0", "cannot be a gateway's address"),
        ("hq.example.com", "is not an IPv4 or IPv6 address"),
    ],
)
def test_create_gateway_with_bad_address_is_rejected(client, address, says):
    before = snapshot(client)
    response = client.post("/api/v1/gateways", json={"name": "hq", "address": address})
    assert_problem(response, 422, "address", says)
    assert snapshot(client) == before


def test_create_gateway_with_taken_name_is_409(client):
    client.post("/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1"})
    before = snapshot(client)
    response = client.post(
        "/api/v1/gateways", json={"name": "hq", "address": "192.0.2.9"}
    )
    assert_problem(response, 409, "name", "already exists")
    assert snapshot(client) == before


def test_create_gateway_with_taken_address_is_409_naming_the_owner(client):
    client.post("/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1"})
    response = client.post(
        "/api/v1/gateways", json={"name": "br", "address": "192.0.2.1"}
    )
    assert_problem(response, 409, "address", "gateway hq")


def test_create_gateway_with_unknown_field_is_rejected(client):
    response = client.post(
        "/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1", "adress": "x"}
    )
    assert_problem(response, 422, "adress", "unknown field")
    assert client.get("/api/v1/gateways").json() == []


def test_create_gateway_with_wrong_type_is_rejected(client):
    response = client.post(
        "/api/v1/gateways",
        json={"name": "hq", "address": "192.0.2.1", "managed": "perhaps"},
    )
    assert_problem(response, 422, "managed")


def test_create_gateway_with_malformed_json_is_rejected(client):
    response = client.post(
        "/api/v1/gateways",
        content=b"{name: hq",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 422)


def test_replace_gateway_changes_every_field(client):
    client.post(
        "/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1", "ike_id": "@hq"}
    )
    response = client.put("/api/v1/gateways/hq", json={"address": "192.0.2.7"})
    assert response.status_code == 200
    assert response.json()["address"] == "192.0.2.7"
    assert response.json()["ike_id"] is None  # PUT replaces: left out means default


def test_replace_missing_gateway_creates_it(client):
    response = client.put("/api/v1/gateways/hq", json={"address": "192.0.2.1"})
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/gateways/hq"
    assert client.get("/api/v1/gateways/hq").status_code == 200


def test_replace_gateway_with_other_name_in_body_is_rejected(client):
    client.post("/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1"})
    response = client.put(
        "/api/v1/gateways/hq", json={"name": "br", "address": "192.0.2.1"}
    )
    assert_problem(response, 422, "name", "rename with PATCH")


def test_update_gateway_changes_only_given_fields(client):
    client.post(
        "/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1", "ike_id": "@hq"}
    )
    response = client.patch("/api/v1/gateways/hq", json={"route_based": True})
    assert response.status_code == 200
    assert response.json()["ike_id"] == "@hq"
    assert response.json()["route_based"] is True


def test_update_gateway_with_bad_address_changes_nothing(client):
    load_freeswan(client)
    before = snapshot(client)
    response = client.patch("/api/v1/gateways/x", json={"address": "not-an-ip"})
    assert_problem(response, 422, "address")
    assert snapshot(client) == before


def test_rename_gateway_carries_its_subnets_and_tunnel(client):
    load_freeswan(client)
    response = client.patch("/api/v1/gateways/x", json={"name": "xx"})
    assert response.status_code == 200
    assert client.get("/api/v1/subnets/s").json()["gateway"] == "xx"
    assert client.get("/api/v1/gateways/x").status_code == 404
    tunnels = [r for r in client.get("/api/v1/audit", params={"kind": "tunnel"}).json()]
    assert [r["action"] for r in tunnels] == ["create"]  # kept, not re-allocated


def test_delete_gateway_still_used_by_subnets_is_409_naming_them(client):
    load_freeswan(client)
    before = snapshot(client)
    body = assert_problem(client.delete("/api/v1/gateways/y"), 409, "", "subnets t, u")
    assert "still used" in body["detail"]
    assert snapshot(client) == before


def test_delete_unused_gateway(client):
    client.post("/api/v1/gateways", json={"name": "hq", "address": "192.0.2.1"})
    assert client.delete("/api/v1/gateways/hq").status_code == 204
    assert client.get("/api/v1/gateways/hq").status_code == 404


def test_delete_unknown_gateway_is_404(client):
    assert_problem(client.delete("/api/v1/gateways/nope"), 404)
