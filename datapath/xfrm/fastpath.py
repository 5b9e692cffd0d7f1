"""Precompiled encoders for the messages Cygnet sends by the thousand.

pyroute2's generic encoder walks every field of every nested struct through
dict lookups: about half a millisecond for one ``XFRM_MSG_NEWPOLICY``, five
seconds for ten thousand policies.  Here each message is one ``struct.Struct``
built from the same ``fields`` the message classes declare, so the layout is
written once.  The tests check that both encoders give the same bytes.

The formats are native-endian; the few big-endian fields (``__be16`` ports,
``__be32`` SPIs) are byte-swapped before packing.
"""

from __future__ import annotations

import ipaddress
import struct
from functools import lru_cache
from operator import itemgetter
from socket import AF_INET, htonl, htons, ntohl, ntohs

from ..objects import OWNER_TAG, Selector, Template, XfrmPolicy
from . import constants as c
from .convert import (
    ACTION_NAMES,
    ACTIONS,
    ALL_ALGORITHMS,
    DIRECTION_NAMES,
    DIRECTIONS,
    MODE_NAMES,
    MODES,
    TEMPLATE_PROTOCOLS,
    XFRM_MAX_DEPTH,
    check_policy,
    check_selector,
    check_template,
    modelled,
)
from .messages import xfrm_userpolicy_id, xfrm_userpolicy_info
from .structs import xfrm_user_tmpl

NLMSGHDR = "IHHII"  # struct nlmsghdr: len, type, flags, seq, pid
NLA_HDR = struct.Struct("=HH")
NLA_U32 = struct.Struct("=HHI")
NLA_U32_SIZE = NLA_U32.size


def native_format(fields) -> str:
    """The ``struct`` format of a class's ``fields``, nested structs inlined,
    byte-order marks dropped (callers swap big-endian values themselves)."""
    text = ""
    for _, fmt in fields:
        text += (
            fmt.lstrip("=<>!") if isinstance(fmt, str) else native_format(fmt.fields)
        )
    return text


def flat_names(fields, prefix: str = "") -> list[str]:
    """Names of the values :func:`native_format`'s struct packs, in order."""
    names = []
    for name, fmt in fields:
        if name.startswith("__"):
            continue
        if isinstance(fmt, str):
            names.append(prefix + name)
        else:
            names.extend(flat_names(fmt.fields, f"{prefix}{name}."))
    return names


POLICY_INFO = struct.Struct("=" + NLMSGHDR + native_format(xfrm_userpolicy_info.fields))
POLICY_ID = struct.Struct("=" + NLMSGHDR + native_format(xfrm_userpolicy_id.fields))
USER_TMPL = struct.Struct("=" + native_format(xfrm_user_tmpl.fields))

# Where each field's value sits in the unpacked tuples.
_HEADER_NAMES = ["length", "type", "flags", "seq", "pid"]
_P = {
    name: i
    for i, name in enumerate(_HEADER_NAMES + flat_names(xfrm_userpolicy_info.fields))
}
_T = {name: i for i, name in enumerate(flat_names(xfrm_user_tmpl.fields))}

# struct xfrm_lifetime_cfg after the soft byte limit (see convert.lifetime)
_LFT_TAIL = (c.XFRM_INF, c.XFRM_INF, c.XFRM_INF, 0, 0, 0, 0)
_ZERO12 = bytes(12)


def _address(address) -> bytes:
    packed = address.packed
    return packed + _ZERO12 if len(packed) == 4 else packed


def _selector(selector: Selector) -> tuple:
    src, dst = selector.src, selector.dst
    return (
        _address(dst.network_address),
        _address(src.network_address),
        htons(selector.dport),
        htons(selector.dport_mask),
        htons(selector.sport),
        htons(selector.sport_mask),
        2 if dst.version == 4 else 10,  # AF_INET, AF_INET6
        dst.prefixlen,
        src.prefixlen,
        selector.proto,
        0,  # ifindex
        0,  # user
    )


