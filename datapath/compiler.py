"""Compile one gateway's slice of the intent into kernel objects.

The compiler is a pure function of the intent: the same intent always gives the
same objects, whatever order policies were created in, so both ends of a tunnel
compiled from one database agree.

What each intent policy becomes, for gateway G with the policy's local end L
behind G and remote end R behind peer P:

* ``protect``: ``out`` L->R with an ESP template G->P, ``in`` and ``fwd`` R->L
  with the mirror template, all level required, so cleartext that claims a
  protected source is dropped however it arrived.  ``fwd`` L->R and ``out`` R->L
  are allowed explicitly, so a broader ``drop`` cannot swallow the tunnel's
  traffic on its way to or from the tunnel.
* ``bypass``: ``allow`` in all three directions, both ways.
* ``drop``: ``block`` in all three directions, both ways.

A policy whose two ends both lie behind G (bypass or drop only) is compiled both
ways round; a policy with no end behind G is not G's business.

Priorities (XFRM: the lowest value wins) come from specificity, so an exception
always beats the broader policy it carves out of::

    specificity = 4 * (prefix length of L + prefix length of R)
                  + 2 if a protocol is given + 1 if ports are given
    priority    = PRIORITY_BASE + (MAX_SPECIFICITY - specificity) * PRIORITY_STRIDE
                  + rank

``rank`` orders policies of equal specificity whose selectors overlap: narrower
port ranges first, then by name.  Policies that overlap nothing of their own
specificity get rank 0, so adding an unrelated policy renumbers nothing.  Every
kernel entry of one intent policy carries that policy's priority.  The gateways'
own IKE (UDP 500 and 4500) and ESP packets are exempt at PRIORITY_EXEMPT, better
than any subnet policy, so no policy can capture the tunnel itself.

Route-based gateways (:attr:`Gateway.route_based`) also get one xfrm interface per
peer (``cyg<if_id>``), routes to the remote ends through it in their own table,
and per-pair rules choosing that table (followed by a blackhole rule, so missing
routes drop instead of leaking).  Their ESP policies carry the interface's
``if_id``; the same selectors with ``if_id`` 0 are blocked inbound, so cleartext
arriving outside the tunnel is dropped.  A ``bypass`` on such a gateway becomes a
rule sending its pair to the main table, ahead of the tunnel's rule.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass

from datapath.intent import Gateway, Intent, Policy
from datapath.objects import (
    Aead,
    Route,
    Rule,
    Selector,
    Template,
    XfrmInterface,
    XfrmPolicy,
    XfrmState,
)
from datapath.plan import CompiledPlan

PRIORITY_EXEMPT = 1_000_000
PRIORITY_BASE = 2_000_000
PRIORITY_STRIDE = 1 << 20
MAX_SPECIFICITY = 4 * 256 + 3

RULE_BASE = 2000
RULE_STRIDE = 24
MAX_RULE_RANK = RULE_STRIDE // 2
MAIN_TABLE = 254
DEFAULT_ROUTE_TABLE = 6113

IPPROTO_UDP = 17
IPPROTO_ESP = 50
IKE_PORTS = (500, 4500)


class CompileError(ValueError):
    """The intent cannot be compiled for this gateway; the message says why."""


@dataclass(frozen=True)
class _Oriented:
    """An intent policy seen from G: L is its local end, R its remote end."""

    policy: Policy
    local: ipaddress.IPv4Network | ipaddress.IPv6Network
    remote: ipaddress.IPv4Network | ipaddress.IPv6Network
    peer: str


def specificity(policy: Policy) -> int:
    return (
        4 * (policy.a.prefixlen + policy.b.prefixlen)
        + (2 if policy.protocol is not None else 0)
        + (1 if policy.ports is not None else 0)
    )


def port_blocks(first: int, last: int) -> list[tuple[int, int]]:
    """Split a port range into (port, mask) blocks the kernel can match."""
    blocks = []
    while first <= last:
        size = first & -first if first else 1 << 16
        while size > last - first + 1:
            size >>= 1
        blocks.append((first, 0xFFFF & ~(size - 1)))
        first += size
    return blocks


def selectors(policy: Policy, src, dst) -> list[Selector]:
    """The kernel selectors for ``policy``'s traffic from ``src`` to ``dst``.

    With ports, a packet matches when either its source or its destination port is
    in the range, so one selector per block and per side.
    """
    proto = policy.protocol or 0
    if policy.ports is None:
        return [Selector(src, dst, proto)]
    result = []
    for port, mask in port_blocks(policy.ports.first, policy.ports.last):
        result.append(Selector(src, dst, proto, dport=port, dport_mask=mask))
        result.append(Selector(src, dst, proto, sport=port, sport_mask=mask))
    return result


def priorities(policies: list[Policy]) -> dict[str, int]:
    """Each policy's XFRM priority (see the module docstring for the formula)."""
    ranks = _ranks(policies)
    return {
        p.name: PRIORITY_BASE
        + (MAX_SPECIFICITY - specificity(p)) * PRIORITY_STRIDE
        + ranks[p.name]
        for p in policies
    }


