"""Pure tests of the compiler: no kernel, no root."""

import ipaddress
import random

import pytest
from hypothesis import given, strategies as st

from datapath.compiler import (
    PRIORITY_EXEMPT,
    CompileError,
    compile_gateway,
    port_blocks,
    priorities,
)
from datapath.intent import Gateway, Policy, PortRange, SAKey, Subnet
from datapath.plan import CompiledPlan
from datapath.trace import Packet, trace

from tests.datapath.intents import broad_with_exception, build, freeswan, net


def entries(plan, origin):
    return [p for p in plan.policies if p.origin == origin]


def test_protect_requires_esp_inbound_and_outbound():
    plan = compile_gateway(freeswan(), "y")
    s_u = entries(plan, "s-u")
    by_dir = {(p.direction, str(p.selector.src)): p for p in s_u}
    out = by_dir[("out", "10.3.0.0/24")]
    assert out.templates[0].src == ipaddress.ip_address("192.0.2.2")
    assert out.templates[0].dst == ipaddress.ip_address("192.0.2.1")
    for direction in ("in", "fwd"):
        inbound = by_dir[(direction, "10.1.0.0/24")]
        assert inbound.templates, f"{direction} S->U must require ESP"
        assert not inbound.templates[0].optional
        assert inbound.templates[0].src == ipaddress.ip_address("192.0.2.1")


def test_bypass_allows_all_three_directions_both_ways():
    plan = compile_gateway(freeswan(), "x")
    s_t = entries(plan, "s-t")
    got = {(p.direction, str(p.selector.src), str(p.selector.dst)) for p in s_t}
    assert got == {
        (d, a, b)
        for d in ("out", "in", "fwd")
        for a, b in (("10.1.0.0/24", "10.2.0.0/24"), ("10.2.0.0/24", "10.1.0.0/24"))
    }
    assert all(p.action == "allow" and not p.templates for p in s_t)


def test_gateway_ike_and_esp_are_exempt_above_everything():
    plan = compile_gateway(freeswan(), "x")
    exempt = entries(plan, "exempt:y")
    protos = {(p.direction, p.selector.proto, p.selector.dport, p.selector.sport)
              for p in exempt}
    assert ("out", 50, 0, 0) in protos and ("in", 50, 0, 0) in protos
    for port in (500, 4500):
        assert ("out", 17, port, 0) in protos and ("in", 17, 0, port) in protos
    assert all(p.priority == PRIORITY_EXEMPT for p in exempt)
    assert PRIORITY_EXEMPT < min(p.priority for p in plan.policies if p.origin == "s-u")


def test_policies_behind_neither_end_are_not_compiled():
    intent = freeswan()
    plan = compile_gateway(intent, "y")
    assert {p.origin for p in plan.policies} == {"s-u", "s-t", "exempt:x"}


@pytest.mark.parametrize("order", ["broad-first", "broad-last"])
def test_exception_beats_broader_policy_whatever_the_order(order):
    plan = compile_gateway(broad_with_exception(order), "hub")
    prio = plan.priorities
    assert prio["lab"] < prio["all"], "the /24 exception must win over the /16"
    assert prio["ssh"] < prio["all"], "a port policy beats the same prefixes without"
    lab = trace(broad_with_exception(order), plan,
                Packet.parse("10.0.5.7", "10.8.1.1", "udp", 53))
    assert lab.decided_by == "lab" and lab.verdict.startswith("bypass")
    assert [c.policy for c in lab.chain] == ["lab", "all"]


def test_compile_is_deterministic_whatever_the_creation_order():
    intent = broad_with_exception()
    reference = compile_gateway(intent, "hub")
    for seed in range(5):
        shuffled = list(intent.policies)
        random.Random(seed).shuffle(shuffled)
        again = build(intent.gateways, intent.subnets, shuffled)
        assert compile_gateway(again, "hub") == reference


def test_equal_specificity_overlaps_are_ordered_by_name():
    a = Policy("b-second", net("10.0.0.0/16"), net("10.8.0.0/24"), "hub", "branch", "protect")
    b = Policy("a-first", net("10.0.1.0/24"), net("10.8.0.0/16"), "hub", "branch", "drop")
    far = Policy("far", net("10.0.9.0/24"), net("10.8.9.0/24"), "hub", "branch", "bypass")
    prio = priorities([a, b, far])
    assert prio["a-first"] + 1 == prio["b-second"]
    # A policy overlapping nothing of its specificity keeps rank 0: unrelated
    # additions renumber nothing.
    assert priorities([a, far])["b-second"] == priorities([a])["b-second"]


