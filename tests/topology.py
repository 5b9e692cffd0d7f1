"""FreeS/WAN's bug-list topology in network namespaces, for tests that send packets.

::

    s ==== x ......... y ==== t
    10.1.0.2  outside    \\=== u 10.3.0.2
              192.0.2.1/.2    10.2.0.2

Gateways x and y forward; hosts s, t and u route through them.  ``x`` and ``y``
are joined by two outside links (``192.0.2.0/24`` and ``198.51.100.0/24``) so a
route can be moved from one to the other under traffic.  Every namespace name
carries a per-topology prefix, and :meth:`Topology.destroy` removes them all.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

SUBNETS = {"s": "10.1.0", "t": "10.2.0", "u": "10.3.0"}
BEHIND = {"s": "x", "t": "y", "u": "y"}
OUTSIDE = {"x": "192.0.2.1", "y": "192.0.2.2"}
OUTSIDE2 = {"x": "198.51.100.1", "y": "198.51.100.2"}


def can_build() -> str | None:
    """Why namespaces can't be built here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's ip"
    if shutil.which("tcpdump") is None:
        return "needs tcpdump to see what crosses the wire (apt-get install tcpdump)"
    return None


def sh(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, **kwargs)


class Topology:
    def __init__(self) -> None:
        self.prefix = f"cyg{os.getpid() % 100000}{int(time.time() * 1000) % 1000}"
        self.created: list[str] = []

    def ns(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def build(self) -> Topology:
        try:
            for name in ("s", "t", "u", "x", "y"):
                sh("ip", "netns", "add", self.ns(name))
                self.created.append(self.ns(name))
                self.ip(name, "link", "set", "lo", "up")
            for host, prefix in SUBNETS.items():
                gw = BEHIND[host]
                self._link(host, "eth0", f"{prefix}.2/24", gw, f"in-{host}", f"{prefix}.1/24")
                self.ip(host, "route", "add", "default", "via", f"{prefix}.1")
            self._link("x", "out", "192.0.2.1/24", "y", "out", "192.0.2.2/24")
            self._link("x", "out2", "198.51.100.1/24", "y", "out2", "198.51.100.2/24")
            for gw in ("x", "y"):
                self.exec(gw, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            for host in ("t", "u"):
                self.ip("x", "route", "add", f"{SUBNETS[host]}.0/24", "via", "192.0.2.2")
            self.ip("y", "route", "add", "10.1.0.0/24", "via", "192.0.2.1")
        except BaseException:
            self.destroy()
            raise
        return self

    def _link(self, a: str, a_if: str, a_addr: str, b: str, b_if: str, b_addr: str):
        tmp_a, tmp_b = f"{self.prefix}a", f"{self.prefix}b"
        sh("ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
        sh("ip", "link", "set", tmp_a, "netns", self.ns(a), "name", a_if)
        sh("ip", "link", "set", tmp_b, "netns", self.ns(b), "name", b_if)
        for ns, ifname, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            self.ip(ns, "addr", "add", addr, "dev", ifname)
            self.ip(ns, "link", "set", ifname, "up")

    def destroy(self) -> None:
        for name in self.created:
            sh("ip", "netns", "del", name, check=False)
        self.created.clear()

    def ip(self, ns: str, *args: str) -> str:
        return sh("ip", "-n", self.ns(ns), *args).stdout

    def exec(self, ns: str, *args: str, check: bool = True, **kw):
        return sh("ip", "netns", "exec", self.ns(ns), *args, check=check, **kw)

    def popen(self, ns: str, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.ns(ns), *args], **kw)

    def ping(self, src: str, dst: str, count: int = 2, wait: float = 1.0,
             interval: float | None = None) -> tuple[int, int]:
        """(sent, received) for ``count`` pings from host ``src`` to host ``dst``."""
        args = ["ping", "-n", "-q", "-c", str(count), "-W", str(wait)]
        if interval is not None:
            args += ["-i", str(interval)]
        out = self.exec(src, *args, f"{SUBNETS[dst]}.2", check=False).stdout
        for line in out.splitlines():
            if "packets transmitted" in line:
                parts = line.split(",")
                return int(parts[0].split()[0]), int(parts[1].split()[0])
        raise AssertionError(f"no ping summary in {out!r}")

    def steady_ping(self, src: str, dst_addr: str) -> subprocess.Popen:
        """A ping every 10 ms from host ``src`` until :func:`stop_ping`."""
        return self.popen(
            src, "ping", "-n", "-q", "-i", "0.01", "-W", "1", dst_addr,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def xfrm_stat(self, ns: str, name: str) -> int:
        text = self.exec(ns, "cat", "/proc/net/xfrm_stat").stdout
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value.split()[0] if value.split() else 0)
        raise KeyError(name)


class Capture:
    """tcpdump on one interface of one namespace; counts what crossed it."""

    def __init__(self, topo: Topology, ns: str, ifname: str, bpf: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cygnet-cap-"))
        self.file = self.dir / "cap.pcap"
        self.proc = topo.popen(
            ns, "tcpdump", "-i", ifname, "-n", "-U", "-w", str(self.file), bpf,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 5
        while not self.file.exists() and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not self.file.exists():
            # A capture that never started would see nothing and prove nothing.
            self.proc.kill()
            error = self.proc.communicate()[1].decode(errors="replace").strip()
            raise RuntimeError(f"tcpdump did not start on {ns}/{ifname}: {error}")
        time.sleep(0.2)

    def stop(self) -> list[str]:
        time.sleep(0.3)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=5)
        out = sh("tcpdump", "-n", "-r", str(self.file), check=False).stdout
        shutil.rmtree(self.dir, ignore_errors=True)
        return [line for line in out.splitlines() if line.strip()]


def stop_ping(proc: subprocess.Popen) -> tuple[int, int]:
    """Stop a :meth:`Topology.steady_ping`; (sent, received)."""
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    match = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert match, out
    return int(match.group(1)), int(match.group(2))