def encode_policy_info(policy: XfrmPolicy, msg_type: int, flags: int) -> bytes:
    """``XFRM_MSG_NEWPOLICY``/``XFRM_MSG_UPDPOLICY`` for ``policy``, sequence 0.

    Values out of a field's range make ``struct`` fail; the full check then
    runs to say which field is wrong.  What ``struct`` cannot see (template
    protocols and families, the number of templates) is checked here.
    """
    try:
        return _policy_info(policy, msg_type, flags)
    except (KeyError, TypeError, OverflowError, AttributeError, struct.error) as exc:
        check_policy(policy)
        raise ValueError(f"{policy} cannot be encoded: {exc}") from exc


def _policy_info(policy: XfrmPolicy, msg_type: int, flags: int) -> bytes:
    templates = policy.templates
    length = POLICY_INFO.size
    if templates:
        if len(templates) > XFRM_MAX_DEPTH:
            check_policy(policy)
        length += 4 + USER_TMPL.size * len(templates)
    if policy.if_id:
        length += NLA_U32_SIZE
    head = POLICY_INFO.pack(
        length,
        msg_type,
        flags,
        0,
        0,
        *_selector(policy.selector),
        OWNER_TAG,
        *_LFT_TAIL,
        0,  # curlft
        0,
        0,
        0,
        policy.priority,
        0,  # index: the kernel picks it
        DIRECTIONS[policy.direction],
        ACTIONS[policy.action],
        0,  # flags
        c.XFRM_SHARE_ANY,
    )
    if not templates and not policy.if_id:
        return head
    parts = [head]
    if templates:
        parts.append(NLA_HDR.pack(4 + USER_TMPL.size * len(templates), c.XFRMA_TMPL))
        parts.extend(map(_user_tmpl, templates))
    if policy.if_id:
        parts.append(NLA_U32.pack(NLA_U32_SIZE, c.XFRMA_IF_ID, policy.if_id))
    return b"".join(parts)


@lru_cache(maxsize=1 << 12)
def _user_tmpl(tmpl: Template) -> bytes:
    """One ``struct xfrm_user_tmpl``; thousands of policies share a few."""
    dst = tmpl.dst
    if tmpl.proto not in TEMPLATE_PROTOCOLS or tmpl.src.version != dst.version:
        check_template(tmpl)
    return USER_TMPL.pack(
        _address(dst),
        htonl(tmpl.spi),
        tmpl.proto,
        2 if dst.version == 4 else 10,
        _address(tmpl.src),
        tmpl.reqid,
        MODES[tmpl.mode],
        c.XFRM_SHARE_ANY,
        int(tmpl.optional),
        ALL_ALGORITHMS,
        ALL_ALGORITHMS,
        ALL_ALGORITHMS,
    )


def encode_policy_id(
    direction: str, selector: Selector, if_id: int, msg_type: int, flags: int
) -> bytes:
    """``XFRM_MSG_DELPOLICY``/``XFRM_MSG_GETPOLICY`` by selector, sequence 0."""
    if direction not in DIRECTIONS:
        raise ValueError(
            f"policy direction {direction!r} is unknown: use in, out or fwd"
        )
    check_selector(selector)
    if not isinstance(if_id, int) or not 0 <= if_id <= 0xFFFFFFFF:
        raise ValueError(f"policy if_id {if_id!r} is out of range: use 0..4294967295")
    length = POLICY_ID.size + (NLA_U32_SIZE if if_id else 0)
    head = POLICY_ID.pack(
        length, msg_type, flags, 0, 0, *_selector(selector), 0, DIRECTIONS[direction]
    )
    if not if_id:
        return head
    return head + NLA_U32.pack(NLA_U32_SIZE, c.XFRMA_IF_ID, if_id)


# Decoding policy dumps -----------------------------------------------------
#
# pyroute2's generic decoder needs about 0.25 ms per policy, so listing ten
# thousand policies would take seconds.  This reads the same fields in one
# ``unpack_from`` and builds the XfrmPolicy directly; the tests check that it
# agrees with the generic decoder followed by ``convert.policy_from``.

NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER


@lru_cache(maxsize=1 << 16)
def _network(raw: bytes, family: int, prefixlen: int):
    if family == AF_INET:
        return ipaddress.IPv4Network((raw[:4], prefixlen), strict=False)
    return ipaddress.IPv6Network((raw, prefixlen), strict=False)


@lru_cache(maxsize=1 << 12)
def _ip(raw: bytes, family: int):
    if family == AF_INET:
        return ipaddress.IPv4Address(raw[:4])
    return ipaddress.IPv6Address(raw)


@lru_cache(maxsize=1 << 12)
def _template(v: tuple) -> Template:
    """A template from its unpacked ``xfrm_user_tmpl``; policies share few."""
    family = v[_T["family"]]
    return Template(
        dst=_ip(v[_T["id.daddr"]], family),
        src=_ip(v[_T["saddr"]], family),
        reqid=v[_T["reqid"]],
        mode=MODE_NAMES.get(v[_T["mode"]], v[_T["mode"]]),
        proto=v[_T["id.proto"]],
        spi=ntohl(v[_T["id.spi"]]),
        optional=bool(v[_T["optional"]]),
    )


# The fields a policy is built from, in the order decode_policy_info unpacks them.
_POLICY_FIELD_NAMES = """
    sel.daddr sel.saddr sel.dport sel.dport_mask sel.sport sel.sport_mask
    sel.family sel.prefixlen_d sel.prefixlen_s sel.proto lft.soft_byte_limit
    priority index dir action
""".split()
_POLICY_FIELDS = itemgetter(*(_P[name] for name in _POLICY_FIELD_NAMES))
_POLICY_INFO_SIZE = POLICY_INFO.size
_TMPL_SIZE = USER_TMPL.size


def decode_policy_info(data, offset: int, length: int) -> XfrmPolicy | None:
    """The policy in one ``xfrm_userpolicy_info`` message at ``offset``, or None
    for a policy XfrmPolicy cannot describe (``convert.modelled``)."""
    (
        daddr,
        saddr,
        dport,
        dport_mask,
        sport,
        sport_mask,
        family,
        prefixlen_d,
        prefixlen_s,
        proto,
        soft_byte_limit,
        priority,
        index,
        direction,
        action,
    ) = _POLICY_FIELDS(POLICY_INFO.unpack_from(data, offset))

    templates: list[Template] = []
    if_id = policy_type = mark = 0
    pos, end = offset + _POLICY_INFO_SIZE, offset + length
    while pos + 4 <= end:
        size, kind = NLA_HDR.unpack_from(data, pos)
        if size < 4:
            break
        kind &= NLA_TYPE_MASK
        if kind == c.XFRMA_TMPL:
            for at in range(pos + 4, pos + size - _TMPL_SIZE + 1, _TMPL_SIZE):
                templates.append(_template(USER_TMPL.unpack_from(data, at)))
        elif kind == c.XFRMA_IF_ID:
            if_id = NLA_U32.unpack_from(data, pos)[2]
        elif kind == c.XFRMA_POLICY_TYPE:
            policy_type = data[pos + 4]
        elif kind == c.XFRMA_MARK:
            mark = NLA_U32.unpack_from(data, pos)[2]
        pos += (size + 3) & ~3

    if not modelled(direction, family, policy_type, mark):
        return None
    selector = Selector(
        _network(saddr, family, prefixlen_s),
        _network(daddr, family, prefixlen_d),
        proto,
        ntohs(sport),
        ntohs(sport_mask),
        ntohs(dport),
        ntohs(dport_mask),
    )
    return XfrmPolicy(
        DIRECTION_NAMES[direction],
        selector,
        ACTION_NAMES.get(action, action),
        priority,
        tuple(templates),
        if_id,
        soft_byte_limit == OWNER_TAG,
        index,
    )
