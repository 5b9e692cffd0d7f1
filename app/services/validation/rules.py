"""Rules between items: references, uniqueness, overlaps and policy conflicts.

Items that failed their own checks are passed as None: they still claim their
names (so a typo in one subnet does not make every policy naming it "unknown"),
but nothing else is checked against them.

A problem between two items is reported at the one under ``focus`` (the item an
API call changes) if it is one of them, else at the later one in the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_network

from app.services.addressing import PrefixIndex, overlapping_pairs
from app.services.problems import CONFLICT, Path, Problem
from app.services.spec import (
    COLLECTIONS,
    PROTOCOL_NAMES,
    GatewaySpec,
    PolicySpec,
    SubnetSpec,
)
from datapath.intent import PROTOCOLS, IPNetwork

Focus = tuple[str, int] | None
ICMP_BY_FAMILY = {4: PROTOCOLS["icmp"], 6: PROTOCOLS["ipv6-icmp"]}


@dataclass(frozen=True)
class End:
    """A policy end resolved: its CIDR, its gateway and the subnet it named."""

    cidr: IPNetwork
    gateway: str
    subnet: str | None


class Items:
    """The document's items by kind, None where an item is broken."""

    def __init__(
        self,
        gateways: Sequence[GatewaySpec | None],
        subnets: Sequence[SubnetSpec | None],
        policies: Sequence[PolicySpec | None],
        claimed: dict[str, Sequence[str | None]] | None = None,
    ) -> None:
        self.gateways, self.subnets, self.policies = gateways, subnets, policies
        self.claimed = claimed or {
            "gateway": [g.name if g else None for g in gateways],
            "subnet": [s.name if s else None for s in subnets],
            "policy": [p.name if p else None for p in policies],
        }
        self.subnet_by_name = {s.name: s for s in subnets if s}
        self.subnet_index: PrefixIndex[SubnetSpec] = PrefixIndex(
            (s.cidr, s) for s in subnets if s
        )

    def known(self, kind: str, name: str) -> bool:
        return name in self.claimed[kind]


def _blame(i: int, j: int, kind: str, focus: Focus) -> tuple[int, int]:
    """(where to report, the other one) for a problem between items i and j."""
    if focus == (kind, j) or (focus != (kind, i) and j > i):
        return j, i
    return i, j


def _names_hint(names: list[str]) -> str:
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    return f" ({shown})" if names else ""


def check_unique_names(items: Items, focus: Focus) -> list[Problem]:
    problems = []
    for kind, names in items.claimed.items():
        first: dict[str, int] = {}
        for j, name in enumerate(names):
            if name is None:
                continue
            if name not in first:
                first[name] = j
                continue
            at, _ = _blame(first[name], j, kind, focus)
            path = (COLLECTIONS[kind], at, "name")
            problems.append(
                Problem(
                    path,
                    f"another {kind} is already named {name!r}; names must be unique",
                    CONFLICT,
                )
            )
    return problems


def check_gateways(items: Items, focus: Focus) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for j, gateway in enumerate(items.gateways):
        if gateway is None:
            continue
        address = str(gateway.address)
        if address not in first:
            first[address] = j
            continue
        at, other = _blame(first[address], j, "gateway", focus)
        problems.append(
            Problem(
                ("gateways", at, "address"),
                f"{address} is already the address of gateway "
                f"{items.gateways[other].name}; each gateway needs its own address",
                CONFLICT,
            )
        )
    return problems


def check_subnets(items: Items, focus: Focus) -> list[Problem]:
    problems = []
    gateway_names = [n for n in items.claimed["gateway"] if n]
    present = [(i, s) for i, s in enumerate(items.subnets) if s]
    for i, subnet in present:
        if not items.known("gateway", subnet.gateway):
            problems.append(
                Problem(
                    ("subnets", i, "gateway"),
                    f"unknown gateway {subnet.gateway!r}; name one of the "
                    f"gateways{_names_hint(gateway_names)} or add it first",
                )
            )

    pairs = overlapping_pairs([s.cidr for _, s in present])
    for a, b in sorted(pairs):
        (i, s), (j, t) = present[a], present[b]
        at, other = _blame(i, j, "subnet", focus)
        mine, theirs = items.subnets[at], items.subnets[other]
        if s.gateway == t.gateway and s.cidr == t.cidr:
            problems.append(
                Problem(
                    ("subnets", at, "cidr"),
                    f"{mine.cidr} is already subnet {theirs.name}; use that subnet "
                    "rather than a second name for the same CIDR",
                    CONFLICT,
                )
            )
        elif s.gateway != t.gateway:
            problems.append(
                Problem(
                    ("subnets", at, "cidr"),
                    f"{mine.cidr} (behind gateway {mine.gateway}) overlaps subnet "
                    f"{theirs.name} {theirs.cidr} behind gateway {theirs.gateway}; "
                    "subnets of different gateways must not overlap: change one "
                    "of the CIDRs",
                    CONFLICT,
                )
            )
    return problems


