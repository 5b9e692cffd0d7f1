"""Reading and writing the intent document: every problem, with its line."""

from __future__ import annotations

import json

import pytest
import yaml

from app.services.document import dump_document, read_document
from app.services.problems import ValidationFailed
from tests.app.helpers import EXAMPLES, FREESWAN


def problems_of(text: str):
    with pytest.raises(ValidationFailed) as caught:
        read_document(text)
    return caught.value


def test_freeswan_example_is_the_documented_topology():
    doc = read_document((EXAMPLES / "freeswan.yaml").read_text())
    assert [s.gateway for s in doc.subnets] == ["x", "y", "y"]
    actions = {p.between: p.action for p in doc.policies}
    assert actions == {("s", "u"): "protect", ("s", "t"): "bypass"}


@pytest.mark.parametrize("name", ["freeswan.yaml", "hub-and-branches.yaml"])
def test_examples_round_trip_through_yaml_and_json(name):
    text = (EXAMPLES / name).read_text()
    doc = read_document(text)
    assert yaml.safe_load(dump_document(doc)) == yaml.safe_load(text)
    assert json.loads(dump_document(doc, "json")) == yaml.safe_load(text)
    assert read_document(dump_document(doc, "json")) == doc


def test_export_writes_the_documented_shape_exactly():
    assert dump_document(read_document(FREESWAN)) == FREESWAN


def test_defaults_are_left_out_and_set_fields_kept():
    text = FREESWAN.replace(
        "action: bypass}",
        "action: bypass, protocol: udp, ports: 500-501, mode: tunnel}",
    )
    out = dump_document(read_document(text))
    assert (
        "{name: s-t, between: [s, t], action: bypass, protocol: udp, ports: 500-501}"
        in out
    )
    assert "mode" not in out


def test_every_problem_is_reported_with_path_and_line():
    text = """\
gateways:
  - {name: x, address: 192.0.2.1}
  - {name: x, address: 192.0.2.1}
  - {name: -bad, address: nope}
subnets:
  - {name: s, cidr: 10.1.0.1/24, gateway: x}
  - name: t
    cidr: 10.2.0.0/24
    gateway: ghost
policies:
  - {name: p, between: [s, t], action: protect, colour: red}
  - name: q
    between:
      - t
      - 10.99.0.0/24
    action: drop
"""
    failed = problems_of(text)
    found = {(p.field, p.line) for p in failed.problems}
    assert {
        ("gateways[1].name", 3),
        ("gateways[1].address", 3),
        ("gateways[2].name", 4),
        ("gateways[2].address", 4),
        ("subnets[0].cidr", 6),
        ("subnets[1].gateway", 9),
        ("policies[0].colour", 11),
        ("policies[1].between[1]", 15),
    } <= found
    assert failed.status == 422


def test_duplicate_keys_are_malformed():
    failed = problems_of(
        "gateways:\n  - name: x\n    name: y\n    address: 192.0.2.1\n"
    )
    assert failed.status == 400
    assert failed.problems[0].field == "gateways[0].name"
    assert failed.problems[0].line == 3


def test_json_problems_carry_lines_too():
    text = json.dumps(yaml.safe_load(FREESWAN), indent=2).replace(
        "10.2.0.0/24", "10.2.0.9/24"
    )
    failed = problems_of(text)
    assert failed.problems[0].field == "subnets[1].cidr"
    lines = text.splitlines()
    expected = next(n for n, line in enumerate(lines, 1) if "10.2.0.9/24" in line)
    assert failed.problems[0].line == expected


@pytest.mark.parametrize(
    "text, says",
    [
        ("- just\n- a list\n", "the intent is a mapping"),
        ("gateways: {name: x}\n", "must be a list of gateways"),
        ("gateways:\n  - hq\n", "each gateway is a mapping"),
        (
            "subnets:\n  - {name: s, cidr: 10.0.0.0/8, gateway: x, gw: y}\n",
            "unknown key 'gw'",
        ),
    ],
)
def test_shape_errors_say_what_the_document_should_look_like(text, says):
    assert says in str(problems_of(text))


def test_empty_document_is_an_empty_intent():
    doc = read_document("")
    assert (doc.gateways, doc.subnets, doc.policies) == ([], [], [])


def test_yaml_1_1_lookalikes_stay_text():
    text = """\
gateways:
  - {name: on, address: 1:2:3:4:5:6:7:8}
  - {name: no, address: 192.0.2.2, managed: false}
"""
    doc = read_document(text)
    assert [g.name for g in doc.gateways] == ["on", "no"]
    assert str(doc.gateways[0].address) == "1:2:3:4:5:6:7:8"
    assert doc.gateways[1].managed is False
    assert read_document(dump_document(doc)) == doc
