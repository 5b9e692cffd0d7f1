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

Finding the pairs never compares all policies with each other.  CIDR blocks
nest or are apart, so two ends overlap exactly when one contains the other;
each policy is indexed by one end's block together with its other end's, and a
policy looks up only the supernets of its own ends (and, for the other end, the
blocks inside it, by start address).  The work grows with the policies and the
pairs that really overlap, which is what the tree has to show anyway.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from app.services.intent import resolved_policies
from app.services.snapshot import collector_paused
from app.services.spec import Document, PolicySpec
from datapath.compiler import priorities, specificity
from datapath.intent import Policy

# IPv6 blocks are placed above every IPv4 address, so one integer range stands
# for a block of either family and blocks of different families never overlap.
_V6_BASE = 1 << 129


@dataclass
class Node:
    spec: PolicySpec
    resolved: Policy
    priority: int
    parent: str | None = None
    depth: int = 0
    children: list[Node] = field(default_factory=list)
    flags: list[tuple[str, str]] = field(default_factory=list)  # (level, text)


class _End:
    """One policy end as integers: its index keys and its address range."""

    __slots__ = ("bits", "first", "last", "max_plen", "own", "plen", "version")

    def __init__(self, net) -> None:
        self.version, self.plen = net.version, net.prefixlen
        self.max_plen = 128 if self.version == 6 else 32
        self.bits = int(net.network_address)
        base = _V6_BASE if self.version == 6 else 0
        self.first = base + self.bits
        self.last = self.first + (1 << (self.max_plen - self.plen)) - 1
        self.own = (self.version, self.plen, self.bits >> (self.max_plen - self.plen))

    def key(self, plen: int) -> tuple[int, int, int]:
        """The block of length ``plen`` this end lies in (``plen`` <= its own)."""
        if plen == self.plen:
            return self.own
        return (self.version, plen, self.bits >> (self.max_plen - plen))


def _ends(nodes: list[Node]) -> list[tuple[_End, _End]]:
    """Both ends of every policy; ends naming one subnet share one object."""
    seen: dict[int, _End] = {}
    out = []
    for node in nodes:
        pair = []
        for net in (node.resolved.a, node.resolved.b):
            end = seen.get(id(net))
            if end is None:
                end = seen[id(net)] = _End(net)
            pair.append(end)
        out.append((pair[0], pair[1]))
    return out


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


class _PairIndex:
    """Every policy under each of its ends' blocks, with its other end beside it.

    For an entry ``(j, side)`` the end on ``side`` is the *near* end, the other
    one the *far* end.  ``exact`` finds entries by near and far block;
    ``far_lengths`` says which far lengths a near block has, so a lookup of
    far supernets tries only lengths that exist; ``starts`` lists a near
    block's entries by far start address, for the far blocks inside a range.
    """

    def __init__(self, ends: list[tuple[_End, _End]]) -> None:
        self.exact: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
        self.far_lengths: dict[tuple, set[tuple[int, int]]] = defaultdict(set)
        by_start: dict[tuple, list[tuple[int, int, int, int]]] = defaultdict(list)
        # Near prefix lengths per family, built as the analysis has always built
        # them, so lookups (and with them the order of containers) are the same.
        self.lengths: dict[int, set[int]] = defaultdict(set)
        for j, pair in enumerate(ends):
            for side in (0, 1):
                near, far = pair[side], pair[1 - side]
                near_key = near.own
                self.exact[(near_key, far.own)].append((j, side))
                self.far_lengths[near_key].add((far.version, far.plen))
                by_start[near_key].append((far.first, far.plen, j, side))
                self.lengths[near.version].add(near.plen)
        self.starts = {}
        # The longest far prefix under each near block: a far end at least that
        # long has no block strictly inside it there, and needs no search.
        self.deepest: dict[tuple, int] = {}
        for near_key, entries in by_start.items():
            entries.sort()
            self.starts[near_key] = ([e[0] for e in entries], entries)
            self.deepest[near_key] = max(e[1] for e in entries)

    def supernets(self, near_key: tuple, far: _End) -> list[tuple[int, int]]:
        """Entries under ``near_key`` whose far end contains ``far``."""
        found: list[tuple[int, int]] = []
        for version, plen in self.far_lengths.get(near_key, ()):
            if version == far.version and plen <= far.plen:
                found.extend(self.exact.get((near_key, far.key(plen)), ()))
        return found

    def inside(self, near_key: tuple, far: _End) -> list[tuple[int, int]]:
        """Entries under ``near_key`` whose far end lies strictly inside ``far``."""
        if self.deepest.get(near_key, 0) <= far.plen:
            return []
        starts = self.starts[near_key]
        firsts, entries = starts
        low, high = bisect_left(firsts, far.first), bisect_right(firsts, far.last)
        return [(j, side) for _, plen, j, side in entries[low:high] if plen > far.plen]


