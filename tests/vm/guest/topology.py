"""The bug list's topology in network namespaces, built fresh for each test.

::

    s ==== x ........ y ==== t
     10.1.0.0/24   |   \\=== u   10.2.0.0/24 (t), 10.3.0.0/24 (u)
                   m
        x 192.0.2.1, y 192.0.2.2, m 192.0.2.66 on the "outside" link

The outside link is a bridge ``br0`` in namespace ``w`` (the wire): x, y and the
intruder m each have one port on it, so a capture on ``br0`` sees everything
that crosses between the gateways, and m can inject packets onto it.  x and y
forward; s, t and u route everything through their gateway.  IPv6 is off
everywhere so captures hold only what the tests send.
"""

from __future__ import annotations

import ipaddress
import logging
import subprocess
from dataclasses import dataclass, field
from typing import Self

log = logging.getLogger(__name__)

PREFIX = "cy-"
HOSTS = ("s", "t", "u", "x", "y", "w", "m")

S_NET = ipaddress.ip_network("10.1.0.0/24")
T_NET = ipaddress.ip_network("10.2.0.0/24")
U_NET = ipaddress.ip_network("10.3.0.0/24")
OUTSIDE = ipaddress.ip_network("192.0.2.0/24")

ADDRESS = {
    "s": ipaddress.ip_address("10.1.0.10"),
    "t": ipaddress.ip_address("10.2.0.10"),
    "u": ipaddress.ip_address("10.3.0.10"),
    "x": ipaddress.ip_address("192.0.2.1"),
    "y": ipaddress.ip_address("192.0.2.2"),
    "m": ipaddress.ip_address("192.0.2.66"),
}
# The gateways' addresses on their inside links.
X_LAN = ipaddress.ip_address("10.1.0.1")
Y_T_LAN = ipaddress.ip_address("10.2.0.1")
Y_U_LAN = ipaddress.ip_address("10.3.0.1")


class CommandFailed(RuntimeError):
    pass


def run(
    args: list[str],
    *,
    check: bool = True,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess:
    """Run a command, returning its output; a failure names the command."""
    proc = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, input=input, check=False
    )
    if check and proc.returncode != 0:
        raise CommandFailed(
            f"{' '.join(args)} exited {proc.returncode}: "
            f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
        )
    return proc


def ip_batch(
    lines: list[str], netns: str | None = None, *, force: bool = False
) -> None:
    """Run many ``ip`` commands in one process (process starts are slow under TCG)."""
    if not lines:
        return
    args = ["ip"]
    if netns:
        args += ["-n", netns]
    if force:
        args.append("-force")
    run(args + ["-batch", "-"], input="\n".join(lines) + "\n", timeout=600)


