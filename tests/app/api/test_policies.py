"""/api/v1/policies: CRUD, ends, protocols and ports, conflicts."""

from __future__ import annotations

import pytest

from tests.app.helpers import assert_problem, load_freeswan, snapshot


def post(client, **body):
    return client.post("/api/v1/policies", json=body)


def test_create_policy_with_cidr_end_and_ports(client):
    load_freeswan(client)
    response = post(
        client,
        name="ssh",
        between=["10.1.0.0/25", "t"],
        action="protect",
        protocol="TCP",
        ports=22,
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "name": "ssh",
        "between": ["10.1.0.0/25", "t"],
        "action": "protect",
        "protocol": "tcp",
        "ports": "22",
        "mode": "tunnel",
        "keying": "ike",
    }


def test_protocol_by_number_and_port_range(client):
    load_freeswan(client)
    response = post(
        client,
        name="web",
        between=["s", "t"],
        action="bypass",
        protocol=6,
        ports="8000-8080",
        mode="transport",
        keying="manual",
    )
    assert response.status_code == 201, response.text
    assert response.json()["protocol"] == "tcp"
    assert response.json()["ports"] == "8000-8080"
    gre = post(client, name="gre", between=["s", "u"], action="drop", protocol=47)
    assert gre.json()["protocol"] == 47


def test_narrower_policy_is_an_allowed_exception(client):
    load_freeswan(client)
    response = post(
        client,
        name="s-u-ssh",
        between=["s", "u"],
        action="bypass",
        protocol="tcp",
        ports="22",
    )
    assert response.status_code == 201
    response = post(client, name="s-host", between=["s", "10.3.0.9/32"], action="drop")
    assert response.status_code == 201


def test_conflicting_policy_is_rejected_naming_the_other(client):
    load_freeswan(client)
    before = snapshot(client)
    response = post(client, name="clear", between=["u", "s"], action="bypass")
    assert_problem(response, 409, "between", "conflicts with policy s-u")
    assert snapshot(client) == before


def test_conflict_is_found_through_cidr_spelling_of_a_subnet(client):
    load_freeswan(client)
    response = post(client, name="clear", between=["10.3.0.0/24", "s"], action="drop")
    assert_problem(response, 409, "between", "conflicts with policy s-u")


def test_duplicate_policy_is_rejected_naming_the_other(client):
    load_freeswan(client)
    response = post(client, name="again", between=["u", "s"], action="protect")
    assert_problem(response, 409, "between", "duplicate")
    assert "policy s-u" in response.json()["errors"][0]["message"]


def test_mixed_address_families_are_rejected(client):
    load_freeswan(client)
    client.post(
        "/api/v1/subnets", json={"name": "v6", "cidr": "2001:db8::/64", "gateway": "y"}
    )
    before = snapshot(client)
    response = post(client, name="mixed", between=["s", "v6"], action="protect")
    assert_problem(response, 422, "between[1]", "one address family")
    assert snapshot(client) == before


def test_end_outside_every_subnet_is_rejected(client):
    load_freeswan(client)
    response = post(
        client, name="far", between=["s", "172.16.0.0/16"], action="protect"
    )
    assert_problem(response, 422, "between[1]", "lies inside no known subnet")


def test_end_wider_than_its_subnet_is_rejected(client):
    load_freeswan(client)
    response = post(client, name="wide", between=["s", "10.2.0.0/16"], action="bypass")
    assert_problem(response, 422, "between[1]", "lies inside no known subnet")


def test_protect_with_both_ends_behind_one_gateway_is_rejected(client):
    load_freeswan(client)
    before = snapshot(client)
    response = post(client, name="local", between=["t", "u"], action="protect")
    assert_problem(response, 422, "between", "both ends lie behind gateway y")
    assert snapshot(client) == before


def test_bypass_between_subnets_of_one_gateway_is_fine(client):
    load_freeswan(client)
    assert (
        post(client, name="local", between=["t", "u"], action="bypass").status_code
        == 201
    )


