"""Kernel objects as Cygnet wants them: XFRM policies and SAs, xfrm interfaces,
routes and routing rules.

These are domain values, free of netlink encoding (:mod:`datapath.xfrm` holds the
wire structs).  Two objects are the same kernel object when their ``key()`` is
equal; they are identical when they also compare equal.  Fields marked
``compare=False`` describe an object without being part of what the kernel holds.

Ownership is read from the kernel itself, never from memory, so Cygnet survives
its own restarts and leaves other software's objects alone:

* XFRM policies and SAs carry :data:`OWNER_TAG` as their soft byte limit.  The
  kernel never enforces byte limits on policies, and on an SA the tag is about
  4.8 EB, far beyond any key's life;  ``ip -s xfrm policy`` shows it.
* routes and rules carry the routing protocol number :data:`RTPROT_CYGNET`;
* xfrm interfaces carry the alias :data:`LINK_ALIAS`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

OWNER_TAG = 0x4359474E45540000  # "CYGNET\0\0"
RTPROT_CYGNET = 151
LINK_ALIAS = "cygnet"

IPPROTO_ESP = 50

Direction = Literal["in", "out", "fwd"]
PolicyAction = Literal["allow", "block"]
Mode = Literal["tunnel", "transport"]


@dataclass(frozen=True)
class Selector:
    """What traffic an XFRM policy matches (``struct xfrm_selector``).

    Ports match under their masks, as the kernel does: ``sport & sport_mask ==
    sport``.  A mask of 0 matches every port.  For ICMP the kernel compares the
    type as the source port and the code as the destination port.
    """

    src: IPNetwork
    dst: IPNetwork
    proto: int = 0
    sport: int = 0
    sport_mask: int = 0
    dport: int = 0
    dport_mask: int = 0

    def __post_init__(self) -> None:
        if self.src.version != self.dst.version:
            raise ValueError("selector mixes IPv4 and IPv6")
        # Selectors key every policy; hashing ipaddress objects is slow enough to
        # dominate compiling large intents, so hash once.
        object.__setattr__(self, "_hash", hash((
            self.src, self.dst, self.proto, self.sport, self.sport_mask,
            self.dport, self.dport_mask,
        )))

    def __hash__(self) -> int:
        return self._hash

    @property
    def family(self) -> int:
        return self.src.version

    def __str__(self) -> str:
        text = f"src {self.src} dst {self.dst}"
        if self.proto:
            text += f" proto {self.proto}"
        if self.sport_mask:
            text += f" sport {self.sport}/{self.sport_mask:#06x}"
        if self.dport_mask:
            text += f" dport {self.dport}/{self.dport_mask:#06x}"
        return text


@dataclass(frozen=True)
class Template:
    """How a policy's traffic must be transformed (``struct xfrm_user_tmpl``).

    ``src`` and ``dst`` are the outer addresses in tunnel mode.  ``optional``
    (``level use`` in ``ip xfrm``) is False for everything Cygnet installs.
    """

    dst: IPAddress
    src: IPAddress
    reqid: int
    mode: Mode = "tunnel"
    proto: int = IPPROTO_ESP
    spi: int = 0
    optional: bool = False


@dataclass(frozen=True)
class XfrmPolicy:
    direction: Direction
    selector: Selector
    action: PolicyAction
    priority: int
    templates: tuple[Template, ...] = ()
    if_id: int = 0
    owned: bool = field(default=True, compare=False)
    index: int = field(default=0, compare=False)
    origin: str = field(default="", compare=False)

    def key(self) -> tuple:
        return ("policy", self.direction, self.selector, self.if_id)

    def __str__(self) -> str:
        text = f"policy {self.direction} {self.selector} {self.action} priority {self.priority}"
        for tmpl in self.templates:
            text += f" tmpl {tmpl.src}->{tmpl.dst} {tmpl.mode} reqid {tmpl.reqid}"
        if self.if_id:
            text += f" if_id {self.if_id}"
        return text


@dataclass(frozen=True)
class Aead:
    """An AEAD algorithm and key (``struct xfrm_algo_aead``)."""

    name: str
    key: bytes = field(repr=False)
    icv_bits: int = 128


@dataclass(frozen=True)
class XfrmState:
    """An SA (``struct xfrm_usersa_info`` with its attributes)."""

    src: IPAddress
    dst: IPAddress
    spi: int
    reqid: int
    aead: Aead
    mode: Mode = "tunnel"
    proto: int = IPPROTO_ESP
    replay_window: int = 32
    if_id: int = 0
    owned: bool = field(default=True, compare=False)
    origin: str = field(default="", compare=False)

    def key(self) -> tuple:
        return ("state", self.dst, self.spi, self.proto)

    def __str__(self) -> str:
        text = (
            f"state {self.src}->{self.dst} spi {self.spi:#010x} {self.mode} "
            f"reqid {self.reqid} {self.aead.name}"
        )
        if self.if_id:
            text += f" if_id {self.if_id}"
        return text


@dataclass(frozen=True)
class XfrmInterface:
    """A route-based tunnel's interface: ``ip link add NAME type xfrm if_id N``."""

    name: str
    if_id: int
    owned: bool = field(default=True, compare=False)
    origin: str = field(default="", compare=False)

    def key(self) -> tuple:
        return ("link", self.name)

    def __str__(self) -> str:
        return f"link {self.name} type xfrm if_id {self.if_id}"


@dataclass(frozen=True)
class Route:
    """``ip route replace DST [via VIA] dev DEV table TABLE proto cygnet``."""

    dst: IPNetwork
    dev: str
    table: int
    via: IPAddress | None = None
    owned: bool = field(default=True, compare=False)
    origin: str = field(default="", compare=False)

    def key(self) -> tuple:
        return ("route", self.table, self.dst)

    def __str__(self) -> str:
        via = f" via {self.via}" if self.via else ""
        return f"route {self.dst}{via} dev {self.dev} table {self.table}"


@dataclass(frozen=True)
class Rule:
    """``ip rule add from SRC to DST lookup TABLE pref PRIORITY proto cygnet``.

    With ``action="blackhole"`` the rule drops what reaches it (``ip rule add ...
    blackhole``) and ``table`` is 0: placed right after a lookup rule, it keeps a
    route-based tunnel's traffic from falling through to the main table when the
    tunnel's route is missing.
    """

    src: IPNetwork
    dst: IPNetwork
    table: int
    priority: int
    action: Literal["lookup", "blackhole"] = "lookup"
    owned: bool = field(default=True, compare=False)
    origin: str = field(default="", compare=False)

    def key(self) -> tuple:
        return ("rule", self.src.version, self.priority, self.src, self.dst)

    def __str__(self) -> str:
        target = "blackhole" if self.action == "blackhole" else f"lookup {self.table}"
        return f"rule from {self.src} to {self.dst} {target} pref {self.priority}"


KernelObject = Union[XfrmPolicy, XfrmState, XfrmInterface, Route, Rule]