def resolve_end(text: str, items: Items) -> End | str | None:
    """The end resolved, or a message saying why not (None: already reported)."""
    subnet = items.subnet_by_name.get(text)
    if subnet is not None:
        return End(subnet.cidr, subnet.gateway, subnet.name)
    if "/" not in text:
        if items.known("subnet", text):
            return None  # the subnet itself is broken and reported
        names = [n for n in items.claimed["subnet"] if n]
        return (
            f"unknown subnet {text!r}; name one of the subnets{_names_hint(names)} "
            "or give a CIDR inside one"
        )
    cidr = ip_network(text)
    containing = items.subnet_index.containing(cidr)
    if not containing:
        return (
            f"{cidr} lies inside no known subnet; add a subnet that contains it "
            "or use a subnet name"
        )
    return End(cidr, containing[0][1].gateway, None)


def resolve_policy(policy: PolicySpec, items: Items) -> list[End | str | None]:
    return [resolve_end(end, items) for end in policy.between]


def check_policies(items: Items, focus: Focus) -> list[Problem]:
    problems = []
    selectors: dict[tuple, int] = {}
    for i, policy in enumerate(items.policies):
        if policy is None:
            continue
        path = ("policies", i)
        ends = resolve_policy(policy, items)
        for n, end in enumerate(ends):
            if isinstance(end, str):
                problems.append(Problem(path + ("between", n), end))
        if not all(isinstance(e, End) for e in ends):
            continue
        a, b = ends
        found = _check_policy_ends(policy, a, b, path)
        problems += found
        if found:
            continue

        key = (frozenset((a.cidr, b.cidr)), policy.protocol, policy.ports)
        if key not in selectors:
            selectors[key] = i
            continue
        at, other_index = _blame(selectors[key], i, "policy", focus)
        mine, other = items.policies[at], items.policies[other_index]
        if mine.action == other.action:
            message = (
                f"has the same ends, protocol and ports as policy {other.name} "
                f"(action {other.action}); it is a duplicate: remove one of them"
            )
        else:
            message = (
                f"conflicts with policy {other.name}: same ends, protocol and ports "
                f"but action {other.action} instead of {mine.action}; make one of "
                "them narrower (CIDR, protocol or ports) or remove one"
            )
        problems.append(Problem(("policies", at, "between"), message, CONFLICT))
    return problems


def _check_policy_ends(policy: PolicySpec, a: End, b: End, path: Path) -> list[Problem]:
    if a.cidr.version != b.cidr.version:
        return [
            Problem(
                path + ("between", 1),
                f"{b.cidr} is IPv{b.cidr.version} but between[0] {a.cidr} is "
                f"IPv{a.cidr.version}; both ends of a policy must be of one "
                "address family",
            )
        ]
    if a.cidr == b.cidr:
        return [
            Problem(
                path + ("between",),
                f"both ends are {a.cidr}; a policy joins two different ends",
            )
        ]
    problems = []
    if policy.action == "protect" and a.gateway == b.gateway:
        problems.append(
            Problem(
                path + ("between",),
                f"both ends lie behind gateway {a.gateway}; protect needs ends behind "
                "two different gateways (traffic that stays behind one gateway "
                "is never encrypted: use bypass or drop)",
            )
        )
    wanted = ICMP_BY_FAMILY[a.cidr.version]
    if policy.protocol in ICMP_BY_FAMILY.values() and policy.protocol != wanted:
        problems.append(
            Problem(
                path + ("protocol",),
                f"{PROTOCOL_NAMES[policy.protocol]} does not exist for "
                f"IPv{a.cidr.version} ends; use {PROTOCOL_NAMES[wanted]}",
            )
        )
    return problems


def check_all(items: Items, focus: Focus = None) -> list[Problem]:
    return (
        check_unique_names(items, focus)
        + check_gateways(items, focus)
        + check_subnets(items, focus)
        + check_policies(items, focus)
    )


def users_of_gateway(items: Items, name: str) -> list[str]:
    return [s.name for s in items.subnets if s and s.gateway == name]


def users_of_subnet(items: Items, name: str) -> list[str]:
    """Policies that need the subnet: they name it, or an end lies only inside it."""
    users = []
    for policy in items.policies:
        if policy is None:
            continue
        for n, end in enumerate(policy.between):
            if end == name:
                users.append(f"{policy.name} (between[{n}])")
            elif "/" in end:
                cidr = ip_network(end)
                holders = {s.name for _, s in items.subnet_index.containing(cidr)}
                if holders == {name}:
                    users.append(f"{policy.name} (between[{n}] {cidr} lies inside it)")
    return users
