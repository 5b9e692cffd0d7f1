"""The application shell: health, OpenAPI docs served locally, unknown routes."""

from __future__ import annotations

import re

from tests.app.helpers import assert_problem


def test_healthz_says_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.text == "ok"


def test_docs_load_every_asset_from_the_appliance(client):
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls, page.text
    for url in urls:
        assert url.startswith("/"), f"{url} is not served by the appliance"
        assert client.get(url).status_code == 200, url
    assert "cdn" not in page.text.lower()


def test_openapi_names_the_schema_families_and_verb_noun_handlers(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for family in ("Gateway", "Subnet", "Policy"):
        for suffix in ("Create", "Update", "Read"):
            assert f"{family}{suffix}" in schemas
    operations = {
        op["operationId"].split("_api_")[0]
        for path in spec["paths"].values()
        for op in path.values()
    }
    assert {
        "create_gateway",
        "list_policies",
        "delete_subnet",
        "export_intent",
        "import_intent",
        "list_audit",
        "read_revision",
    } <= operations


def test_unknown_route_is_a_problem_document(client):
    assert_problem(client.get("/api/v1/nothing"), 404)


def test_wrong_method_is_a_problem_document(client):
    assert_problem(client.post("/api/v1/revision"), 405)