def _ranks(policies: list[Policy]) -> dict[str, int]:
    """Order overlapping policies of equal specificity; 0 for the rest."""
    # Index each end by (specificity, family, prefix length, network bits) so a
    # supernet is one integer shift away; ipaddress objects are too slow here.
    by_end: dict[tuple, list[Policy]] = defaultdict(list)
    lengths: dict[tuple[int, int], set[int]] = defaultdict(set)
    for policy in policies:
        spec = specificity(policy)
        for end in {policy.a, policy.b}:
            by_end[_end_key(spec, end, end.prefixlen)].append(policy)
            lengths[(spec, end.version)].add(end.prefixlen)

    parent = {p.name: p.name for p in policies}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    # Two policies can only overlap if an end of one contains an end of the other,
    # so looking up each end's supernets finds every overlapping pair.
    for policy in policies:
        spec = specificity(policy)
        for end in {policy.a, policy.b}:
            for plen in lengths[(spec, end.version)]:
                if plen > end.prefixlen:
                    continue
                for other in by_end.get(_end_key(spec, end, plen), ()):
                    if other.name != policy.name and _overlap(policy, other):
                        parent[find(policy.name)] = find(other.name)

    groups: dict[str, list[Policy]] = defaultdict(list)
    for policy in policies:
        groups[find(policy.name)].append(policy)
    ranks = {}
    for members in groups.values():
        members.sort(key=lambda p: (_port_width(p), p.name))
        if len(members) > PRIORITY_STRIDE:
            raise CompileError(
                f"{len(members)} policies of equal specificity overlap each other; "
                f"at most {PRIORITY_STRIDE} can be ordered: make some more specific"
            )
        for rank, policy in enumerate(members):
            ranks[policy.name] = rank
    return ranks


def _end_key(spec: int, end, plen: int) -> tuple:
    shift = end.max_prefixlen - plen
    return (spec, end.version, plen, int(end.network_address) >> shift)


def _port_width(policy: Policy) -> int:
    return 1 << 16 if policy.ports is None else policy.ports.last - policy.ports.first


def _overlap(p: Policy, q: Policy) -> bool:
    if p.protocol is not None and q.protocol is not None and p.protocol != q.protocol:
        return False
    if p.ports is not None and q.ports is not None:
        if p.ports.last < q.ports.first or q.ports.last < p.ports.first:
            return False
    straight = p.a.overlaps(q.a) and p.b.overlaps(q.b)
    crossed = p.a.overlaps(q.b) and p.b.overlaps(q.a)
    return straight or crossed


def _orient(policy: Policy, gateway: str) -> list[_Oriented]:
    if policy.a_gateway == gateway and policy.b_gateway == gateway:
        return [
            _Oriented(policy, policy.a, policy.b, gateway),
            _Oriented(policy, policy.b, policy.a, gateway),
        ]
    if policy.a_gateway == gateway:
        return [_Oriented(policy, policy.a, policy.b, policy.b_gateway)]
    if policy.b_gateway == gateway:
        return [_Oriented(policy, policy.b, policy.a, policy.a_gateway)]
    return []


