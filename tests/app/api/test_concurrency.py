"""Optimistic concurrency: ETag on reads, If-Match on writes, 412 when stale."""

from __future__ import annotations

import pytest

from tests.app.helpers import assert_problem, load_freeswan, snapshot

WRITES = [
    ("patch", "/api/v1/gateways/x", {"ike_id": "@x"}),
    ("put", "/api/v1/gateways/x", {"address": "192.0.2.11"}),
    ("delete", "/api/v1/policies/s-t", None),
    ("patch", "/api/v1/subnets/t", {"cidr": "10.2.0.0/23"}),
    ("put", "/api/v1/policies/s-t", {"between": ["s", "t"], "action": "drop"}),
]


def _write(client, method, url, body, etag):
    kwargs = {"headers": {"If-Match": etag}}
    if body is not None:
        kwargs["json"] = body
    return getattr(client, method)(url, **kwargs)


def test_etag_changes_when_the_item_changes(client):
    load_freeswan(client)
    first = client.get("/api/v1/gateways/x").headers["ETag"]
    assert client.get("/api/v1/gateways/x").headers["ETag"] == first
    client.patch("/api/v1/gateways/x", json={"ike_id": "@x"})
    assert client.get("/api/v1/gateways/x").headers["ETag"] != first


@pytest.mark.parametrize("method, url, body", WRITES)
def test_write_with_current_etag_succeeds(client, method, url, body):
    load_freeswan(client)
    etag = client.get(url).headers["ETag"]
    response = _write(client, method, url, body, etag)
    assert response.status_code in (200, 204), response.text


@pytest.mark.parametrize("method, url, body", WRITES)
def test_write_with_stale_etag_is_412_and_changes_nothing(client, method, url, body):
    load_freeswan(client)
    stale = client.get(url).headers["ETag"]
    # Someone else changes the same item in between.
    kind_url = url
    if "gateways" in url:
        client.patch(kind_url, json={"route_based": True})
    elif "subnets" in url:
        client.patch(kind_url, json={"cidr": "10.2.0.0/22"})
    else:
        client.patch(kind_url, json={"mode": "transport"})
    before = snapshot(client)
    response = _write(client, method, url, body, stale)
    body_ = assert_problem(response, 412, "If-Match", "has changed since you read it")
    assert response.headers["ETag"] == client.get(url).headers["ETag"]
    assert "ETag" in body_["detail"]
    assert snapshot(client) == before


def test_if_match_star_needs_the_item_to_exist(client):
    load_freeswan(client)
    assert (
        client.patch(
            "/api/v1/gateways/x", json={"ike_id": "@x"}, headers={"If-Match": "*"}
        ).status_code
        == 200
    )
    response = client.put(
        "/api/v1/gateways/new",
        json={"address": "192.0.2.50"},
        headers={"If-Match": '"whatever"'},
    )
    assert_problem(response, 412)
    assert client.get("/api/v1/gateways/new").status_code == 404


def test_if_match_accepts_a_list_of_etags(client):
    load_freeswan(client)
    etag = client.get("/api/v1/gateways/x").headers["ETag"]
    response = client.patch(
        "/api/v1/gateways/x",
        json={"ike_id": "@x"},
        headers={"If-Match": f'"old", {etag}'},
    )
    assert response.status_code == 200


def test_intent_put_with_stale_revision_etag_is_412(client):
    load_freeswan(client)
    etag = client.get("/api/v1/intent").headers["ETag"]
    client.patch("/api/v1/gateways/x", json={"ike_id": "@x"})
    before = snapshot(client)
    response = client.put(
        "/api/v1/intent",
        content="gateways: []\n",
        headers={"If-Match": etag, "Content-Type": "application/yaml"},
    )
    assert_problem(response, 412)
    assert snapshot(client) == before
    fresh = client.get("/api/v1/intent").headers["ETag"]
    response = client.put(
        "/api/v1/intent",
        content="gateways: []\n",
        headers={"If-Match": fresh, "Content-Type": "application/yaml"},
    )
    assert response.status_code == 200
