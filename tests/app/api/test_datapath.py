"""/api/v1/gateways/{name}/plan, apply, trace, status, rekey on a namespace's kernel."""

from __future__ import annotations

import pytest

from tests.app.helpers import FREESWAN, assert_problem, load_freeswan
from tests.netns import Namespaces, skip_reason

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
]


@pytest.fixture
def kernel_client(client):
    """The API with its kernel in a fresh namespace, and the FreeS/WAN intent."""
    with Namespaces() as spaces:
        client.app.state.netns = spaces.add("x")
        client.spaces = spaces
        load_freeswan(client)
        yield client


def _policies(client) -> str:
    return client.spaces.ip("x", "xfrm", "policy", "list")


def test_plan_lists_every_step_and_changes_nothing(kernel_client):
    response = kernel_client.get("/api/v1/gateways/x/plan")

    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["gateway"] == "x"
    assert plan["counts"]["add"] == len(plan["steps"]) > 0
    assert plan["counts"]["remove"] == 0
    assert "s-u" in plan["touches"]
    assert _policies(kernel_client).strip() == ""


def test_apply_installs_the_plan_and_a_second_apply_changes_nothing(kernel_client):
    planned = kernel_client.get("/api/v1/gateways/x/plan").json()

    first = kernel_client.post("/api/v1/gateways/x/apply")
    second = kernel_client.post("/api/v1/gateways/x/apply")
    after = kernel_client.get("/api/v1/gateways/x/plan").json()

    assert first.status_code == 200, first.text
    assert first.json()["ok"] is True
    assert first.json()["applied"] == len(planned["steps"])
    assert second.json()["applied"] == 0
    assert after["steps"] == []
    assert "10.3.0.0/24" in _policies(kernel_client)


def test_apply_the_kernel_refuses_is_a_502_naming_the_cause_and_stays_closed(
    kernel_client,
):
    manual = FREESWAN.replace("action: protect}", "action: protect, keying: manual}")
    kernel_client.put(
        "/api/v1/intent", content=manual, headers={"Content-Type": "application/yaml"}
    )

    response = kernel_client.post("/api/v1/gateways/x/apply")

    if response.status_code == 200:
        pytest.skip("this kernel has ESP, so it does not refuse the SAs")
    body = assert_problem(response, 502)
    assert "CONFIG_INET_ESP" in body["detail"]
    assert body["result"]["ok"] is False
    assert body["result"]["errors"][0]["op"] == "add"
    # The protecting policies went in before the SAs were refused: U-S is
    # dropped, never sent in clear.
    policies = _policies(kernel_client)
    assert "src 10.1.0.0/24 dst 10.3.0.0/24" in policies
    assert "tmpl src 192.0.2.1 dst 192.0.2.2" in policies
    status = kernel_client.get("/api/v1/gateways/x/status").json()
    assert status["last_apply_ok"] is False
    assert "CONFIG_INET_ESP" in status["last_apply_message"]


def test_trace_names_the_deciding_policy_and_the_kernel_agrees(kernel_client):
    kernel_client.post("/api/v1/gateways/x/apply")

    response = kernel_client.post(
        "/api/v1/gateways/x/trace",
        json={
            "src": "10.1.0.5",
            "dst": "10.3.0.9",
            "proto": "tcp",
            "dport": 22,
            "kernel": True,
        },
    )

    assert response.status_code == 200, response.text
    trace = response.json()
    assert trace["decided_by"] == "s-u"
    assert trace["verdict"].startswith("protect")
    assert trace["kernel"] is not None and trace["disagreements"] == []


def test_trace_of_the_exception_says_clear(kernel_client):
    response = kernel_client.post(
        "/api/v1/gateways/x/trace", json={"src": "10.2.0.5", "dst": "10.1.0.9"}
    )

    trace = response.json()
    assert trace["decided_by"] == "s-t"
    assert trace["direction"] == "fwd"  # from T, through X, to S
    assert trace["verdict"].startswith("bypass")


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"src": "10.1.0.5", "dst": "10.3.0.x"}, "dst", "is not an IP address"),
        ({"src": "10.1.0.5/24", "dst": "10.3.0.1"}, "src", "without a prefix length"),
        ({"src": "10.1.0.5", "dst": "2001:db8::1"}, "dst", "different families"),
        ({"src": "10.1.0.5", "dst": "10.3.0.1", "proto": "gre2"}, "proto", "tcp, udp"),
    ],
)
def test_trace_with_a_bad_packet_names_the_field(kernel_client, body, field, says):
    response = kernel_client.post("/api/v1/gateways/x/trace", json=body)

    assert_problem(response, 422, field, says)


def test_unknown_gateway_is_a_404_naming_the_known_ones(kernel_client):
    for response in (
        kernel_client.get("/api/v1/gateways/nope/plan"),
        kernel_client.post("/api/v1/gateways/nope/apply"),
        kernel_client.post(
            "/api/v1/gateways/nope/trace", json={"src": "10.1.0.1", "dst": "10.3.0.1"}
        ),
    ):
        assert_problem(response, 404, "name", "known: x, y")


def test_plan_and_apply_of_another_appliances_gateway_are_refused(
    kernel_client, monkeypatch
):
    monkeypatch.setenv("CYGNET_GATEWAY", "x")

    plan = kernel_client.get("/api/v1/gateways/y/plan")
    apply = kernel_client.post("/api/v1/gateways/y/apply")

    assert_problem(plan, 409, "name", "this appliance is gateway x")
    assert_problem(apply, 409, "name", "this appliance is gateway x")
    assert _policies(kernel_client).strip() == ""


def test_status_reports_each_tunnel(kernel_client):
    before = kernel_client.get("/api/v1/gateways/x/status").json()
    kernel_client.post("/api/v1/gateways/x/apply")
    after = kernel_client.get("/api/v1/gateways/x/status").json()

    assert before["applied_revision"] is None
    assert [t["state"] for t in before["tunnels"]] in ([], ["configured"])
    assert after["last_apply_ok"] is True
    assert after["applied_revision"] == after["revision"]
    # IKE keys the tunnel and no IKE daemon runs here: configured, but down.
    assert [(t["peer"], t["state"]) for t in after["tunnels"]] == [("y", "down")]
    assert "XfrmInTmplMismatch" in after["drops"]


def test_rekey_without_manual_keys_says_why(kernel_client):
    response = kernel_client.post("/api/v1/gateways/x/rekey", json={"peer": "y"})

    assert_problem(response, 422, "peer", "only manual keys are rotated")


def test_rekey_starts_a_new_generation_of_manual_keys(kernel_client):
    manual = FREESWAN.replace("action: protect}", "action: protect, keying: manual}")
    kernel_client.put(
        "/api/v1/intent", content=manual, headers={"Content-Type": "application/yaml"}
    )
    kernel_client.post("/api/v1/gateways/x/apply")

    first = kernel_client.post("/api/v1/gateways/x/rekey", json={"peer": "y"})
    again = kernel_client.post("/api/v1/gateways/x/rekey", json={"peer": "y"})

    assert first.status_code == 202, first.text
    assert first.json()["generation"] == 2
    assert_problem(again, 422, "peer", "already under way")
