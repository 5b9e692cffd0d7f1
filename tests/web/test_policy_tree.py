"""The policy tree's indexed analysis against a brute-force one over all pairs.

The brute force compares every policy with every other using ``ipaddress``'s own
containment and asks the compiler for the priorities of all policies at once.
It visits candidate containers in the order the analysis always has (by end, by
prefix length as first seen, by policy, by side), so parents, priorities and
flags, order included, must come out the same.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.intent import resolved_policies
from app.services.spec import Document, GatewaySpec, PolicySpec, SubnetSpec
from app.web.policy_tree import build_tree, flatten
from datapath.compiler import priorities, specificity
from datapath.intent import PortRange

# Small corners of both families, so random blocks nest and overlap often.
CORNERS = {4: ("10.0.0.0", 20, 28), 6: ("fd00::", 116, 124)}


@st.composite
def blocks(draw, family: int, inside=None):
    base, shortest, longest = CORNERS[family]
    outer = inside or ipaddress.ip_network(f"{base}/{shortest}")
    plen = draw(st.integers(outer.prefixlen, longest))
    count = 1 << (plen - outer.prefixlen)
    offset = draw(st.integers(0, count - 1)) << (outer.max_prefixlen - plen)
    return ipaddress.ip_network((int(outer.network_address) + offset, plen))


@st.composite
def documents(draw):
    gateways = [
        GatewaySpec(f"gw{i}", ipaddress.ip_address(f"192.0.2.{i + 1}"))
        for i in range(3)
    ]
    subnets = []
    for i in range(draw(st.integers(1, 8))):
        family = draw(st.sampled_from((4, 4, 4, 6)))
        subnets.append(
            SubnetSpec(f"net{i}", draw(blocks(family)), f"gw{draw(st.integers(0, 2))}")
        )
    by_family = defaultdict(list)
    for subnet in subnets:
        by_family[subnet.cidr.version].append(subnet)
    family = draw(st.sampled_from(sorted(by_family)))

    def end() -> str:
        subnet = draw(st.sampled_from(by_family[family]))
        if draw(st.booleans()):
            return subnet.name
        return str(draw(blocks(family, inside=subnet.cidr)))

    policies = []
    for k in range(draw(st.integers(0, 30))):
        protocol = draw(st.sampled_from((None, None, 6, 17)))
        ports = None
        if protocol is not None and draw(st.booleans()):
            first = draw(st.sampled_from((80, 443, 1000)))
            ports = PortRange(first, first + draw(st.sampled_from((0, 0, 100))))
        policies.append(
            PolicySpec(
                f"p{k}",
                (end(), end()),
                draw(st.sampled_from(("protect", "bypass", "drop"))),
                protocol,
                ports,
            )
        )
    return Document(gateways, subnets, policies)


def _covers(q, p) -> bool:
    if q.protocol is not None and q.protocol != p.protocol:
        return False
    if q.ports is None:
        return True
    return p.ports is not None and q.ports.first <= p.ports.first <= p.ports.last <= (
        q.ports.last
    )


def _traffic_overlaps(q, p) -> bool:
    if q.protocol is not None and p.protocol is not None and q.protocol != p.protocol:
        return False
    if q.ports is None or p.ports is None:
        return True
    return q.ports.first <= p.ports.last and p.ports.first <= q.ports.last


def _within(inner, outer) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)


def brute_force(doc: Document) -> list[tuple]:
    """(name, depth, parent, priority, flags) of every node, depth first."""
    resolved = resolved_policies(doc)

    def p_name(i: int) -> str:
        return resolved[i].name

    prio = priorities(list(resolved))
    lengths = defaultdict(set)
    for p in resolved:
        for end in (p.a, p.b):
            lengths[end.version].add(end.prefixlen)

    containers, overlaps = defaultdict(list), set()
    for i, p in enumerate(resolved):
        for end, other in ((p.a, p.b), (p.b, p.a)):
            for plen in lengths[end.version]:
                for j, q in enumerate(resolved):
                    for near, far in ((q.a, q.b), (q.b, q.a)):
                        if j == i or near.prefixlen != plen or not _within(end, near):
                            continue
                        if _within(other, far) and _covers(q, p):
                            containers[i].append(j)
                        elif far.overlaps(other) and _traffic_overlaps(q, p):
                            overlaps.add((min(i, j), max(i, j)))

    parents, flags = {}, defaultdict(list)
    for i, found in containers.items():
        p = resolved[i]
        closest = max(set(found), key=lambda j: (specificity(resolved[j]), -j))
        parents[i] = closest
        if doc.policies[closest].action != doc.policies[i].action:
            flags[i].append(
                (
                    "info",
                    f"exception: {doc.policies[i].action} carved out of {p_name(closest)}",
                )
            )
        for j in set(found):
            if prio[resolved[j].name] < prio[p.name]:
                flags[i].append(("bad", f"shadowed: {resolved[j].name} outranks it"))
    contained = {(min(i, j), max(i, j)) for i, js in containers.items() for j in js}
    for i, j in sorted(overlaps - contained):
        if doc.policies[i].action == doc.policies[j].action:
            continue
        equal = specificity(resolved[i]) == specificity(resolved[j])
        level = "bad" if equal else "warn"
        word = "conflict: overlaps" if equal else "overlaps"
        flags[i].append((level, f"{word} {resolved[j].name}"))
        flags[j].append((level, f"{word} {resolved[i].name}"))

    children = defaultdict(list)
    for i in range(len(resolved)):
        if i in parents:
            children[parents[i]].append(i)
    out = []

    def visit(i: int, depth: int) -> None:
        parent = resolved[parents[i]].name if i in parents else None
        out.append((resolved[i].name, depth, parent, prio[resolved[i].name], flags[i]))
        for child in children[i]:
            visit(child, depth + 1)

    for i in range(len(resolved)):
        if i not in parents:
            visit(i, 0)
    return out


def _short(text: str) -> str:
    """A flag cut to what the brute force words: kind and the other policy."""
    if text.startswith("shadowed:"):
        return text.split(" outranks")[0] + " outranks it"
    if text.startswith("conflict:"):
        return "conflict: overlaps " + text.split()[2]
    if text.startswith("overlaps "):
        return "overlaps " + text.split()[1]
    return text


def indexed(doc: Document) -> list[tuple]:
    return [
        (
            n.spec.name,
            n.depth,
            n.parent,
            n.priority,
            [(level, _short(text)) for level, text in n.flags],
        )
        for n in flatten(build_tree(doc))
    ]


@settings(max_examples=300, deadline=None)
@given(documents())
def test_indexed_tree_agrees_with_brute_force(doc):
    assert indexed(doc) == brute_force(doc)


def test_tree_nests_an_exception_and_flags_a_conflict():
    doc = Document(
        [GatewaySpec("a", ipaddress.ip_address("192.0.2.1"))],
        [
            SubnetSpec("left", ipaddress.ip_network("10.1.0.0/16"), "a"),
            SubnetSpec("right", ipaddress.ip_network("10.2.0.0/16"), "a"),
        ],
        [
            PolicySpec("all", ("left", "right"), "protect"),
            PolicySpec("web", ("10.1.2.0/24", "right"), "bypass", 6, PortRange(80, 80)),
            PolicySpec("ssh", ("right", "10.1.2.0/24"), "drop", 6),
            PolicySpec("dns", ("10.1.0.0/24", "10.2.0.0/24"), "protect", 17),
            PolicySpec("mail", ("10.1.0.0/24", "10.2.0.0/24"), "drop"),
        ],
    )
    rows = {
        name: (depth, parent, flags) for name, depth, parent, _, flags in indexed(doc)
    }
    assert rows["web"][1] == "ssh"
    assert rows["ssh"][1] == "all"
    assert ("info", "exception: drop carved out of all") in rows["ssh"][2]
    assert rows["dns"][1] == "mail"
    assert indexed(doc) == brute_force(doc)
