"""The netlink driver: reads and changes one network namespace's datapath.

XFRM policies and SAs go over a ``NETLINK_XFRM`` socket
(:mod:`datapath.xfrm`); routes, rules and links through pyroute2's IPRoute.
Everything Cygnet writes carries the ownership marks of
:mod:`datapath.objects`, and every listing reads ownership back from the
kernel.  Each public verb names the ``ip`` command that does the same by hand.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from socket import AF_INET, AF_INET6

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netns import NETNS_RUN_DIR, setns

from .errors import KernelError, NamespaceError, is_gone
from .objects import (
    LINK_ALIAS,
    RTPROT_CYGNET,
    KernelObject,
    Route,
    Rule,
    Selector,
    XfrmInterface,
    XfrmPolicy,
    XfrmState,
)
from .xfrm import constants as c
from .xfrm import convert, fastpath
from .xfrm.messages import (
    encode_message,
    xfrm_dump_request,
    xfrm_usersa_id,
    xfrm_usersa_info,
)
from .xfrm.socket import XfrmSocket

log = logging.getLogger(__name__)

OPS = ("add", "update", "remove")
FAMILIES = {4: AF_INET, 6: AF_INET6}
FR_ACT_TO_TBL, FR_ACT_BLACKHOLE = 1, 6


class Kernel:
    """The datapath of the named network namespace (``ip netns``), or of the
    current one when ``netns`` is None.  Sockets open on first use."""

    def __init__(self, netns: str | None = None) -> None:
        if netns is not None and not os.path.exists(os.path.join(NETNS_RUN_DIR, netns)):
            raise NamespaceError(netns)
        self.netns = netns
        self._xfrm: XfrmSocket | None = None
        self._ipr: IPRoute | None = None

    def close(self) -> None:
        for sock in (self._xfrm, self._ipr):
            if sock is not None:
                sock.close()
        self._xfrm = self._ipr = None

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def xfrm(self) -> XfrmSocket:
        if self._xfrm is None:
            self._xfrm = self._open(XfrmSocket, netns=self.netns)
        return self._xfrm

    @property
    def ipr(self) -> IPRoute:
        if self._ipr is None:
            self._ipr = self._open(IPRoute, netns=self.netns, flags=0)
        return self._ipr

    def _open(self, kind, **kwargs):
        try:
            return kind(**kwargs)
        except FileNotFoundError as exc:  # the namespace went away meanwhile
            raise NamespaceError(self.netns or "") from exc

    # Listings ---------------------------------------------------------------

    def policies(self) -> list[XfrmPolicy]:
        """``ip xfrm policy list``: owned iff the soft byte limit is OWNER_TAG."""
        request = encode_message(xfrm_dump_request, c.XFRM_MSG_GETPOLICY, 0, {})
        policies = []
        with _listing("XFRM policies"):
            for data, offset, length, kind, _ in self.xfrm.raw_replies(
                request, dump=True
            ):
                if kind == c.XFRM_MSG_NEWPOLICY:
                    policy = fastpath.decode_policy_info(data, offset, length)
                    if policy is not None:
                        policies.append(policy)
        return policies

    def states(self) -> list[XfrmState]:
        """``ip xfrm state list``: owned iff the soft byte limit is OWNER_TAG."""
        return [convert.state_from(msg) for msg in self._sa_dump()]

    def _sa_dump(self):
        request = encode_message(xfrm_dump_request, c.XFRM_MSG_GETSA, 0, {})
        with _listing("XFRM SAs"):
            return [
                msg
                for msg in self.xfrm.replies(request, dump=True)
                if msg["header"]["type"] == c.XFRM_MSG_NEWSA
                and msg["family"] in (AF_INET, AF_INET6)
            ]

    def get_policy(
        self, direction: str, selector: Selector, if_id: int = 0
    ) -> XfrmPolicy | None:
        """``ip xfrm policy get dir DIR src .. dst .. [if_id N]``; None if absent."""
        request = fastpath.encode_policy_id(
            direction, selector, if_id, c.XFRM_MSG_GETPOLICY, 0
        )
        try:
            replies = self.xfrm.request(request)
        except NetlinkError as exc:
            if exc.code == errno.ENOENT:
                return None
            raise KernelError(
                exc.code, "get", f"policy {direction} {selector}"
            ) from exc
        return convert.policy_from(replies[0]) if replies else None

    def interfaces(self) -> list[XfrmInterface]:
        """``ip -d link show type xfrm``: owned iff the alias is LINK_ALIAS."""
        found = []
        for link in self.ipr.get_links():
            info = link.get_attr("IFLA_LINKINFO")
            if info is None or info.get_attr("IFLA_INFO_KIND") != "xfrm":
                continue
            data = info.get_attr("IFLA_INFO_DATA")
            if_id = data.get_attr("IFLA_XFRM_IF_ID") if data is not None else 0
            found.append(
                XfrmInterface(
                    name=link.get_attr("IFLA_IFNAME"),
                    if_id=if_id or 0,
                    owned=link.get_attr("IFLA_IFALIAS") == LINK_ALIAS,
                )
            )
        return found

    def routes(self) -> list[Route]:
        """``ip route show table all proto 151`` for IPv4 and IPv6."""
        names = self._link_names()
        found = []
        for family in (AF_INET, AF_INET6):
            for msg in self.ipr.route("dump", family=family):
                if msg["proto"] != RTPROT_CYGNET:
                    continue
                dst = msg.get_attr("RTA_DST") or (
                    "::" if family == AF_INET6 else "0.0.0.0"
                )
                via = msg.get_attr("RTA_GATEWAY")
                found.append(
                    Route(
                        dst=_network(dst, msg["dst_len"]),
                        dev=names.get(msg.get_attr("RTA_OIF"), ""),
                        table=msg.get_attr("RTA_TABLE") or msg["table"],
                        via=_address(via) if via else None,
                    )
                )
        return found

    def rules(self) -> list[Rule]:
        """``ip rule show proto 151`` for IPv4 and IPv6."""
        found = []
        for family in (AF_INET, AF_INET6):
            any_address = "::" if family == AF_INET6 else "0.0.0.0"
            for msg in self.ipr.rule("dump", family=family):
                if msg.get_attr("FRA_PROTOCOL") != RTPROT_CYGNET:
                    continue
                blackhole = msg["action"] == FR_ACT_BLACKHOLE
                found.append(
                    Rule(
                        src=_network(
                            msg.get_attr("FRA_SRC") or any_address, msg["src_len"]
                        ),
                        dst=_network(
                            msg.get_attr("FRA_DST") or any_address, msg["dst_len"]
                        ),
                        table=0
                        if blackhole
                        else msg.get_attr("FRA_TABLE") or msg["table"],
                        priority=msg.get_attr("FRA_PRIORITY") or 0,
                        action="blackhole" if blackhole else "lookup",
                    )
                )
        return found

    def _link_names(self) -> dict[int, str]:
        return {
            link["index"]: link.get_attr("IFLA_IFNAME") for link in self.ipr.get_links()
        }

    # Counters -----------------------------------------------------------------

    def xfrm_stats(self) -> dict[str, int]:
        """``ip netns exec NS cat /proc/net/xfrm_stat``: XfrmInTmplMismatch, ...

        Empty when the kernel keeps no XFRM statistics (CONFIG_XFRM_STATISTICS).
        """
        text = self._in_netns(_read_xfrm_stat)
        stats = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if value.strip().isdigit():
                stats[name] = int(value)
        return stats

    def _in_netns(self, func):
        """Run ``func`` in this namespace: in a thread of its own that enters it,
        so the rest of the process stays where it is."""
        if self.netns is None:
            return func()
        outcome: dict = {}

        def enter_and_run():
            try:
                setns(self.netns, flags=0)
                outcome["value"] = func()
            except BaseException as exc:  # handed back to the caller's thread
                outcome["error"] = exc

        thread = threading.Thread(target=enter_and_run, name=f"netns-{self.netns}")
        thread.start()
        thread.join()
        if "error" in outcome:
            if isinstance(outcome["error"], FileNotFoundError):
                raise NamespaceError(self.netns) from outcome["error"]
            raise outcome["error"]
        return outcome["value"]

    def state_stats(self) -> dict[tuple, tuple[int, int]]:
        """``ip -s xfrm state``: bytes and packets each SA has carried, by key()."""
        return {
            convert.state_from(msg).key(): (
                msg["curlft"]["bytes"],
                msg["curlft"]["packets"],
            )
            for msg in self._sa_dump()
        }

    # Changes --------------------------------------------------------------------

    def add(self, obj: KernelObject) -> None:
        """``ip xfrm policy add`` / ``ip xfrm state add`` / ``ip route replace`` /
        ``ip rule add`` / ``ip link add NAME type xfrm if_id N``, by type."""
        self._one("add", obj)

    def update(self, obj: KernelObject) -> None:
        """``ip xfrm policy update`` / ``ip xfrm state update`` /
        ``ip route replace`` / ``ip link set NAME type xfrm if_id N``.

        Rules cannot be updated in place: add the new one, then remove the old.
        An SA update changes its lifetimes only; the kernel keeps its keys.
        """
        self._one("update", obj)

    def remove(self, obj: KernelObject) -> None:
        """``ip xfrm policy delete`` / ``ip xfrm state delete`` / ``ip route del``
        / ``ip rule del`` / ``ip link del``.  Removing what is gone succeeds.

        Routes and rules are removed only with Cygnet's protocol number, and an
        interface only if it carries Cygnet's alias; policies and SAs are
        removed by key, so callers remove only what a listing showed as owned.
        """
        self._one("remove", obj)

    def _one(self, op: str, obj: KernelObject) -> None:
        errors = self.batch([(op, obj)])
        if errors:
            raise errors[0]

    def batch(self, ops: list[tuple[str, KernelObject]]) -> list[KernelError]:
        """Apply ``ops`` in order and return the failures (empty: all applied).

        Every op is checked and encoded first, so bad input raises ValueError
        and changes nothing.  Runs of XFRM ops go to the kernel many messages
        per ``sendmsg()``, each acknowledged; other kinds go one by one.  Like
        ``ip -force -batch``, a failure does not stop the ops after it.
        """
        encoded = [self._prepare(op, obj) for op, obj in ops]
        errors: list[KernelError] = []
        run: list[int] = []
        for index, (op, obj) in enumerate(ops):
            if encoded[index] is not None:
                run.append(index)
                continue
            if run:
                errors.extend(self._send_xfrm(ops, encoded, run))
                run = []
            error = self._apply_other(op, obj)
            if error is not None:
                errors.append(error)
        if run:
            errors.extend(self._send_xfrm(ops, encoded, run))
        return errors

    def _prepare(self, op: str, obj) -> bytes | None:
        """The XFRM message for ``op`` on ``obj``; None for other kinds."""
        if op not in OPS:
            raise ValueError(f"op {op!r} is unknown: use add, update or remove")
        if isinstance(obj, XfrmPolicy):
            if op == "remove":
                return fastpath.encode_policy_id(
                    obj.direction, obj.selector, obj.if_id, c.XFRM_MSG_DELPOLICY, 0
                )
            kind = c.XFRM_MSG_NEWPOLICY if op == "add" else c.XFRM_MSG_UPDPOLICY
            return fastpath.encode_policy_info(obj, kind, 0)
        if isinstance(obj, XfrmState):
            if op == "remove":
                fields = convert.state_id_fields(obj)
                return encode_message(xfrm_usersa_id, c.XFRM_MSG_DELSA, 0, fields)
            kind = c.XFRM_MSG_NEWSA if op == "add" else c.XFRM_MSG_UPDSA
            return encode_message(
                xfrm_usersa_info, kind, 0, convert.state_info_fields(obj)
            )
        if isinstance(obj, Rule) and op == "update":
            raise ValueError(
                f"rule {obj} cannot be updated in place: add the new rule, "
                "then remove the old one"
            )
        if isinstance(obj, XfrmInterface):
            _check_interface(obj)
        if not isinstance(obj, (Route, Rule, XfrmInterface)):
            raise ValueError(
                f"{type(obj).__name__} is not a kernel object Cygnet manages"
            )
        return None

    def _send_xfrm(self, ops, encoded, indexes: list[int]) -> Iterable[KernelError]:
        acks = self.xfrm.transact([encoded[i] for i in indexes])
        for index, ack in zip(indexes, acks, strict=True):
            op, obj = ops[index]
            if ack.errno and not is_gone(ack.errno, op):
                yield KernelError(ack.errno, op, obj, detail=ack.message)
            elif ack.errno:
                log.debug("%s %s: already gone", op, obj)
            else:
                log.info("%s %s", op, obj)

    def _apply_other(self, op: str, obj) -> KernelError | None:
        try:
            if isinstance(obj, Route):
                self._route(op, obj)
            elif isinstance(obj, Rule):
                self._rule(op, obj)
            else:
                self._link(op, obj)
        except KernelError as exc:
            return exc
        except NetlinkError as exc:
            if is_gone(exc.code, op):
                log.debug("%s %s: already gone", op, obj)
                return None
            return KernelError(exc.code, op, obj, detail=_netlink_detail(exc))
        log.info("%s %s", op, obj)
        return None

    def _route(self, op: str, route: Route) -> None:
        family = FAMILIES[route.dst.version]
        spec = dict(
            dst=str(route.dst), table=route.table, proto=RTPROT_CYGNET, family=family
        )
        if op == "remove":
            self.ipr.route("del", **spec)
            return
        # Both add and update replace: the route changes in place, never absent.
        spec["oif"] = self._index(route.dev)
        if route.via is not None:
            spec["gateway"] = str(route.via)
        self.ipr.route("replace", **spec)

    def _rule(self, op: str, rule: Rule) -> None:
        family = FAMILIES[rule.src.version]
        spec = dict(family=family, priority=rule.priority, protocol=RTPROT_CYGNET)
        for end, net in (("src", rule.src), ("dst", rule.dst)):
            if net.prefixlen:
                spec[end] = str(net.network_address)
                spec[f"{end}_len"] = net.prefixlen
        if rule.action == "blackhole":
            spec["action"] = FR_ACT_BLACKHOLE
        else:
            spec["action"] = FR_ACT_TO_TBL
            spec["table"] = rule.table
        self.ipr.rule("del" if op == "remove" else "add", **spec)

    def _link(self, op: str, link: XfrmInterface) -> None:
        if op == "remove":
            found = self.ipr.link_lookup(ifname=link.name)
            if not found:
                return
            alias = self.ipr.get_links(found[0])[0].get_attr("IFLA_IFALIAS")
            if alias != LINK_ALIAS:
                raise KernelError(
                    errno.EPERM,
                    "remove",
                    link,
                    hint=f"interface {link.name} is not Cygnet's (its alias is not "
                    f"{LINK_ALIAS!r}): leaving it alone",
                )
            self.ipr.link("del", index=found[0])
            return
        if op == "add":
            self.ipr.link("add", ifname=link.name, kind="xfrm", xfrm_if_id=link.if_id)
        else:
            index = self._index(link.name)
            self.ipr.link("set", index=index, kind="xfrm", xfrm_if_id=link.if_id)
        try:
            index = self._index(link.name)
            self.ipr.link("set", index=index, ifalias=LINK_ALIAS, state="up")
        except NetlinkError:
            if op == "add":  # an unmarked interface would look foreign: take it back
                self.ipr.link("del", ifname=link.name)
            raise

    def _index(self, name: str) -> int:
        found = self.ipr.link_lookup(ifname=name)
        if not found:
            raise NetlinkError(errno.ENODEV, f"no interface {name}")
        return found[0]


def _check_interface(link: XfrmInterface) -> None:
    if (
        not 0 < len(link.name) < 16
        or "/" in link.name
        or any(ch.isspace() for ch in link.name)
    ):
        raise ValueError(
            f"interface name {link.name!r} is not usable: give 1 to 15 characters "
            "without '/' or spaces"
        )
    if not isinstance(link.if_id, int) or not 0 < link.if_id <= 0xFFFFFFFF:
        raise ValueError(
            f"interface {link.name} if_id {link.if_id!r} is out of range: the kernel "
            "takes 1..4294967295"
        )


@contextmanager
def _listing(what: str):
    """Turn a failed dump into a KernelError (op "list") with its hint."""
    try:
        yield
    except NetlinkError as exc:
        raise KernelError(exc.code, "list", what, detail=_netlink_detail(exc)) from exc


def _read_xfrm_stat() -> str:
    try:
        with open("/proc/thread-self/net/xfrm_stat") as stats:
            return stats.read()
    except FileNotFoundError:
        return ""


def _network(address: str, prefixlen: int):
    return ipaddress.ip_network(f"{address}/{prefixlen}", strict=False)


def _address(address: str):
    return ipaddress.ip_address(address)


def _netlink_detail(exc: NetlinkError) -> str:
    text = exc.args[1] if len(exc.args) > 1 else ""
    return "" if not text or text == os.strerror(exc.code) else str(text)