@dataclass
class Topology:
    """Handles on the namespaces; ``ns("x")`` is x's namespace name."""

    prefix: str = PREFIX
    # Hosts a test adds beyond HOSTS (peer gateways); destroyed with the rest.
    extra_hosts: list[str] = field(default_factory=list)

    def ns(self, host: str) -> str:
        return self.prefix + host

    def exec_args(self, host: str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns(host), *args]

    def run(
        self, host: str, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        return run(self.exec_args(host, *args), check=check, timeout=timeout)

    def popen(self, host: str, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.exec_args(host, *args), **kwargs)

    def ip(self, host: str, *lines: str) -> None:
        ip_batch(list(lines), self.ns(host))

    def sysctl(self, host: str, **values: str | int) -> None:
        args = [f"{k.replace('__', '.')}={v}" for k, v in values.items()]
        self.run(host, "sysctl", "-q", "-w", *args)

    # Building and tearing down.

    def build(self) -> Topology:
        self.destroy()
        n = self.ns
        ip_batch([f"netns add {n(h)}" for h in HOSTS])
        ip_batch(
            [
                # inside links
                f"link add eth0 netns {n('s')} type veth peer name lan0 netns {n('x')}",
                f"link add eth0 netns {n('t')} type veth peer name t0 netns {n('y')}",
                f"link add eth0 netns {n('u')} type veth peer name u0 netns {n('y')}",
                # the outside link: one bridge port each for x, y and the intruder m
                f"link add out0 netns {n('x')} type veth peer name px netns {n('w')}",
                f"link add out0 netns {n('y')} type veth peer name py netns {n('w')}",
                f"link add out0 netns {n('m')} type veth peer name pm netns {n('w')}",
            ]
        )
        for host in HOSTS:
            self.sysctl(
                host,
                net__ipv6__conf__all__disable_ipv6=1,
                net__ipv6__conf__default__disable_ipv6=1,
            )
        self.ip(
            "w",
            "link add br0 type bridge forward_delay 0 stp_state 0",
            "link set br0 up",
            "link set lo up",
            *[f"link set {p} master br0 up" for p in ("px", "py", "pm")],
        )
        self.ip(
            "s",
            "link set lo up",
            "link set eth0 up",
            f"addr add {ADDRESS['s']}/24 dev eth0",
            f"route add default via {X_LAN}",
        )
        self.ip(
            "t",
            "link set lo up",
            "link set eth0 up",
            f"addr add {ADDRESS['t']}/24 dev eth0",
            f"route add default via {Y_T_LAN}",
        )
        self.ip(
            "u",
            "link set lo up",
            "link set eth0 up",
            f"addr add {ADDRESS['u']}/24 dev eth0",
            f"route add default via {Y_U_LAN}",
        )
        self.ip(
            "x",
            "link set lo up",
            "link set lan0 up",
            "link set out0 up",
            f"addr add {X_LAN}/24 dev lan0",
            f"addr add {ADDRESS['x']}/24 dev out0",
            f"route add {T_NET} via {ADDRESS['y']}",
            f"route add {U_NET} via {ADDRESS['y']}",
        )
        self.ip(
            "y",
            "link set lo up",
            "link set t0 up",
            "link set u0 up",
            "link set out0 up",
            f"addr add {Y_T_LAN}/24 dev t0",
            f"addr add {Y_U_LAN}/24 dev u0",
            f"addr add {ADDRESS['y']}/24 dev out0",
            f"route add {S_NET} via {ADDRESS['x']}",
        )
        self.ip(
            "m",
            "link set lo up",
            "link set out0 up",
            f"addr add {ADDRESS['m']}/24 dev out0",
        )
        for gateway in ("x", "y"):
            self.sysctl(gateway, net__ipv4__ip_forward=1)
        log.info("topology built in namespaces %s*", self.prefix)
        return self

    def destroy(self) -> None:
        existing = set(run(["ip", "netns", "list"]).stdout.split())
        doomed = [
            self.ns(h) for h in (*HOSTS, *self.extra_hosts) if self.ns(h) in existing
        ]
        # Processes left in a namespace would keep it alive: end them first.
        for name in doomed:
            pids = run(["ip", "netns", "pids", name], check=False).stdout.split()
            if pids:
                run(["kill", "-9", *pids], check=False)
        ip_batch([f"netns del {name}" for name in doomed], force=True)

    def add_outside_host(self, host: str, address, *lines: str) -> None:
        """A further namespace with one port on the outside link at ``address``
        (a /24 in OUTSIDE), then ``lines`` of ``ip`` commands run in it."""
        port = f"p{host}"[:15]
        self.extra_hosts.append(host)
        veth = (
            f"link add out0 netns {self.ns(host)} type veth peer name {port} "
            f"netns {self.ns('w')}"
        )
        ip_batch([f"netns add {self.ns(host)}", veth])
        self.ip("w", f"link set {port} master br0 up")
        self.sysctl(
            host,
            net__ipv6__conf__all__disable_ipv6=1,
            net__ipv6__conf__default__disable_ipv6=1,
        )
        self.ip(
            host,
            "link set lo up",
            "link set out0 up",
            f"addr add {address}/24 dev out0",
            *lines,
        )

    def __enter__(self) -> Self:
        return self.build()

    def __exit__(self, *exc) -> None:
        self.destroy()
