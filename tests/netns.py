"""Throwaway network namespaces and veth pairs for root tests.

Use it as a context manager, so the namespaces go away even when the test
fails::

    with Namespaces() as spaces:
        a, b = spaces.add("a"), spaces.add("b")
        spaces.veth("a", "eth0", "b", "eth0", "10.77.0.1/24", "10.77.0.2/24")
        spaces.ip("a", "route")            # ip -n <a> route

Names passed in are short labels; :meth:`Namespaces.add` returns the real
namespace name, which carries a prefix unique to this process and instance,
so parallel runs never collide.  Every interface lives inside a namespace from
creation (``ip link add ... netns``), so nothing is left in the host's
namespace if a test dies half-way.  :func:`skip_reason` says why namespaces
cannot be made here (not root, no ``ip``), for ``pytest.mark.skipif``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess

_instances = itertools.count()


def skip_reason() -> str | None:
    """Why this process cannot create namespaces, or None when it can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's ip command"
    return None


def run(*args: str, check: bool = True) -> str:
    """Run a command; return its stdout, raise with its stderr on failure."""
    done = subprocess.run(args, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


class Namespaces:
    """A set of namespaces created together and destroyed together."""

    def __init__(self, prefix: str = "cygt") -> None:
        self.prefix = f"{prefix}{os.getpid()}-{next(_instances)}-"
        self.names: dict[str, str] = {}

    def __enter__(self) -> Namespaces:
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()

    def add(self, label: str) -> str:
        """Create namespace ``label`` with its loopback up; return its real name."""
        name = self.prefix + label
        run("ip", "netns", "add", name)
        self.names[label] = name
        run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def __getitem__(self, label: str) -> str:
        return self.names[label]

    def veth(
        self,
        a: str,
        a_if: str,
        b: str,
        b_if: str,
        a_addr: str | None = None,
        b_addr: str | None = None,
    ) -> None:
        """Join namespaces ``a`` and ``b`` (labels; may be the same) with a veth
        pair, bring both ends up and give them the optional addresses (CIDR)."""
        run(
            "ip",
            "-n",
            self[a],
            "link",
            "add",
            a_if,
            "type",
            "veth",
            "peer",
            "name",
            b_if,
            "netns",
            self[b],
        )
        for label, ifname, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            if addr:
                self.address(label, ifname, addr)
            self.ip(label, "link", "set", ifname, "up")

    def address(self, label: str, ifname: str, cidr: str) -> None:
        """``ip addr add``; IPv6 addresses skip duplicate detection (usable now)."""
        extra = ["nodad"] if ":" in cidr else []
        self.ip(label, "addr", "add", cidr, "dev", ifname, *extra)

    def ip(self, label: str, *args: str, check: bool = True) -> str:
        """``ip -n <namespace> ARGS``; returns stdout."""
        return run("ip", "-n", self[label], *args, check=check)

    def exec(self, label: str, *args: str, check: bool = True) -> str:
        """``ip netns exec <namespace> ARGS``; returns stdout."""
        return run("ip", "netns", "exec", self[label], *args, check=check)

    def destroy(self) -> None:
        """Delete every namespace made here (their interfaces go with them)."""
        for name in self.names.values():
            run("ip", "netns", "del", name, check=False)
        self.names.clear()
