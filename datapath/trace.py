"""Which policy decides a packet at one gateway, why, and whether the kernel agrees.

The trace works on the compiled plan, i.e. on the very entries the kernel holds:
every entry matching the packet in the direction that decides it, best priority
first.  With a kernel it also dumps the kernel's policies (Cygnet's and anyone
else's) and asks for the planned entry by selector, reporting any disagreement.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from datapath.compiler import PRIORITY_BASE, PRIORITY_STRIDE, specificity
from datapath.intent import Intent, PROTOCOLS
from datapath.objects import Selector, XfrmPolicy
from datapath.plan import CompiledPlan


@dataclass(frozen=True)
class Packet:
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    proto: int = 0
    sport: int = 0
    dport: int = 0

    @classmethod
    def parse(cls, src: str, dst: str, proto: str | None = None,
              dport: int | None = None, sport: int | None = None) -> "Packet":
        source = ipaddress.ip_address(src)
        dest = ipaddress.ip_address(dst)
        if source.version != dest.version:
            raise ValueError("src and dst must both be IPv4 or both IPv6")
        number = 0
        if proto:
            number = PROTOCOLS.get(proto.lower()) if not proto.isdigit() else int(proto)
            if number is None:
                raise ValueError(
                    f"proto {proto!r} is unknown: use tcp, udp, icmp or a protocol number"
                )
        return cls(source, dest, number, sport or 0, dport or 0)


def selector_matches(sel: Selector, packet: Packet) -> bool:
    """The kernel's selector match (``__xfrm4_selector_match`` and its IPv6 twin)."""
    if packet.src.version != sel.family:
        return False
    return (
        packet.src in sel.src
        and packet.dst in sel.dst
        and (sel.proto == 0 or sel.proto == packet.proto)
        and (packet.sport & sel.sport_mask) == sel.sport
        and (packet.dport & sel.dport_mask) == sel.dport
    )


@dataclass
class Candidate:
    policy: str
    action: str
    priority: int
    why: str


@dataclass
class TraceResult:
    gateway: str
    packet: Packet
    direction: str
    verdict: str
    decided_by: str | None
    chain: list[Candidate]
    kernel: dict | None = None
    disagreements: list[str] = field(default_factory=list)

    def render(self) -> str:
        p = self.packet
        lines = [
            f"{p.src} -> {p.dst} proto {p.proto or 'any'}"
            + (f" dport {p.dport}" if p.dport else "")
            + f" at gateway {self.gateway} ({self.direction}): {self.verdict}"
        ]
        if self.decided_by:
            lines.append(f"decided by policy {self.decided_by}")
        for n, c in enumerate(self.chain):
            lead = "  wins " if n == 0 else "  loses"
            lines.append(f"{lead} {c.policy}: {c.action}, priority {c.priority}; {c.why}")
        if self.kernel is not None:
            if self.disagreements:
                lines.append("the kernel DISAGREES:")
                lines.extend(f"  {d}" for d in self.disagreements)
            else:
                lines.append("the kernel agrees")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "gateway": self.gateway,
            "packet": {
                "src": str(self.packet.src),
                "dst": str(self.packet.dst),
                "proto": self.packet.proto,
                "sport": self.packet.sport,
                "dport": self.packet.dport,
            },
            "direction": self.direction,
            "verdict": self.verdict,
            "decided_by": self.decided_by,
            "chain": [c.__dict__ for c in self.chain],
            "kernel": self.kernel,
            "disagreements": self.disagreements,
        }


def _verdict(entry: XfrmPolicy | None) -> str:
    if entry is None:
        return "no policy: forwarded in clear"
    if entry.action == "block":
        return "drop"
    if entry.templates:
        t = entry.templates[0]
        return f"protect: ESP {t.mode} {t.src} -> {t.dst} (reqid {t.reqid})"
    return "bypass: in clear"


def _direction(intent: Intent, gateway: str, packet: Packet) -> str:
    me = intent.gateway(gateway)
    if packet.dst == me.address:
        return "in"
    local = [s.cidr for s in intent.subnets if s.gateway == gateway]
    if any(packet.dst in net for net in local if net.version == packet.dst.version):
        return "fwd"
    return "out"


def _why(intent: Intent, name: str, priority: int) -> str:
    policy = next((p for p in intent.policies if p.name == name), None)
    if policy is None:
        return "the gateways' own IKE/ESP exemption, above every subnet policy"
    parts = [f"{policy.a} <-> {policy.b}",
             f"prefixes {policy.a.prefixlen}+{policy.b.prefixlen}"]
    if policy.protocol is not None:
        parts.append(f"protocol {policy.protocol}")
    if policy.ports is not None:
        parts.append(f"ports {policy.ports}")
    rank = (priority - PRIORITY_BASE) % PRIORITY_STRIDE
    parts.append(f"specificity {specificity(policy)}")
    if rank:
        parts.append(f"rank {rank} among overlapping policies of equal specificity")
    return ", ".join(parts)


def trace(intent: Intent, compiled: CompiledPlan, packet: Packet,
          kernel=None) -> TraceResult:
    direction = _direction(intent, compiled.gateway, packet)
    matching = sorted(
        (p for p in compiled.policies
         if p.direction == direction and p.if_id == 0
         and selector_matches(p.selector, packet)),
        key=lambda p: p.priority,
    )
    # A route-based tunnel's entry sits behind its interface; show it as the verdict.
    tunnel = [p for p in compiled.policies
              if p.direction == direction and p.if_id and p.templates
              and selector_matches(p.selector, packet)]
    winner = matching[0] if matching else None
    shown = winner
    if tunnel and (winner is None or winner.origin == tunnel[0].origin):
        shown = tunnel[0]
    seen, chain = set(), []
    for entry in matching:
        if entry.origin in seen:
            continue
        seen.add(entry.origin)
        chain.append(Candidate(entry.origin, _verdict(entry), entry.priority,
                               _why(intent, entry.origin, entry.priority)))
    result = TraceResult(
        compiled.gateway, packet, direction, _verdict(shown),
        winner.origin if winner else None, chain,
    )
    if kernel is not None:
        _ask_kernel(kernel, result, winner, direction, packet)
    return result


def _ask_kernel(kernel, result: TraceResult, winner: XfrmPolicy | None,
                direction: str, packet: Packet) -> None:
    entries = sorted(
        (p for p in kernel.policies()
         if p.direction == direction and p.if_id == 0
         and selector_matches(p.selector, packet)),
        key=lambda p: (p.priority, p.index),
    )
    best = entries[0] if entries else None
    result.kernel = {
        "decides": str(best) if best else None,
        "owned_by_cygnet": best.owned if best else None,
    }
    if winner is not None:
        found = kernel.get_policy(direction, winner.selector, winner.if_id)
        result.kernel["planned_entry"] = str(found) if found else None
        if found is None:
            result.disagreements.append(
                f"the planned entry is missing from the kernel: {winner} "
                "(run 'cygnet apply')"
            )
        elif found != winner:
            result.disagreements.append(
                f"the kernel's entry differs from the plan: kernel has {found}, "
                f"plan has {winner} (run 'cygnet apply')"
            )
    if best is None and winner is not None:
        result.disagreements.append("the kernel has no policy for this packet")
    elif best is not None and (winner is None or best.key() != winner.key()):
        owner = "Cygnet's" if best.owned else "a policy Cygnet does not own"
        result.disagreements.append(
            f"the kernel decides by {owner} entry {best}"
            + (f" instead of {winner}" if winner else "")
        )