def interface_name(if_id: int) -> str:
    return f"cyg{if_id}"


def compile_gateway(
    intent: Intent, gateway: str, *, route_table: int = DEFAULT_ROUTE_TABLE
) -> CompiledPlan:
    """Every kernel object ``gateway`` should have for ``intent``."""
    try:
        me = intent.gateway(gateway)
    except KeyError:
        known = ", ".join(sorted(g.name for g in intent.gateways)) or "none"
        raise CompileError(
            f"gateway {gateway!r} is not in the intent (known: {known}): "
            "set CYGNET_GATEWAY or --gateway to one of them"
        ) from None

    mine = [p for p in intent.policies if me.name in (p.a_gateway, p.b_gateway)]
    prio = priorities(mine)
    gateways = {g.name: g for g in intent.gateways}

    policies: dict[tuple, XfrmPolicy] = {}
    rules: list[Rule] = []
    routes: dict[tuple, Route] = {}
    interfaces: dict[str, XfrmInterface] = {}

    def put(policy: XfrmPolicy) -> None:
        # Different intent policies never share a key: validation rejects identical
        # selectors.  Keep the first entry when one policy repeats a selector (both
        # ends the same) and let the exemptions, put first, win over everything.
        policies.setdefault(policy.key(), policy)

    peers = sorted(
        {o.peer for p in mine if p.action == "protect" for o in _orient(p, me.name)}
    )
    for peer_name in peers:
        for exempt in _exemptions(me, gateways[peer_name]):
            put(exempt)

    for oriented in sorted(
        (o for p in mine for o in _orient(p, me.name)),
        key=lambda o: (prio[o.policy.name], o.policy.name, str(o.local)),
    ):
        policy = oriented.policy
        priority = prio[policy.name]
        if policy.action == "protect":
            peer = gateways[oriented.peer]
            tunnel = intent.tunnel(me.name, peer.name)
            route_based = me.route_based and policy.mode == "tunnel"
            if_id = tunnel.if_id if route_based else 0
            _protect(put, oriented, me, peer, tunnel.reqid, if_id, priority)
            if route_based:
                name = interface_name(tunnel.if_id)
                interfaces[name] = XfrmInterface(name, tunnel.if_id, origin=peer.name)
                routes[(route_table, oriented.remote)] = Route(
                    oriented.remote, name, route_table, origin=policy.name
                )
                rules.extend(
                    _tunnel_rules(oriented, policy.name, prio, route_table)
                )
        else:
            action = "allow" if policy.action == "bypass" else "block"
            for src, dst in ((oriented.local, oriented.remote),
                             (oriented.remote, oriented.local)):
                for sel in selectors(policy, src, dst):
                    for direction in ("out", "in", "fwd"):
                        put(XfrmPolicy(direction, sel, action, priority,
                                       origin=policy.name))
            if me.route_based and policy.action == "bypass" and oriented.peer != me.name:
                rules.append(
                    Rule(oriented.local, oriented.remote, MAIN_TABLE,
                         _rule_priority(policy, prio), origin=policy.name)
                )

    states = _states(intent, me, gateways)
    # Insertion order is already deterministic: exemptions, then intent policies by
    # priority and name, each policy's entries in a fixed order.
    return CompiledPlan(
        gateway=me.name,
        revision=intent.revision,
        policies=tuple(policies.values()),
        states=tuple(states),
        interfaces=tuple(sorted(interfaces.values(), key=lambda i: i.if_id)),
        routes=tuple(sorted(routes.values(), key=lambda r: (r.table, _net_order(r.dst)))),
        rules=tuple(sorted(set(rules), key=lambda r: (r.priority, str(r.src), str(r.dst)))),
        priorities=prio,
    )