@given(st.integers(0, 65535), st.integers(0, 65535))
def test_port_blocks_cover_exactly_the_range(x, y):
    first, last = min(x, y), max(x, y)
    blocks = port_blocks(first, last)
    covered = set()
    for port, mask in blocks:
        size = (~mask & 0xFFFF) + 1
        assert port & ~mask & 0xFFFF == 0, "block must be aligned to its mask"
        covered.update(range(port, port + size))
    assert covered == set(range(first, last + 1))
    assert len(blocks) <= 30


def test_port_policy_matches_source_or_destination_port():
    plan = compile_gateway(broad_with_exception(), "hub")
    ssh = entries(plan, "ssh")
    outbound = {(p.selector.sport, p.selector.dport) for p in ssh
                if p.direction == "out" and str(p.selector.src) == "10.0.0.0/16"}
    assert outbound == {(0, 22), (22, 0)}
    assert all(p.action == "block" for p in ssh)


def test_route_based_gateway_gets_interface_routes_and_exact_rules():
    plan = compile_gateway(freeswan(route_based=True), "y")
    assert [i.name for i in plan.interfaces] == ["cyg1"]
    assert [(str(r.dst), r.dev) for r in plan.routes] == [("10.1.0.0/24", "cyg1")]
    rules = {(str(r.src), str(r.dst), r.action, r.table) for r in plan.rules}
    assert ("10.3.0.0/24", "10.1.0.0/24", "lookup", 6113) in rules
    assert ("10.3.0.0/24", "10.1.0.0/24", "blackhole", 0) in rules
    # T -> S stays in clear: it goes to the main table, ahead of any tunnel rule.
    main = [r for r in plan.rules if str(r.src) == "10.2.0.0/24"]
    assert main and main[0].table == 254
    esp = [p for p in plan.policies if p.templates]
    assert esp and all(p.if_id == 1 for p in esp)
    guard = [p for p in entries(plan, "s-u") if p.action == "block"]
    assert {p.direction for p in guard} == {"in", "fwd"}
    assert all(p.if_id == 0 and str(p.selector.src) == "10.1.0.0/24" for p in guard)


def test_manual_keys_make_before_break():
    keys = (
        SAKey("x", "y", 0x1001, b"k" * 36, 1, "retiring"),
        SAKey("x", "y", 0x1002, b"n" * 36, 2, "inbound"),
        SAKey("y", "x", 0x2001, b"m" * 36, 1, "active"),
    )
    intent = freeswan(keys=keys)
    sender = compile_gateway(intent, "x")
    receiver = compile_gateway(intent, "y")
    # The sender sends only with active keys; the receiver accepts every live one.
    assert {s.spi for s in sender.states} == {0x2001}
    assert {s.spi for s in receiver.states} == {0x1001, 0x1002, 0x2001}
    assert all(s.reqid == 1 and s.aead.name == "rfc4106(gcm(aes))" for s in sender.states)


def test_plan_file_holds_no_key_material():
    keys = (SAKey("x", "y", 0x1001, b"SECRETKEYMATERIAL" * 2, 1),)
    plan = compile_gateway(freeswan(keys=keys), "x")
    text = plan.to_json()
    assert "SECRETKEYMATERIAL" not in text and "1001" not in text
    assert CompiledPlan.from_json(text) == plan.without_states()


def test_unknown_gateway_names_the_known_ones():
    with pytest.raises(CompileError, match="known: x, y"):
        compile_gateway(freeswan(), "z")


def test_local_only_drop_blocks_both_ways():
    gateways = (Gateway("g", ipaddress.ip_address("192.0.2.9")),)
    subnets = (Subnet("a", net("10.5.0.0/24"), "g"), Subnet("b", net("10.6.0.0/24"), "g"))
    policy = Policy("no-ab", net("10.5.0.0/24"), net("10.6.0.0/24"), "g", "g", "drop")
    plan = compile_gateway(build(gateways, subnets, [policy]), "g")
    fwd = {(str(p.selector.src), p.action) for p in plan.policies if p.direction == "fwd"}
    assert fwd == {("10.5.0.0/24", "block"), ("10.6.0.0/24", "block")}
