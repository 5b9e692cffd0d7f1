"""CIDR containment and overlap against a brute-force model of address sets.

Blocks are drawn from small corners of both families (prefixes of at least /24
in IPv4 and /120 in IPv6) so the model can list every address.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from app.services.addressing import (
    AddressError,
    PrefixIndex,
    contains,
    overlapping_pairs,
    overlaps,
    parse_network,
)

BASES = {4: ipaddress.ip_address("10.20.30.0"), 6: ipaddress.ip_address("2001:db8::")}
SPAN = 256


@st.composite
def networks(draw, family=None):
    family = family or draw(st.sampled_from((4, 6)))
    bits = 32 if family == 4 else 128
    prefixlen = draw(st.integers(bits - 8, bits))
    size = 1 << (bits - prefixlen)
    start = draw(st.integers(0, SPAN // size - 1)) * size
    return ipaddress.ip_network(f"{BASES[family] + start}/{prefixlen}")


def addresses(network) -> set:
    return {(network.version, int(a)) for a in network}


@given(networks(), networks())
def test_contains_matches_address_sets(a, b):
    assert contains(a, b) == (addresses(b) <= addresses(a))


@given(networks(), networks())
def test_overlaps_matches_address_sets(a, b):
    assert overlaps(a, b) == bool(addresses(a) & addresses(b))
    assert overlaps(a, b) == overlaps(b, a)


@given(st.lists(networks(), max_size=12), networks())
def test_prefix_index_finds_exactly_the_containing_blocks(blocks, probe):
    index = PrefixIndex((n, i) for i, n in enumerate(blocks))
    found = sorted(i for _, i in index.containing(probe))
    expected = [i for i, n in enumerate(blocks) if addresses(probe) <= addresses(n)]
    assert found == expected


@given(st.lists(networks(), max_size=12))
def test_overlapping_pairs_match_brute_force(blocks):
    expected = {
        (i, j)
        for i in range(len(blocks))
        for j in range(i + 1, len(blocks))
        if addresses(blocks[i]) & addresses(blocks[j])
    }
    assert overlapping_pairs(blocks) == expected


@given(networks(family=4), st.integers(1, 255))
def test_host_bits_are_refused_with_the_network_to_use(network, offset):
    if network.num_addresses == 1:
        return
    host = network.network_address + (offset % network.num_addresses or 1)
    text = f"{host}/{network.prefixlen}"
    try:
        parse_network(text, require_prefix=True)
    except AddressError as exc:
        assert f"use {network}" in str(exc)
    else:
        raise AssertionError(f"{text} was accepted")


@given(networks())
def test_canonical_cidr_parses_to_itself(network):
    assert parse_network(str(network), require_prefix=True) == network
