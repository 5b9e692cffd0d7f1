"""Lists: document order, pagination with X-Total-Count, filters."""

from __future__ import annotations

from tests.app.helpers import EXAMPLES, assert_problem, load_freeswan


def load_hub(client):
    text = (EXAMPLES / "hub-and-branches.yaml").read_text()
    response = client.put(
        "/api/v1/intent", content=text, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 200, response.text


def names(response):
    return [item["name"] for item in response.json()]


def test_pages_cover_the_list_once_with_the_total(client):
    load_hub(client)
    everything = names(client.get("/api/v1/subnets", params={"limit": 1000}))
    assert len(everything) > 10
    seen = []
    for offset in range(0, len(everything), 5):
        response = client.get("/api/v1/subnets", params={"limit": 5, "offset": offset})
        assert response.headers["X-Total-Count"] == str(len(everything))
        assert len(response.json()) <= 5
        seen += names(response)
    assert seen == everything


def test_offset_past_the_end_gives_an_empty_page(client):
    load_freeswan(client)
    response = client.get("/api/v1/gateways", params={"offset": 50})
    assert response.json() == [] and response.headers["X-Total-Count"] == "2"


def test_bad_limit_is_a_problem(client):
    assert_problem(client.get("/api/v1/gateways", params={"limit": 0}), 422, "limit")
    assert_problem(client.get("/api/v1/gateways", params={"limit": 5000}), 422, "limit")
    assert_problem(client.get("/api/v1/policies", params={"offset": -1}), 422, "offset")


def test_lists_keep_document_order(client):
    load_freeswan(client)
    assert names(client.get("/api/v1/policies")) == ["s-u", "s-t"]


def test_filter_by_name_prefix(client):
    load_hub(client)
    found = names(client.get("/api/v1/gateways", params={"name": "branch-0"}))
    assert found and all(n.startswith("branch-0") for n in found)


def test_filter_subnets_by_gateway_and_family(client):
    load_freeswan(client)
    assert names(client.get("/api/v1/subnets", params={"gateway": "y"})) == ["t", "u"]
    client.post(
        "/api/v1/subnets", json={"name": "v6", "cidr": "2001:db8::/64", "gateway": "y"}
    )
    assert names(client.get("/api/v1/subnets", params={"family": 6})) == ["v6"]


def test_filter_policies_by_action_gateway_subnet_and_protocol(client):
    load_freeswan(client)
    client.post(
        "/api/v1/policies",
        json={
            "name": "ssh",
            "between": ["s", "10.2.0.9/32"],
            "action": "drop",
            "protocol": "tcp",
            "ports": 22,
        },
    )
    assert names(client.get("/api/v1/policies", params={"action": "protect"})) == [
        "s-u"
    ]
    assert names(client.get("/api/v1/policies", params={"action": "drop"})) == ["ssh"]
    assert names(client.get("/api/v1/policies", params={"subnet": "t"})) == [
        "s-t",
        "ssh",
    ]
    assert names(client.get("/api/v1/policies", params={"protocol": "tcp"})) == ["ssh"]
    assert names(client.get("/api/v1/policies", params={"gateway": "x"})) == [
        "s-u",
        "s-t",
        "ssh",
    ]
    response = client.get(
        "/api/v1/policies", params={"gateway": "y", "action": "bypass"}
    )
    assert names(response) == ["s-t"] and response.headers["X-Total-Count"] == "1"
