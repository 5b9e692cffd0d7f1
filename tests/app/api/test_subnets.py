"""/api/v1/subnets: CRUD and the address rules."""

from __future__ import annotations

import pytest

from tests.app.helpers import assert_problem, load_freeswan, snapshot


def test_create_subnet_and_read_it_back(client):
    load_freeswan(client)
    response = client.post(
        "/api/v1/subnets",
        json={"name": "v6", "cidr": "2001:DB8:1::/48", "gateway": "x"},
    )
    assert response.status_code == 201
    assert response.json() == {"name": "v6", "cidr": "2001:db8:1::/48", "gateway": "x"}
    assert client.get("/api/v1/subnets/v6").json()["cidr"] == "2001:db8:1::/48"


def test_cidr_with_host_bits_is_rejected_with_the_fix(client):
    load_freeswan(client)
    before = snapshot(client)
    response = client.post(
        "/api/v1/subnets", json={"name": "w", "cidr": "10.9.0.1/24", "gateway": "x"}
    )
    assert_problem(
        response, 422, "cidr", "10.9.0.1/24 has host bits set; use 10.9.0.0/24"
    )
    assert snapshot(client) == before


@pytest.mark.parametrize(
    "cidr, says",
    [
        ("10.9.0.0", "has no prefix length"),
        ("10.9.0.0/33", "is not a CIDR"),
        ("banana", "is not a CIDR"),
    ],
)
def test_malformed_cidr_is_rejected(client, cidr, says):
    load_freeswan(client)
    response = client.post(
        "/api/v1/subnets", json={"name": "w", "cidr": cidr, "gateway": "x"}
    )
    assert_problem(response, 422, "cidr", says)


def test_subnet_overlapping_another_gateways_is_rejected_naming_both(client):
    load_freeswan(client)
    before = snapshot(client)
    response = client.post(
        "/api/v1/subnets", json={"name": "big", "cidr": "10.2.0.0/16", "gateway": "x"}
    )
    body = assert_problem(response, 409, "cidr", "overlaps subnet t 10.2.0.0/24")
    message = body["errors"][0]["message"]
    assert "gateway x" in message and "gateway y" in message
    assert snapshot(client) == before


def test_subnet_inside_another_of_the_same_gateway_is_fine(client):
    load_freeswan(client)
    response = client.post(
        "/api/v1/subnets",
        json={"name": "t-half", "cidr": "10.2.0.128/25", "gateway": "y"},
    )
    assert response.status_code == 201


def test_same_cidr_twice_behind_one_gateway_is_rejected(client):
    load_freeswan(client)
    response = client.post(
        "/api/v1/subnets", json={"name": "t2", "cidr": "10.2.0.0/24", "gateway": "y"}
    )
    assert_problem(response, 409, "cidr", "is already subnet t")


def test_subnet_behind_unknown_gateway_is_rejected(client):
    load_freeswan(client)
    response = client.post(
        "/api/v1/subnets", json={"name": "w", "cidr": "10.9.0.0/24", "gateway": "zz"}
    )
    assert_problem(response, 422, "gateway", "unknown gateway 'zz'")


def test_subnet_name_that_looks_like_an_address_is_rejected(client):
    load_freeswan(client)
    response = client.post(
        "/api/v1/subnets",
        json={"name": "10.9.0.0", "cidr": "10.9.0.0/24", "gateway": "x"},
    )
    assert_problem(response, 422, "name", "looks like an address")


def test_moving_subnet_under_policy_end_behind_same_gateway_is_rejected(client):
    load_freeswan(client)
    before = snapshot(client)
    # s-u protects s (behind x) and u: moving u behind x puts both ends behind x.
    response = client.patch("/api/v1/subnets/u", json={"gateway": "x"})
    assert_problem(
        response, 422, "policies/s-u.between", "both ends lie behind gateway x"
    )
    assert snapshot(client) == before


def test_shrinking_subnet_away_from_a_policy_cidr_end_is_rejected(client):
    load_freeswan(client)
    client.post(
        "/api/v1/policies",
        json={"name": "host", "between": ["s", "10.2.0.200/32"], "action": "drop"},
    )
    response = client.patch("/api/v1/subnets/t", json={"cidr": "10.2.0.0/25"})
    assert_problem(
        response, 422, "policies/host.between[1]", "lies inside no known subnet"
    )


def test_rename_subnet_carries_policies_that_name_it(client):
    load_freeswan(client)
    response = client.patch("/api/v1/subnets/u", json={"name": "u-lan"})
    assert response.status_code == 200
    assert client.get("/api/v1/policies/s-u").json()["between"] == ["s", "u-lan"]


def test_delete_subnet_used_by_policies_is_409_naming_them(client):
    load_freeswan(client)
    before = snapshot(client)
    body = assert_problem(
        client.delete("/api/v1/subnets/s"), 409, "", "s-u (between[0])"
    )
    assert "s-t (between[0])" in body["errors"][0]["message"]
    assert snapshot(client) == before


def test_delete_subnet_holding_a_policy_cidr_end_is_409(client):
    load_freeswan(client)
    client.post(
        "/api/v1/policies",
        json={"name": "host", "between": ["s", "10.2.0.7/32"], "action": "drop"},
    )
    client.delete("/api/v1/policies/s-t")
    assert_problem(
        client.delete("/api/v1/subnets/t"), 409, "", "10.2.0.7/32 lies inside it"
    )


def test_delete_unused_subnet(client):
    load_freeswan(client)
    client.delete("/api/v1/policies/s-u")
    assert client.delete("/api/v1/subnets/u").status_code == 204
    assert [s["name"] for s in client.get("/api/v1/subnets").json()] == ["s", "t"]
