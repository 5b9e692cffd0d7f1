"""Rules about one item on its own: types, names, addresses, enumerations.

``parse_item`` turns what the user wrote (a mapping from YAML, JSON or an API
body) into a spec, or reports every problem it finds.  The wording of each
message is fixed: the same mistake always gets the same words.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

from app.services.addressing import (
    AddressError,
    looks_like_address,
    parse_address,
    parse_network,
)
from app.services.problems import Path, Problem
from app.services.spec import (
    FIELDS,
    PORT_PROTOCOLS,
    GatewaySpec,
    PolicySpec,
    Spec,
    SubnetSpec,
)
from datapath.intent import PROTOCOLS, PortRange

DNS_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
NAME_LIMITS = {"subnet": 63, "policy": 100}
ACTIONS = ("protect", "bypass", "drop")
MODES = ("tunnel", "transport")
KEYINGS = ("ike", "manual")
EXAMPLES = {
    "gateway": "{name: hq, address: 192.0.2.1}",
    "subnet": "{name: hq-lan, cidr: 10.1.0.0/24, gateway: hq}",
    "policy": "{name: hq-branch, between: [hq-lan, branch-lan], action: protect}",
}


class _Collector:
    """Gathers the problems of one item, each at its path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def add(self, field: str | int | tuple, message: str) -> None:
        parts = field if isinstance(field, tuple) else (field,)
        self.problems.append(Problem(self.path + parts, message))


def parse_item(kind: str, raw: Any, path: Path) -> tuple[Spec | None, list[Problem]]:
    """Check one gateway, subnet or policy: its spec (None when a required field
    is unusable) and every problem found.  Any problem means the item is invalid;
    the spec is still returned so rules between items can check what is usable.
    """
    if not isinstance(raw, Mapping):
        return None, [
            Problem(path, f"each {kind} is a mapping such as {EXAMPLES[kind]}")
        ]
    out = _Collector(path)
    for key in raw:
        if key not in FIELDS[kind]:
            out.add(str(key), _unknown_key(kind, key))
    return PARSERS[kind](raw, out), out.problems


def item_name(raw: Any) -> str | None:
    """The name an item claims, even when the rest of it is broken."""
    if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
        return raw["name"]
    return None


def _unknown_key(kind: str, key: Any) -> str:
    fields = FIELDS[kind]
    close = difflib.get_close_matches(str(key), fields, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r}; {hint}a {kind} has {', '.join(fields)}"


def _string(raw: Mapping, key: str, out: _Collector, what: str) -> str | None:
    value = raw.get(key)
    if value is None:
        out.add(key, f"missing; give the {what}")
        return None
    if not isinstance(value, str) or not value.strip():
        out.add(key, f"must be text, not {value!r}; give the {what}")
        return None
    return value.strip()


def _bool(raw: Mapping, key: str, default: bool, out: _Collector) -> bool:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        out.add(key, f"must be true or false, not {value!r}")
        return default
    return value


def _choice(raw: Mapping, key: str, choices: tuple, default, out: _Collector):
    value = raw.get(key, default)
    if value is None and default is not None:
        return default
    if value not in choices:
        shown = ", ".join(choices)
        if value is None:
            out.add(key, f"missing; choose one of {shown}")
        else:
            out.add(key, f"{value!r} is not one of {shown}")
        return default
    return value


