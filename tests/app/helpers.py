"""Builders and checks the application tests share."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

FREESWAN = """\
gateways:
  - {name: x, address: 192.0.2.1}
  - {name: y, address: 192.0.2.2}
subnets:
  - {name: s, cidr: 10.1.0.0/24, gateway: x}
  - {name: t, cidr: 10.2.0.0/24, gateway: y}
  - {name: u, cidr: 10.3.0.0/24, gateway: y}
policies:
  - {name: s-u, between: [s, u], action: protect}
  - {name: s-t, between: [s, t], action: bypass}
"""


def load_freeswan(client) -> None:
    """Put the FreeS/WAN topology in through the API."""
    response = client.put(
        "/api/v1/intent", content=FREESWAN, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 200, response.text


def snapshot(client) -> tuple[int, str, int]:
    """(revision, exported intent, audit count): what a failed write must not change."""
    revision = client.get("/api/v1/revision").json()["revision"]
    intent = client.get("/api/v1/intent", params={"format": "yaml"}).text
    audit = int(client.get("/api/v1/audit").headers["X-Total-Count"])
    return revision, intent, audit


def assert_problem(
    response, status: int, field: str | None = None, says: str = ""
) -> dict:
    """An RFC 9457 problem with an error at ``field`` saying ``says``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:cygnet:problem:")
    assert body["title"] and body["detail"]
    assert isinstance(body["errors"], list) and body["errors"]
    if field is not None:
        matching = [e for e in body["errors"] if e["field"] == field]
        assert matching, f"no error at {field!r}: {body['errors']}"
        assert any(says in e["message"] for e in matching), body["errors"]
    return body
