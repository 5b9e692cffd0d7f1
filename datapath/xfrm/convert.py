"""Between Cygnet's kernel objects (:mod:`datapath.objects`) and XFRM fields.

``*_fields`` functions turn an object into the field dict a message class of
:mod:`datapath.xfrm.messages` encodes; ``*_from`` functions turn a decoded
message back into an object.  ``check_*`` functions reject values the kernel's
fields cannot hold, naming the field, before anything is sent.
"""

from __future__ import annotations

import ipaddress
from socket import AF_INET, AF_INET6

from ..objects import OWNER_TAG, Aead, Selector, Template, XfrmPolicy, XfrmState
from . import constants as c
from .structs import xfrm_lifetime_cfg

DIRECTIONS = {
    "in": c.XFRM_POLICY_IN,
    "out": c.XFRM_POLICY_OUT,
    "fwd": c.XFRM_POLICY_FWD,
}
DIRECTION_NAMES = {number: name for name, number in DIRECTIONS.items()}
ACTIONS = {"allow": c.XFRM_POLICY_ALLOW, "block": c.XFRM_POLICY_BLOCK}
ACTION_NAMES = {number: name for name, number in ACTIONS.items()}
MODES = {"tunnel": c.XFRM_MODE_TUNNEL, "transport": c.XFRM_MODE_TRANSPORT}
MODE_NAMES = {number: name for name, number in MODES.items()}
FAMILIES = {4: AF_INET, 6: AF_INET6}

# Templates accept any algorithm the SA negotiated (``ip xfrm`` prints the
# masks as "enc-mask ffffffff auth-mask ffffffff comp-mask ffffffff").
ALL_ALGORITHMS = 0xFFFFFFFF
XFRM_MAX_DEPTH = 6  # templates per policy, from include/net/xfrm.h
TEMPLATE_PROTOCOLS = {50: "esp", 51: "ah", 108: "comp"}

U8, U16, U32 = 0xFF, 0xFFFF, 0xFFFFFFFF


def lifetime(owned: bool = True) -> dict:
    """No limits, except the soft byte limit that carries Cygnet's ownership tag.

    Byte and packet limits say "none" with ``XFRM_INF``, expiry times with 0:
    the kernel adds an expiry time to the creation time, so ``XFRM_INF`` there
    would wrap around and expire the object at the next timer tick.
    """
    lft = {name: 0 for name, _ in xfrm_lifetime_cfg.fields}
    for name in ("byte", "packet"):
        lft[f"soft_{name}_limit"] = lft[f"hard_{name}_limit"] = c.XFRM_INF
    if owned:
        lft["soft_byte_limit"] = OWNER_TAG
    return lft


def address_bytes(address) -> bytes:
    """An ``xfrm_address_t``: IPv4 in the first four of sixteen bytes."""
    return address.packed.ljust(16, b"\0")


def address_from(data: bytes, family: int):
    if family == AF_INET:
        return ipaddress.IPv4Address(bytes(data[:4]))
    return ipaddress.IPv6Address(bytes(data[:16]))


def family_of(version: int) -> int:
    return FAMILIES[version]


# Validation ---------------------------------------------------------------