def _gateway_name(raw: Mapping, out: _Collector) -> str | None:
    name = _string(raw, "name", out, "gateway a name (a DNS label such as hq)")
    if name is not None and not DNS_LABEL.match(name):
        out.add(
            "name",
            f"{name!r} is not a DNS label: use 1-63 letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
        return None
    return name


def _object_name(kind: str, raw: Mapping, out: _Collector) -> str | None:
    limit = NAME_LIMITS[kind]
    name = _string(raw, "name", out, f"{kind} a name")
    if name is None:
        return None
    if len(name) > limit or not NAME.match(name):
        out.add(
            "name",
            f"{name!r} is not a valid {kind} name: use 1-{limit} letters, digits, "
            "'-', '_' or '.', starting with a letter or digit",
        )
        return None
    if looks_like_address(name):
        out.add(
            "name",
            f"{name!r} looks like an address; policy ends that look like addresses "
            f"are read as CIDRs, so give the {kind} a name that does not",
        )
        return None
    return name


def _parse_gateway(raw: Mapping, out: _Collector) -> GatewaySpec | None:
    name = _gateway_name(raw, out)
    address = None
    text = _string(raw, "address", out, "gateway's public IPv4 or IPv6 address")
    if text is not None:
        try:
            address = parse_address(text)
        except AddressError as exc:
            out.add("address", str(exc))
    ike_id = raw.get("ike_id")
    if ike_id is not None:
        if not isinstance(ike_id, str) or not ike_id.strip():
            out.add("ike_id", "must be text such as @vpn.example.com, or left out")
            ike_id = None
        elif len(ike_id) > 255 or any(ord(c) < 32 or ord(c) == 127 for c in ike_id):
            out.add(
                "ike_id", "must be at most 255 characters, without control characters"
            )
            ike_id = None
        else:
            ike_id = ike_id.strip()
    managed = _bool(raw, "managed", True, out)
    route_based = _bool(raw, "route_based", False, out)
    if name is None or address is None:
        return None
    return GatewaySpec(name, address, managed, ike_id, route_based)


def _parse_subnet(raw: Mapping, out: _Collector) -> SubnetSpec | None:
    name = _object_name("subnet", raw, out)
    cidr = None
    text = _string(raw, "cidr", out, "subnet's CIDR such as 10.1.0.0/24")
    if text is not None:
        try:
            cidr = parse_network(text, require_prefix=True)
        except AddressError as exc:
            out.add("cidr", str(exc))
    gateway = _string(raw, "gateway", out, "name of the gateway the subnet is behind")
    if name is None or cidr is None or gateway is None:
        return None
    return SubnetSpec(name, cidr, gateway)


def parse_end(text: str) -> str:
    """A policy end as stored: a subnet name as written, or a canonical CIDR."""
    text = text.strip()
    if looks_like_address(text):
        return str(parse_network(text, require_prefix=False))
    return text


def _parse_between(raw: Mapping, out: _Collector) -> tuple[str, str] | None:
    between = raw.get("between")
    if between is None:
        out.add("between", "missing; give the two ends, e.g. between: [lan-a, lan-b]")
        return None
    if isinstance(between, str) or not isinstance(between, (list, tuple)):
        out.add("between", "must be a list of two ends, e.g. between: [lan-a, lan-b]")
        return None
    if len(between) != 2:
        out.add(
            "between",
            f"has {len(between)} ends; a policy joins exactly two, "
            "e.g. between: [lan-a, lan-b]",
        )
        return None
    ends = []
    for i, end in enumerate(between):
        if not isinstance(end, str) or not end.strip():
            out.add(
                ("between", i), "must be a subnet name or a CIDR such as 10.1.0.0/24"
            )
            continue
        try:
            ends.append(parse_end(end))
        except AddressError as exc:
            out.add(("between", i), str(exc))
    return (ends[0], ends[1]) if len(ends) == 2 else None


def _parse_protocol(raw: Mapping, out: _Collector) -> tuple[bool, int | None]:
    value = raw.get("protocol")
    if value is None or value == "any":
        return True, None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool):
        pass
    elif isinstance(value, int) and 1 <= value <= 255:
        return True, value
    elif isinstance(value, str) and value.strip().lower() in PROTOCOLS:
        return True, PROTOCOLS[value.strip().lower()]
    out.add(
        "protocol",
        f"{value!r} is not a protocol: use {', '.join(PROTOCOLS)} or a number "
        "1-255, or leave it out for any",
    )
    return False, None


def _parse_ports(raw: Mapping, protocol: int | None, out: _Collector):
    value = raw.get("ports")
    if value is None:
        return None
    text = str(value).strip() if isinstance(value, (str, int)) else None
    if isinstance(value, bool) or text is None:
        text = ""
    first, sep, last = text.partition("-")
    if not sep:
        last = first
    if not (first.strip().isdigit() and last.strip().isdigit()):
        out.add("ports", f"{value!r} is not a port range: write 22 or 8000-8080")
        return None
    ports = PortRange(int(first), int(last))
    if not (1 <= ports.first <= ports.last <= 65535):
        out.add(
            "ports",
            f"{value!r} is not a port range: ports are 1-65535 and the first "
            "is not above the last (e.g. 8000-8080)",
        )
        return None
    if protocol not in PORT_PROTOCOLS:
        out.add(
            "ports",
            "ports need protocol tcp, udp or sctp; add e.g. protocol: tcp "
            "or remove ports",
        )
        return None
    return ports


def _parse_policy(raw: Mapping, out: _Collector) -> PolicySpec | None:
    name = _object_name("policy", raw, out)
    between = _parse_between(raw, out)
    action = _choice(raw, "action", ACTIONS, None, out)
    protocol_ok, protocol = _parse_protocol(raw, out)
    ports = _parse_ports(raw, protocol, out) if protocol_ok else None
    mode = _choice(raw, "mode", MODES, "tunnel", out)
    keying = _choice(raw, "keying", KEYINGS, "ike", out)
    if name is None or between is None or action is None:
        return None
    return PolicySpec(name, between, action, protocol, ports, mode, keying)


PARSERS: dict[str, Callable[[Mapping, _Collector], Spec | None]] = {
    "gateway": _parse_gateway,
    "subnet": _parse_subnet,
    "policy": _parse_policy,
}
