"""The intent as the user writes it: gateways, subnets and policies by name.

These specs are what import, export, the API and validation share.  Unlike
:mod:`datapath.intent`, policy ends are still as written (a subnet name or a CIDR)
and nothing is resolved.  ``key`` is the database row an item came from, if any;
it lets a rename keep the row (and so the tunnel numbers hanging off it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datapath.intent import PROTOCOLS, IPAddress, IPNetwork, PortRange

PROTOCOL_NAMES = {number: name for name, number in PROTOCOLS.items()}
PORT_PROTOCOLS = {PROTOCOLS["tcp"], PROTOCOLS["udp"], PROTOCOLS["sctp"]}

KINDS = ("gateway", "subnet", "policy")
COLLECTIONS = {"gateway": "gateways", "subnet": "subnets", "policy": "policies"}
FIELDS = {
    "gateway": ("name", "address", "ike_id", "managed", "route_based"),
    "subnet": ("name", "cidr", "gateway"),
    "policy": ("name", "between", "action", "protocol", "ports", "mode", "keying"),
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "gateway": {"ike_id": None, "managed": True, "route_based": False},
    "subnet": {},
    "policy": {"protocol": None, "ports": None, "mode": "tunnel", "keying": "ike"},
}


@dataclass(frozen=True)
class GatewaySpec:
    name: str
    address: IPAddress
    managed: bool = True
    ike_id: str | None = None
    route_based: bool = False
    key: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SubnetSpec:
    name: str
    cidr: IPNetwork
    gateway: str
    key: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PolicySpec:
    name: str
    between: tuple[str, str]
    action: str
    protocol: int | None = None
    ports: PortRange | None = None
    mode: str = "tunnel"
    keying: str = "ike"
    key: int | None = field(default=None, compare=False)


Spec = GatewaySpec | SubnetSpec | PolicySpec


@dataclass
class Document:
    gateways: list[GatewaySpec] = field(default_factory=list)
    subnets: list[SubnetSpec] = field(default_factory=list)
    policies: list[PolicySpec] = field(default_factory=list)

    def items(self, kind: str) -> list:
        return getattr(self, COLLECTIONS[kind])

    def find(self, kind: str, name: str) -> int | None:
        for index, item in enumerate(self.items(kind)):
            if item.name == name:
                return index
        return None

    def copy(self) -> Document:
        return Document(list(self.gateways), list(self.subnets), list(self.policies))


def protocol_text(protocol: int | None) -> str | int | None:
    """A protocol as users write it: its name when it has one, else its number."""
    if protocol is None:
        return None
    return PROTOCOL_NAMES.get(protocol, protocol)


def public_form(spec: Spec, *, defaults: bool = True) -> dict[str, Any]:
    """The item as the API shows it and export writes it (never a secret).

    With ``defaults=False`` fields at their default value are left out, as export
    writes them.
    """
    if isinstance(spec, GatewaySpec):
        kind = "gateway"
        form = {
            "name": spec.name,
            "address": str(spec.address),
            "ike_id": spec.ike_id,
            "managed": spec.managed,
            "route_based": spec.route_based,
        }
    elif isinstance(spec, SubnetSpec):
        kind = "subnet"
        form = {"name": spec.name, "cidr": str(spec.cidr), "gateway": spec.gateway}
    else:
        kind = "policy"
        form = {
            "name": spec.name,
            "between": list(spec.between),
            "action": spec.action,
            "protocol": protocol_text(spec.protocol),
            "ports": str(spec.ports) if spec.ports else None,
            "mode": spec.mode,
            "keying": spec.keying,
        }
    if not defaults:
        omit = DEFAULTS[kind]
        form = {k: v for k, v in form.items() if k not in omit or omit[k] != v}
    return form


def export_form(spec: Spec) -> dict[str, Any]:
    """The item as export writes it: defaults left out, a single port as a number."""
    form = public_form(spec, defaults=False)
    if (
        isinstance(spec, PolicySpec)
        and spec.ports
        and spec.ports.first == spec.ports.last
    ):
        form["ports"] = spec.ports.first
    return form


def document_form(doc: Document) -> dict[str, list[dict[str, Any]]]:
    """The whole document as export writes it."""
    return {
        collection: [export_form(s) for s in doc.items(kind)]
        for kind, collection in COLLECTIONS.items()
    }
