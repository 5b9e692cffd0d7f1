"""The network-wide intent as plain, immutable values.

The application loads these from its database; tests and benchmarks build them
directly.  They are already validated: every policy end is resolved to a CIDR and
to the gateway it lies behind.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

Action = Literal["protect", "bypass", "drop"]
Mode = Literal["tunnel", "transport"]
Keying = Literal["ike", "manual"]

# IANA protocol numbers for the names policies may use.
PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "sctp": 132}


@dataclass(frozen=True)
class Gateway:
    name: str
    address: IPAddress
    managed: bool = True
    ike_id: str | None = None
    # Route-based gateways send protected traffic through one xfrm interface per
    # peer; policy-based ones rely on XFRM policies alone.
    route_based: bool = False


@dataclass(frozen=True)
class Subnet:
    name: str
    cidr: IPNetwork
    gateway: str


@dataclass(frozen=True)
class PortRange:
    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


@dataclass(frozen=True)
class Policy:
    """Traffic between two ends, in both directions.

    ``a`` and ``b`` are the ends as resolved CIDRs; ``a_gateway`` and ``b_gateway``
    the gateways they lie behind.  With ``ports`` the policy covers packets whose
    source or destination port is in the range, so sessions to that port on either
    end and their replies.
    """

    name: str
    a: IPNetwork
    b: IPNetwork
    a_gateway: str
    b_gateway: str
    action: Action
    protocol: int | None = None
    ports: PortRange | None = None
    mode: Mode = "tunnel"
    keying: Keying = "ike"


@dataclass(frozen=True)
class Tunnel:
    """Numbers shared by both ends of the tunnel between two gateways.

    They are allocated once by the application and kept, so both ends agree and a
    restart renumbers nothing.  ``reqid`` ties SAs to policy templates; ``if_id``
    names the xfrm interface of route-based tunnels.
    """

    gateways: frozenset[str]
    reqid: int
    if_id: int


@dataclass(frozen=True)
class SAKey:
    """One manually keyed SA: traffic from gateway ``src`` to gateway ``dst``.

    ``generation`` counts rotations of the pair's keys.  ``phase`` says how far its
    rotation has come: ``inbound`` keys are installed for receiving only, ``active``
    keys are also used for sending, ``retiring`` keys are still received but no
    longer sent with and are removed after the grace period.
    """

    src: str
    dst: str
    spi: int
    key: bytes = field(repr=False)
    generation: int
    phase: Literal["inbound", "active", "retiring"] = "active"
    mode: Mode = "tunnel"
    algorithm: str = "rfc4106(gcm(aes))"
    icv_bits: int = 128


@dataclass(frozen=True)
class Intent:
    gateways: tuple[Gateway, ...]
    subnets: tuple[Subnet, ...]
    policies: tuple[Policy, ...]
    tunnels: tuple[Tunnel, ...] = ()
    keys: tuple[SAKey, ...] = ()
    revision: int = 0

    def gateway(self, name: str) -> Gateway:
        for gateway in self.gateways:
            if gateway.name == name:
                return gateway
        raise KeyError(f"no gateway named {name!r}")

    def tunnel(self, a: str, b: str) -> Tunnel:
        by_pair = self.__dict__.get("_tunnels")
        if by_pair is None:
            by_pair = {t.gateways: t for t in self.tunnels}
            object.__setattr__(self, "_tunnels", by_pair)
        try:
            return by_pair[frozenset((a, b))]
        except KeyError:
            raise KeyError(
                f"no tunnel numbers allocated between {a!r} and {b!r}"
            ) from None


def tunnel_pairs(intent: Intent) -> set[frozenset[str]]:
    """The gateway pairs that protect policies need a tunnel between."""
    return {
        frozenset((p.a_gateway, p.b_gateway))
        for p in intent.policies
        if p.action == "protect" and p.a_gateway != p.b_gateway
    }


def allocate_tunnels(
    existing: tuple[Tunnel, ...], pairs: set[frozenset[str]]
) -> tuple[Tunnel, ...]:
    """Keep the numbers ``existing`` tunnels have and give new pairs the lowest free.

    There is no upper bound but the kernel's 32-bit fields.
    """
    kept = [t for t in existing if t.gateways in pairs]
    used_reqids = {t.reqid for t in kept}
    used_if_ids = {t.if_id for t in kept}
    known = {t.gateways for t in kept}
    next_reqid = next_if_id = 1
    for pair in sorted(pairs - known, key=sorted):
        while next_reqid in used_reqids:
            next_reqid += 1
        while next_if_id in used_if_ids:
            next_if_id += 1
        if next_reqid > 0xFFFFFFFF or next_if_id > 0xFFFFFFFF:
            raise OverflowError("the kernel's 32-bit reqid/if_id space is exhausted")
        kept.append(Tunnel(pair, next_reqid, next_if_id))
        used_reqids.add(next_reqid)
        used_if_ids.add(next_if_id)
    return tuple(sorted(kept, key=lambda t: sorted(t.gateways)))