def test_unknown_subnet_is_rejected(client):
    load_freeswan(client)
    response = post(client, name="p", between=["s", "nope"], action="protect")
    assert_problem(response, 422, "between[1]", "unknown subnet 'nope'")


@pytest.mark.parametrize(
    "body, field, says",
    [
        ({"ports": "22", "protocol": None}, "ports", "need protocol tcp, udp or sctp"),
        (
            {"ports": "22", "protocol": "icmp"},
            "ports",
            "need protocol tcp, udp or sctp",
        ),
        ({"ports": "80-22", "protocol": "tcp"}, "ports", "is not a port range"),
        ({"ports": "0", "protocol": "tcp"}, "ports", "is not a port range"),
        ({"ports": "70000", "protocol": "udp"}, "ports", "is not a port range"),
        ({"ports": "ssh", "protocol": "tcp"}, "ports", "write 22 or 8000-8080"),
        ({"protocol": "gre"}, "protocol", "is not a protocol"),
        ({"protocol": 256}, "protocol", "is not a protocol"),
        ({"action": "allow"}, "action", "is not one of protect, bypass, drop"),
        ({"mode": "beet"}, "mode", "is not one of tunnel, transport"),
        ({"keying": "psk"}, "keying", "is not one of ike, manual"),
        ({"between": ["s"]}, "between", "a policy joins exactly two"),
        ({"between": ["s", "10.3.0.1/24"]}, "between[1]", "use 10.3.0.0/24"),
        ({"between": ["s", "s"]}, "between", "two different ends"),
        ({"name": "bad name"}, "name", "is not a valid policy name"),
    ],
)
def test_bad_policy_fields_are_rejected(client, body, field, says):
    load_freeswan(client)
    before = snapshot(client)
    full = {"name": "p", "between": ["s", "u"], "action": "drop", **body}
    assert_problem(client.post("/api/v1/policies", json=full), 422, field, says)
    assert snapshot(client) == before


def test_icmp_for_ipv6_ends_is_rejected(client):
    load_freeswan(client)
    client.post(
        "/api/v1/subnets",
        json={"name": "a6", "cidr": "2001:db8:a::/64", "gateway": "x"},
    )
    client.post(
        "/api/v1/subnets",
        json={"name": "b6", "cidr": "2001:db8:b::/64", "gateway": "y"},
    )
    response = post(
        client, name="ping", between=["a6", "b6"], action="bypass", protocol="icmp"
    )
    assert_problem(response, 422, "protocol", "use ipv6-icmp")


def test_several_problems_are_all_reported(client):
    load_freeswan(client)
    response = post(
        client,
        name="p",
        between=["s", "nope"],
        action="allow",
        protocol="tcp",
        ports="99-1",
    )
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"action", "ports"} <= fields


def test_patch_policy_action_and_clear_ports(client):
    load_freeswan(client)
    post(
        client,
        name="ssh",
        between=["s", "t"],
        action="protect",
        protocol="tcp",
        ports=22,
    )
    response = client.patch(
        "/api/v1/policies/ssh", json={"action": "drop", "ports": None}
    )
    assert response.status_code == 200, response.text
    assert response.json()["ports"] is None and response.json()["action"] == "drop"
    assert response.json()["protocol"] == "tcp"
    # Clearing the protocol too would make it s-t's selector with another action.
    response = client.patch("/api/v1/policies/ssh", json={"protocol": None})
    assert_problem(response, 409, "between", "conflicts with policy s-t")


def test_patch_into_a_conflict_is_rejected(client):
    load_freeswan(client)
    before = snapshot(client)
    response = client.patch("/api/v1/policies/s-t", json={"between": ["s", "u"]})
    assert_problem(response, 409, "between", "conflicts with policy s-u")
    assert snapshot(client) == before


def test_delete_policy(client):
    load_freeswan(client)
    assert client.delete("/api/v1/policies/s-t").status_code == 204
    assert [p["name"] for p in client.get("/api/v1/policies").json()] == ["s-u"]
