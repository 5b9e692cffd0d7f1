"""cygnet plan, apply, guard, trace, status and rekey on a namespace's kernel."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from tests.app.helpers import FREESWAN
from tests.netns import Namespaces, skip_reason

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
]


@pytest.fixture
def cli(database_url, monkeypatch, capsys, tmp_path):
    """``cygnet ARGS`` in-process with FreeS/WAN's intent: (status, out, err)."""
    monkeypatch.setenv("CYGNET_DATABASE_URL", database_url)
    monkeypatch.delenv("CYGNET_GATEWAY", raising=False)

    def run(*args: str):
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    intent = tmp_path / "freeswan.yaml"
    intent.write_text(FREESWAN)
    assert run("import", str(intent))[0] == 0
    run.intent = intent
    return run


@pytest.fixture
def spaces():
    with Namespaces() as spaces:
        spaces.add("x")
        spaces.add("fresh")
        yield spaces


def test_plan_then_apply_then_plan_says_nothing_to_do(cli, spaces):
    ns = spaces["x"]

    status, out, _ = cli("plan", "--gateway", "x", "--netns", ns, "--json")
    planned = json.loads(out)
    applied = cli("apply", "--gateway", "x", "--netns", ns)
    again = cli("plan", "--gateway", "x", "--netns", ns)

    assert status == 0 and planned["counts"]["add"] > 0
    assert applied[0] == 0
    assert f"applied {planned['counts']['add']} change(s) to gateway x" in applied[1]
    assert again[0] == 0 and "the kernel already matches the intent" in again[1]


def test_gateway_comes_from_the_environment(cli, spaces, monkeypatch):
    monkeypatch.setenv("CYGNET_GATEWAY", "y")

    status, out, _ = cli("plan", "--netns", spaces["x"])

    assert status == 0 and out.startswith("gateway y at revision")


def test_guard_installs_the_policies_of_the_last_plan_and_no_keys(cli, spaces):
    manual = FREESWAN.replace("action: protect}", "action: protect, keying: manual}")
    cli.intent.write_text(manual)
    cli("import", str(cli.intent))
    cli("apply", "--gateway", "x", "--netns", spaces["x"])

    status, out, err = cli("guard", "--gateway", "x", "--netns", spaces["fresh"])

    assert status == 0, err
    assert "dropped until apply installs its keys" in out
    policies = spaces.ip("fresh", "xfrm", "policy", "list")
    assert "src 10.1.0.0/24 dst 10.3.0.0/24" in policies
    assert spaces.ip("fresh", "xfrm", "state", "list").strip() == ""


def test_trace_prints_the_chain_that_decided(cli, spaces):
    cli("apply", "--gateway", "x", "--netns", spaces["x"])

    status, out, _ = cli(
        "trace",
        "--gateway",
        "x",
        "--src",
        "10.1.0.5",
        "--dst",
        "10.3.0.9",
        "--proto",
        "udp",
        "--dport",
        "53",
        "--kernel",
        "--netns",
        spaces["x"],
    )

    assert status == 0
    assert "decided by policy s-u" in out
    assert "the kernel agrees" in out


def test_status_json_shows_the_tunnel(cli, spaces):
    cli("apply", "--gateway", "x", "--netns", spaces["x"])

    status, out, _ = cli("status", "--gateway", "x", "--netns", spaces["x"], "--json")

    report = json.loads(out)
    assert status == 0
    assert report["last_apply_ok"] is True
    assert [t["peer"] for t in report["tunnels"]] == ["y"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("plan", "--gateway", "nope"), "gateway 'nope' is not in the intent"),
        (("apply",), "no gateway named: pass --gateway NAME or set CYGNET_GATEWAY"),
        (
            ("apply", "--gateway", "x", "--netns", "cygnet-absent"),
            "network namespace 'cygnet-absent' does not exist",
        ),
        (
            ("trace", "--gateway", "x", "--src", "10.1.0.1", "--dst", "10.3.0.256"),
            "dst '10.3.0.256' is not an IP address",
        ),
        (("rekey", "--gateway", "x", "--peer", "z"), "peer: no gateway named 'z'"),
    ],
)
def test_mistakes_exit_2_saying_what_to_fix_and_change_nothing(cli, args, says):
    before = cli("export")[1]

    status, _, err = cli(*args)

    assert status == 2
    assert says in err
    assert cli("export")[1] == before


def test_apply_the_kernel_refuses_exits_1_and_leaves_protection(cli, spaces):
    manual = FREESWAN.replace("action: protect}", "action: protect, keying: manual}")
    cli.intent.write_text(manual)
    cli("import", str(cli.intent))

    status, _, err = cli("apply", "--gateway", "x", "--netns", spaces["x"])

    if status == 0:
        pytest.skip("this kernel has ESP, so it does not refuse the SAs")
    assert status == 1
    assert "the kernel has no ESP support (CONFIG_INET_ESP)" in err
    assert "protected traffic stays dropped" in err
    assert "tmpl src 192.0.2.1 dst 192.0.2.2" in spaces.ip("x", "xfrm", "policy")
