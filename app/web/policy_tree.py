"""Policies as a tree: each exception under the broader policy it carves out of.

A policy *contains* another when both its ends contain the other's ends (either
way round) and its protocol and ports cover the other's.  Each policy is shown
under its closest container.  Flags come from the kernel priorities the
compiler gives (:func:`datapath.compiler.priorities`), so what the console says
wins is what the kernel will do:

* shadowed: a container outranks the policy, so none of its traffic reaches it;
* conflict: two policies of equal specificity overlap without either containing
  the other and with different actions; the compiler's tie-break decides;
* overlap: the same with different specificity, where the more specific wins.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from app.services.intent import resolved_policies
from app.services.spec import Document, PolicySpec
from datapath.compiler import priorities, specificity
from datapath.intent import Policy


@dataclass
class Node:
    spec: PolicySpec
    resolved: Policy
    priority: int
    parent: str | None = None
    depth: int = 0
    children: list[Node] = field(default_factory=list)
    flags: list[tuple[str, str]] = field(default_factory=list)  # (level, text)


def _key(net, plen: int) -> tuple:
    shift = net.max_prefixlen - plen
    return (net.version, int(net.network_address) >> shift, plen)


def _contains(outer, inner) -> bool:
    return (
        outer.version == inner.version
        and outer.prefixlen <= inner.prefixlen
        and _key(outer, outer.prefixlen) == _key(inner, outer.prefixlen)
    )


def _overlaps(a, b) -> bool:
    return _contains(a, b) or _contains(b, a)


def _traffic_covers(q: Policy, p: Policy) -> bool:
    if q.protocol is not None and q.protocol != p.protocol:
        return False
    if q.ports is None:
        return True
    return p.ports is not None and q.ports.first <= p.ports.first <= p.ports.last <= (
        q.ports.last
    )


def _traffic_overlaps(q: Policy, p: Policy) -> bool:
    if q.protocol is not None and p.protocol is not None and q.protocol != p.protocol:
        return False
    if q.ports is None or p.ports is None:
        return True
    return q.ports.first <= p.ports.last and p.ports.first <= q.ports.last


def build_tree(doc: Document) -> list[Node]:
    """The policies' top-level nodes in document order, children nested."""
    resolved = resolved_policies(doc)
    prio = priorities(list(resolved))
    nodes = [
        Node(spec, pol, prio[pol.name])
        for spec, pol in zip(doc.policies, resolved, strict=True)
    ]
    index: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
    lengths: dict[int, set[int]] = defaultdict(set)
    for i, node in enumerate(nodes):
        for side, end in enumerate((node.resolved.a, node.resolved.b)):
            index[_key(end, end.prefixlen)].append((i, side))
            lengths[end.version].add(end.prefixlen)

    containers: dict[int, list[int]] = defaultdict(list)
    overlaps: set[tuple[int, int]] = set()
    for i, node in enumerate(nodes):
        p = node.resolved
        for end, other in ((p.a, p.b), (p.b, p.a)):
            for plen in lengths[end.version]:
                if plen > end.prefixlen:
                    continue
                for j, side in index.get(_key(end, plen), ()):
                    if j == i:
                        continue
                    q = nodes[j].resolved
                    q_other = q.b if side == 0 else q.a
                    if _contains(q_other, other) and _traffic_covers(q, p):
                        containers[i].append(j)
                    elif _overlaps(q_other, other) and _traffic_overlaps(q, p):
                        overlaps.add((min(i, j), max(i, j)))

    for i, found in containers.items():
        node = nodes[i]
        closest = max(set(found), key=lambda j: (specificity(nodes[j].resolved), -j))
        parent = nodes[closest]
        node.parent = parent.spec.name
        if parent.spec.action != node.spec.action:
            node.flags.append(
                (
                    "info",
                    f"exception: {node.spec.action} carved out of {parent.spec.name}",
                )
            )
        for j in set(found):
            if nodes[j].priority < node.priority:
                node.flags.append(
                    (
                        "bad",
                        (
                            f"shadowed: {nodes[j].spec.name} outranks it and covers all "
                            "of its traffic, so it never decides a packet; make it "
                            "narrower or remove it"
                        ),
                    )
                )
    contained = {(min(i, j), max(i, j)) for i, js in containers.items() for j in js}
    for i, j in sorted(overlaps - contained):
        a, b = nodes[i], nodes[j]
        if a.spec.action == b.spec.action:
            continue
        winner, loser = (a, b) if a.priority < b.priority else (b, a)
        if specificity(a.resolved) == specificity(b.resolved):
            text = (
                f"conflict: overlaps {{other}} with equal specificity and another "
                f"action; {winner.spec.name} wins the overlap (narrower ports, then "
                "name): make one of them narrower"
            )
            level = "bad"
        else:
            text = (
                "overlaps {other} with another action; "
                f"{winner.spec.name} is more specific and wins the overlap"
            )
            level = "warn"
        loser.flags.append((level, text.format(other=winner.spec.name)))
        winner.flags.append((level, text.format(other=loser.spec.name)))

    by_name = {n.spec.name: n for n in nodes}
    roots = []
    for node in nodes:
        if node.parent is None:
            roots.append(node)
        else:
            by_name[node.parent].children.append(node)
    return roots


def flatten(roots: list[Node]) -> list[Node]:
    """Depth-first, each node with its depth set (for an indented table)."""
    out: list[Node] = []
    stack = [(n, 0) for n in reversed(roots)]
    while stack:
        node, depth = stack.pop()
        node.depth = depth
        out.append(node)
        stack.extend((c, depth + 1) for c in reversed(node.children))
    return out