def _pairs(
    nodes: list[Node],
) -> tuple[dict[int, list[int]], set[tuple[int, int]]]:
    """(containers of each policy, overlapping pairs that may not be containers)."""
    ends = _ends(nodes)
    index = _PairIndex(ends)
    containers: dict[int, list[int]] = defaultdict(list)
    overlaps: set[tuple[int, int]] = set()
    for i, node in enumerate(nodes):
        p = node.resolved
        for end, other in (ends[i], ends[i][::-1]):
            for plen in index.lengths[end.version]:
                if plen > end.plen:
                    continue
                near_key = end.key(plen)
                # Far ends containing ours may contain the policy; containers
                # keep the order of the index (by policy, then side).
                for j, side in sorted(index.supernets(near_key, other)):
                    if j == i:
                        continue
                    q = nodes[j].resolved
                    if _traffic_covers(q, p):
                        containers[i].append(j)
                    elif _traffic_overlaps(q, p):
                        overlaps.add((min(i, j), max(i, j)))
                for j, _ in index.inside(near_key, other):
                    if j != i and _traffic_overlaps(nodes[j].resolved, p):
                        overlaps.add((min(i, j), max(i, j)))
    return containers, overlaps


def _priorities(
    resolved: tuple[Policy, ...], related: set[tuple[int, int]]
) -> dict[str, int]:
    """What :func:`priorities` gives for all policies, asked a group at a time.

    The compiler ranks only policies of equal specificity that overlap, each
    group of them on its own, and gives every other policy rank 0.  ``related``
    holds (at least) every overlapping pair, so its groups of equal specificity
    are unions of the compiler's; handing it one group at a time gives the same
    numbers without its own search over every policy.
    """
    spec = [specificity(p) for p in resolved]
    parent = list(range(len(resolved)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in related:
        if spec[i] == spec[j]:
            parent[find(i)] = find(j)
    groups: dict[int, list[Policy]] = defaultdict(list)
    for i, policy in enumerate(resolved):
        groups[find(i)].append(policy)

    prio: dict[str, int] = {}
    alone: dict[int, int] = {}  # specificity -> priority of a policy on its own
    for members in groups.values():
        if len(members) > 1:
            prio.update(priorities(members))
            continue
        policy = members[0]
        s = specificity(policy)
        if s not in alone:
            alone[s] = priorities([policy])[policy.name]
        prio[policy.name] = alone[s]
    return prio


def build_tree(doc: Document) -> list[Node]:
    """The policies' top-level nodes in document order, children nested."""
    with collector_paused():
        return _build_tree(doc)


def _build_tree(doc: Document) -> list[Node]:
    resolved = resolved_policies(doc)
    nodes = [
        Node(spec, pol, 0) for spec, pol in zip(doc.policies, resolved, strict=True)
    ]
    containers, overlaps = _pairs(nodes)
    related = overlaps | {(i, j) for i, js in containers.items() for j in js}
    prio = _priorities(resolved, related)
    for node in nodes:
        node.priority = prio[node.resolved.name]
    spec = [specificity(p) for p in resolved]

    for i, found in containers.items():
        node = nodes[i]
        closest = max(set(found), key=lambda j: (spec[j], -j))
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
        if spec[i] == spec[j]:
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
