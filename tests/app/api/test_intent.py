"""/api/v1/intent: the whole intent as one YAML or JSON document."""

from __future__ import annotations

import json

import yaml

from tests.app.helpers import (
    EXAMPLES,
    FREESWAN,
    assert_problem,
    load_freeswan,
    snapshot,
)

YAML = {"Content-Type": "application/yaml"}


def test_export_is_json_by_default_and_yaml_on_request(client):
    load_freeswan(client)
    response = client.get("/api/v1/intent")
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == yaml.safe_load(FREESWAN)
    assert response.headers["X-Cygnet-Revision"] == "1"
    as_yaml = client.get("/api/v1/intent", params={"format": "yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert as_yaml.text == FREESWAN
    by_accept = client.get("/api/v1/intent", headers={"Accept": "application/yaml"})
    assert by_accept.text == FREESWAN


def test_import_then_export_round_trips_the_hub_example(client):
    text = (EXAMPLES / "hub-and-branches.yaml").read_text()
    response = client.put("/api/v1/intent", content=text, headers=YAML)
    assert response.status_code == 200, response.text
    exported = client.get("/api/v1/intent", params={"format": "yaml"}).text
    assert yaml.safe_load(exported) == yaml.safe_load(text)


def test_import_accepts_json(client):
    body = json.dumps(yaml.safe_load(FREESWAN))
    response = client.put(
        "/api/v1/intent", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"revision": 1, "changes": 7, "dry_run": False}


def test_reimporting_the_same_document_changes_nothing(client):
    load_freeswan(client)
    response = client.put("/api/v1/intent", content=FREESWAN, headers=YAML)
    assert response.json()["changes"] == 0
    assert client.get("/api/v1/revision").json()["revision"] == 1


def test_import_replaces_everything(client):
    load_freeswan(client)
    smaller = "\n".join(FREESWAN.splitlines()[:6]) + "\npolicies: []\n"
    smaller = smaller.replace("  - {name: u, cidr: 10.3.0.0/24, gateway: y}\n", "")
    response = client.put("/api/v1/intent", content=smaller, headers=YAML)
    assert response.status_code == 200, response.text
    assert [s["name"] for s in client.get("/api/v1/subnets").json()] == ["s", "t"]
    assert client.get("/api/v1/policies").json() == []


def test_import_problems_name_every_place_with_its_line(client):
    load_freeswan(client)
    before = snapshot(client)
    bad = """\
gateways:
  - {name: x, address: 192.0.2.1}
  - {name: y, address: 192.0.2.2}
subnets:
  - {name: s, cidr: 10.1.0.1/24, gateway: x}
  - {name: t, cidr: 10.2.0.0/24, gateway: nowhere}
policies:
  - {name: a, between: [s, t], action: protect}
  - {name: b, between: [t, 2001:db8::/64], action: bypass, ports: 80-70}
"""
    body = assert_problem(client.put("/api/v1/intent", content=bad, headers=YAML), 422)
    errors = {(e["field"], e.get("line")) for e in body["errors"]}
    assert ("subnets[0].cidr", 5) in errors
    assert ("subnets[1].gateway", 6) in errors
    assert ("policies[1].ports", 9) in errors
    assert snapshot(client) == before


def test_malformed_yaml_is_400_with_its_line(client):
    load_freeswan(client)
    before = snapshot(client)
    bad = "gateways:\n  - {name: x, address: 192.0.2.1\nsubnets: []\n"
    body = assert_problem(
        client.put("/api/v1/intent", content=bad, headers=YAML),
        400,
        "",
        "malformed YAML",
    )
    assert body["errors"][0]["line"] == 3
    assert snapshot(client) == before


def test_malformed_json_is_400(client):
    response = client.put(
        "/api/v1/intent",
        content='{"gateways": [}',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400, "", "malformed JSON")


def test_unknown_top_level_key_is_reported(client):
    response = client.put("/api/v1/intent", content="gateway: []\n", headers=YAML)
    assert_problem(response, 422, "gateway", "unknown key 'gateway'")


def test_dry_run_reports_changes_and_writes_nothing(client):
    before = snapshot(client)
    response = client.put(
        "/api/v1/intent", params={"dry_run": "true"}, content=FREESWAN, headers=YAML
    )
    assert response.json() == {"revision": 1, "changes": 7, "dry_run": True}
    assert snapshot(client) == before


def test_import_conflict_inside_the_document_is_rejected(client):
    doc = FREESWAN + "  - {name: s-t-drop, between: [t, s], action: drop}\n"
    body = assert_problem(client.put("/api/v1/intent", content=doc, headers=YAML), 409)
    assert body["errors"][0]["field"] == "policies[2].between"
    assert body["errors"][0]["line"] == 11
    assert "conflicts with policy s-t" in body["errors"][0]["message"]