def _protect(put, oriented: _Oriented, me: Gateway, peer: Gateway, reqid: int,
             if_id: int, priority: int) -> None:
    policy = oriented.policy
    mode = policy.mode
    out_tmpl = (Template(dst=peer.address, src=me.address, reqid=reqid, mode=mode),)
    in_tmpl = (Template(dst=me.address, src=peer.address, reqid=reqid, mode=mode),)
    origin = policy.name
    for sel in selectors(policy, oriented.local, oriented.remote):
        put(XfrmPolicy("out", sel, "allow", priority, out_tmpl, if_id, origin=origin))
        put(XfrmPolicy("fwd", sel, "allow", priority, origin=origin))
    for sel in selectors(policy, oriented.remote, oriented.local):
        put(XfrmPolicy("in", sel, "allow", priority, in_tmpl, if_id, origin=origin))
        put(XfrmPolicy("fwd", sel, "allow", priority, in_tmpl, if_id, origin=origin))
        put(XfrmPolicy("out", sel, "allow", priority, origin=origin))
        if if_id:
            # Outside the interface the same traffic is cleartext: refuse it.
            put(XfrmPolicy("in", sel, "block", priority, origin=origin))
            put(XfrmPolicy("fwd", sel, "block", priority, origin=origin))


def _rule_priority(policy: Policy, prio: dict[str, int]) -> int:
    spec_band = (prio[policy.name] - PRIORITY_BASE) // PRIORITY_STRIDE
    rank = (prio[policy.name] - PRIORITY_BASE) % PRIORITY_STRIDE
    if rank >= MAX_RULE_RANK:
        raise CompileError(
            f"policy {policy.name!r}: more than {MAX_RULE_RANK} overlapping policies "
            "of equal specificity on a route-based gateway; make some more specific"
        )
    return RULE_BASE + spec_band * RULE_STRIDE + 2 * rank


def _tunnel_rules(oriented: _Oriented, name: str, prio: dict[str, int],
                  table: int) -> list[Rule]:
    pref = _rule_priority(oriented.policy, prio)
    return [
        Rule(oriented.local, oriented.remote, table, pref, origin=name),
        Rule(oriented.local, oriented.remote, 0, pref + 1, "blackhole", origin=name),
    ]


def _exemptions(me: Gateway, peer: Gateway) -> list[XfrmPolicy]:
    """Allow the gateways' own IKE and ESP packets, whatever else is configured."""
    if me.address.version != peer.address.version:
        return []
    host = me.address.max_prefixlen
    mine = ipaddress.ip_network(f"{me.address}/{host}")
    theirs = ipaddress.ip_network(f"{peer.address}/{host}")
    origin = f"exempt:{peer.name}"
    result = []
    for direction, src, dst in (("out", mine, theirs), ("in", theirs, mine)):
        result.append(XfrmPolicy(direction, Selector(src, dst, IPPROTO_ESP), "allow",
                                 PRIORITY_EXEMPT, origin=origin))
        for port in IKE_PORTS:
            for sel in (Selector(src, dst, IPPROTO_UDP, dport=port, dport_mask=0xFFFF),
                        Selector(src, dst, IPPROTO_UDP, sport=port, sport_mask=0xFFFF)):
                result.append(XfrmPolicy(direction, sel, "allow", PRIORITY_EXEMPT,
                                         origin=origin))
    return result


def _states(intent: Intent, me: Gateway, gateways: dict[str, Gateway]) -> list[XfrmState]:
    """Manually keyed SAs: senders hold active keys, receivers every live one."""
    states = []
    for key in intent.keys:
        if me.name == key.src:
            if key.phase != "active":
                continue
            peer_name = key.dst
        elif me.name == key.dst:
            peer_name = key.src
        else:
            continue
        tunnel = intent.tunnel(key.src, key.dst)
        route_based = me.route_based and key.mode == "tunnel"
        states.append(
            XfrmState(
                src=gateways[key.src].address,
                dst=gateways[key.dst].address,
                spi=key.spi,
                reqid=tunnel.reqid,
                aead=Aead(key.algorithm, key.key, key.icv_bits),
                mode=key.mode,
                if_id=tunnel.if_id if route_based else 0,
                origin=f"{key.src}->{key.dst} generation {key.generation} ({peer_name})",
            )
        )
    return sorted(states, key=lambda s: (str(s.dst), s.spi))


def _net_order(net) -> tuple:
    return (net.version, int(net.network_address), net.prefixlen)

