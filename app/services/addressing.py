"""CIDR parsing and the containment and overlap questions validation asks.

Two CIDR blocks overlap exactly when one contains the other, so every question
here is answered by looking up a block's possible supernets, one per prefix length
in use: no pairwise comparison of all blocks.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from typing import Generic, TypeVar, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
T = TypeVar("T")


class AddressError(ValueError):
    """Text that is not the address or CIDR wanted; the message says the fix."""


_NOT_A_CIDR = (
    "{text!r} is not a CIDR; write an address and a prefix length such as "
    "10.1.0.0/24 or 2001:db8::/64"
)


def looks_like_address(text: str) -> bool:
    """True for text meant as an address or CIDR rather than as a name."""
    head = text.split("/", 1)[0]
    if ":" in head:
        return True
    parts = head.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def parse_network(text: str, *, require_prefix: bool) -> IPNetwork:
    """Parse a CIDR block; host bits set or (optionally) no prefix is an error."""
    text = text.strip()
    if require_prefix and "/" not in text and _is_address(text):
        example = "2001:db8::/64" if ":" in text else "10.1.0.0/24"
        raise AddressError(
            f"{text!r} has no prefix length; write it as a CIDR such as {example}"
        )
    if require_prefix and "/" not in text:
        raise AddressError(_NOT_A_CIDR.format(text=text))
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise AddressError(_NOT_A_CIDR.format(text=text)) from None
    raise AddressError(f"{text} has host bits set; use {loose}")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_address(text: str) -> IPAddress:
    """Parse one unicast IPv4 or IPv6 address."""
    text = text.strip()
    if "/" in text:
        raise AddressError(
            f"{text!r} is a network; give the address itself without a prefix length"
        )
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise AddressError(
            f"{text!r} is not an IPv4 or IPv6 address; write e.g. 192.0.2.1 or "
            "2001:db8::1"
        ) from None
    if address.is_unspecified or address.is_multicast:
        raise AddressError(
            f"{address} cannot be a gateway's address; use a unicast one"
        )
    return address


def contains(outer: IPNetwork, inner: IPNetwork) -> bool:
    """True when every address of ``inner`` is in ``outer``."""
    return outer.version == inner.version and inner.subnet_of(outer)


def overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    """True when ``a`` and ``b`` share at least one address."""
    return a.version == b.version and (a.subnet_of(b) or b.subnet_of(a))


def _key(network: IPNetwork, prefixlen: int) -> int:
    return int(network.network_address) >> (network.max_prefixlen - prefixlen)


class PrefixIndex(Generic[T]):
    """CIDR blocks with a value each, asked which of them contain a given block."""

    def __init__(self, items: Iterable[tuple[IPNetwork, T]] = ()) -> None:
        # family -> prefix length -> network bits -> [(network, value)]
        self._tables: dict[int, dict[int, dict[int, list[tuple[IPNetwork, T]]]]] = {
            4: defaultdict(lambda: defaultdict(list)),
            6: defaultdict(lambda: defaultdict(list)),
        }
        for network, value in items:
            self.add(network, value)

    def add(self, network: IPNetwork, value: T) -> None:
        table = self._tables[network.version][network.prefixlen]
        table[_key(network, network.prefixlen)].append((network, value))

    def containing(self, network: IPNetwork) -> list[tuple[IPNetwork, T]]:
        """Every indexed block that contains ``network`` (itself included)."""
        found = []
        for prefixlen, table in self._tables[network.version].items():
            if prefixlen <= network.prefixlen:
                found.extend(table.get(_key(network, prefixlen), ()))
        return found


def overlapping_pairs(networks: list[IPNetwork]) -> set[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of the blocks that overlap."""
    index: PrefixIndex[int] = PrefixIndex((n, i) for i, n in enumerate(networks))
    pairs = set()
    for j, network in enumerate(networks):
        for _, i in index.containing(network):
            if i != j:
                pairs.add((min(i, j), max(i, j)))
    return pairs