def _check_range(what: str, value: int, top: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= top:
        raise ValueError(f"{what} {value!r} is out of range: use 0..{top}")


def check_selector(selector: Selector) -> None:
    _check_range("selector proto", selector.proto, U8)
    for name in ("sport", "sport_mask", "dport", "dport_mask"):
        _check_range(f"selector {name}", getattr(selector, name), U16)


def check_template(tmpl: Template) -> None:
    _check_range("template reqid", tmpl.reqid, U32)
    _check_range("template spi", tmpl.spi, U32)
    if tmpl.proto not in TEMPLATE_PROTOCOLS:
        raise ValueError(
            f"template proto {tmpl.proto!r} is not an IPsec protocol: "
            "use 50 (esp), 51 (ah) or 108 (comp)"
        )
    if tmpl.mode not in MODES:
        raise ValueError(
            f"template mode {tmpl.mode!r} is unknown: use tunnel or transport"
        )
    if tmpl.src.version != tmpl.dst.version:
        raise ValueError(
            f"template {tmpl.src} -> {tmpl.dst} mixes IPv4 and IPv6: "
            "give both ends of the tunnel in one family"
        )


def check_policy(policy: XfrmPolicy) -> None:
    if policy.direction not in DIRECTIONS:
        raise ValueError(
            f"policy direction {policy.direction!r} is unknown: use in, out or fwd"
        )
    if policy.action not in ACTIONS:
        raise ValueError(
            f"policy action {policy.action!r} is unknown: use allow or block"
        )
    _check_range("policy priority", policy.priority, U32)
    _check_range("policy if_id", policy.if_id, U32)
    check_selector(policy.selector)
    if len(policy.templates) > XFRM_MAX_DEPTH:
        raise ValueError(
            f"policy has {len(policy.templates)} templates: "
            f"the kernel takes at most {XFRM_MAX_DEPTH}"
        )
    for tmpl in policy.templates:
        check_template(tmpl)


def check_state(state: XfrmState) -> None:
    _check_range("SA spi", state.spi, U32)
    _check_range("SA reqid", state.reqid, U32)
    _check_range("SA replay_window", state.replay_window, U8)
    _check_range("SA if_id", state.if_id, U32)
    _check_range("SA proto", state.proto, U8)
    if state.mode not in MODES:
        raise ValueError(f"SA mode {state.mode!r} is unknown: use tunnel or transport")
    if state.src.version != state.dst.version:
        raise ValueError(f"SA {state.src} -> {state.dst} mixes IPv4 and IPv6")
    name = state.aead.name.encode("ascii", "replace")
    if not 0 < len(name) < 64:
        raise ValueError(
            f"SA aead name {state.aead.name!r} must be 1..63 characters, "
            "e.g. rfc4106(gcm(aes))"
        )
    if not state.aead.key:
        raise ValueError("SA aead key is empty: give the key with its salt")
    _check_range("SA aead icv_bits", state.aead.icv_bits, U32)


# Policies -----------------------------------------------------------------


def selector_fields(selector: Selector) -> dict:
    return {
        "daddr": address_bytes(selector.dst.network_address),
        "saddr": address_bytes(selector.src.network_address),
        "dport": selector.dport,
        "dport_mask": selector.dport_mask,
        "sport": selector.sport,
        "sport_mask": selector.sport_mask,
        "family": family_of(selector.family),
        "prefixlen_d": selector.dst.prefixlen,
        "prefixlen_s": selector.src.prefixlen,
        "proto": selector.proto,
        "ifindex": 0,
        "user": 0,
    }


def selector_from(sel: dict) -> Selector:
    family = sel["family"]
    src = address_from(sel["saddr"], family)
    dst = address_from(sel["daddr"], family)
    return Selector(
        src=ipaddress.ip_network((src, sel["prefixlen_s"]), strict=False),
        dst=ipaddress.ip_network((dst, sel["prefixlen_d"]), strict=False),
        proto=sel["proto"],
        sport=sel["sport"],
        sport_mask=sel["sport_mask"],
        dport=sel["dport"],
        dport_mask=sel["dport_mask"],
    )


def template_fields(tmpl: Template) -> dict:
    return {
        "id": {"daddr": address_bytes(tmpl.dst), "spi": tmpl.spi, "proto": tmpl.proto},
        "family": family_of(tmpl.dst.version),
        "saddr": address_bytes(tmpl.src),
        "reqid": tmpl.reqid,
        "mode": MODES[tmpl.mode],
        "share": c.XFRM_SHARE_ANY,
        "optional": int(tmpl.optional),
        "aalgos": ALL_ALGORITHMS,
        "ealgos": ALL_ALGORITHMS,
        "calgos": ALL_ALGORITHMS,
    }


def template_from(tmpl: dict) -> Template:
    family = tmpl["family"]
    return Template(
        dst=address_from(tmpl["id"]["daddr"], family),
        src=address_from(tmpl["saddr"], family),
        reqid=tmpl["reqid"],
        mode=MODE_NAMES.get(tmpl["mode"], tmpl["mode"]),
        proto=tmpl["id"]["proto"],
        spi=tmpl["id"]["spi"],
        optional=bool(tmpl["optional"]),
    )


def modelled(direction: int, family: int, policy_type: int, mark: int) -> bool:
    """Whether :class:`XfrmPolicy` can describe a policy the kernel holds.

    Cygnet writes main-type, unmarked IPv4/IPv6 policies in, out or fwd.  It
    does not list sub-type policies, marked policies or selectors without an
    address family: XfrmPolicy has no field for them, so listing them would
    make them look like Cygnet's own key.  They stay untouched, and unseen by
    callers of ``Kernel.policies()``.
    """
    return (
        direction in DIRECTION_NAMES
        and family in (AF_INET, AF_INET6)
        and policy_type == c.XFRM_POLICY_TYPE_MAIN
        and not mark
    )


def policy_info_fields(policy: XfrmPolicy) -> dict:
    """Fields and attributes of ``struct xfrm_userpolicy_info`` for ``policy``."""
    check_policy(policy)
    attrs = []
    if policy.templates:
        attrs.append(["XFRMA_TMPL", [template_fields(t) for t in policy.templates]])
    if policy.if_id:
        attrs.append(["XFRMA_IF_ID", policy.if_id])
    return {
        "sel": selector_fields(policy.selector),
        "lft": lifetime(owned=True),
        "curlft": {"bytes": 0, "packets": 0, "add_time": 0, "use_time": 0},
        "priority": policy.priority,
        "index": 0,
        "dir": DIRECTIONS[policy.direction],
        "action": ACTIONS[policy.action],
        "flags": 0,
        "share": c.XFRM_SHARE_ANY,
        "attrs": attrs,
    }


def policy_id_fields(direction: str, selector: Selector, if_id: int = 0) -> dict:
    """Fields and attributes of ``struct xfrm_userpolicy_id`` naming one policy."""
    if direction not in DIRECTIONS:
        raise ValueError(
            f"policy direction {direction!r} is unknown: use in, out or fwd"
        )
    check_selector(selector)
    _check_range("policy if_id", if_id, U32)
    return {
        "sel": selector_fields(selector),
        "index": 0,
        "dir": DIRECTIONS[direction],
        "attrs": [["XFRMA_IF_ID", if_id]] if if_id else [],
    }


def policy_from(msg) -> XfrmPolicy | None:
    """The policy in a decoded ``xfrm_userpolicy_info``, or None for a policy
    :class:`XfrmPolicy` cannot describe (see :func:`modelled`)."""
    policy_type = (msg.get_attr("XFRMA_POLICY_TYPE") or {}).get("type", 0)
    mark = msg.get_attr("XFRMA_MARK") or {}
    if not modelled(msg["dir"], msg["sel"]["family"], policy_type, mark.get("v", 0)):
        return None
    direction = DIRECTION_NAMES[msg["dir"]]
    templates = msg.get_attr("XFRMA_TMPL") or []
    return XfrmPolicy(
        direction=direction,
        selector=selector_from(msg["sel"]),
        action=ACTION_NAMES.get(msg["action"], msg["action"]),
        priority=msg["priority"],
        templates=tuple(template_from(t) for t in templates),
        if_id=msg.get_attr("XFRMA_IF_ID") or 0,
        owned=msg["lft"]["soft_byte_limit"] == OWNER_TAG,
        index=msg["index"],
    )


# SAs ----------------------------------------------------------------------


def state_info_fields(state: XfrmState) -> dict:
    """Fields and attributes of ``struct xfrm_usersa_info`` for ``state``."""
    check_state(state)
    family = family_of(state.dst.version)
    attrs = [
        [
            "XFRMA_ALG_AEAD",
            {
                "alg_name": state.aead.name,
                "alg_key_len": len(state.aead.key) * 8,
                "alg_icv_len": state.aead.icv_bits,
                "alg_key": state.aead.key,
            },
        ]
    ]
    if state.if_id:
        attrs.append(["XFRMA_IF_ID", state.if_id])
    return {
        # An empty selector (family 0): the SA carries whatever its policy sends.
        "sel": {"daddr": bytes(16), "saddr": bytes(16)},
        "id": {
            "daddr": address_bytes(state.dst),
            "spi": state.spi,
            "proto": state.proto,
        },
        "saddr": address_bytes(state.src),
        "lft": lifetime(owned=True),
        "curlft": {"bytes": 0, "packets": 0, "add_time": 0, "use_time": 0},
        "stats": {"replay_window": 0, "replay": 0, "integrity_failed": 0},
        "seq": 0,
        "reqid": state.reqid,
        "family": family,
        "mode": MODES[state.mode],
        "replay_window": state.replay_window,
        "flags": 0,
        "attrs": attrs,
    }


def state_id_fields(state: XfrmState) -> dict:
    """Fields and attributes of ``struct xfrm_usersa_id`` naming one SA."""
    _check_range("SA spi", state.spi, U32)
    _check_range("SA proto", state.proto, U8)
    return {
        "daddr": address_bytes(state.dst),
        "spi": state.spi,
        "family": family_of(state.dst.version),
        "proto": state.proto,
        "attrs": [["XFRMA_SRCADDR", address_bytes(state.src)]],
    }


def aead_from(msg) -> Aead:
    """The SA's algorithm.  SAs Cygnet did not install may use separate cipher
    and integrity algorithms; they are shown as ``"cipher+auth"`` with no key,
    enough to list them but not to re-create them."""
    aead = msg.get_attr("XFRMA_ALG_AEAD")
    if aead is not None:
        return Aead(aead["alg_name"], aead["alg_key"], aead["alg_icv_len"])
    crypt = msg.get_attr("XFRMA_ALG_CRYPT")
    auth = msg.get_attr("XFRMA_ALG_AUTH_TRUNC") or msg.get_attr("XFRMA_ALG_AUTH")
    names = [a["alg_name"] for a in (crypt, auth) if a is not None]
    icv_bits = auth.get("alg_trunc_len", 0) if auth is not None else 0
    return Aead("+".join(names) or "none", b"", icv_bits)


def state_from(msg) -> XfrmState:
    family = msg["family"]
    return XfrmState(
        src=address_from(msg["saddr"], family),
        dst=address_from(msg["id"]["daddr"], family),
        spi=msg["id"]["spi"],
        reqid=msg["reqid"],
        aead=aead_from(msg),
        mode=MODE_NAMES.get(msg["mode"], msg["mode"]),
        proto=msg["id"]["proto"],
        replay_window=msg["replay_window"],
        if_id=msg.get_attr("XFRMA_IF_ID") or 0,
        owned=msg["lft"]["soft_byte_limit"] == OWNER_TAG,
    )
