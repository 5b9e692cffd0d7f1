"""Traffic between the topology's hosts: pings, steady flows, a TCP transfer.

Sockets are opened in a namespace by a short-lived thread that enters it
(``setns`` changes only the calling thread), so one Python process can talk from
s to t without starting an interpreter per namespace, which costs seconds under
TCG.  Pings and flows use iputils ``ping``: a C sender keeps an even rate where
Python would stutter.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Self

from .topology import Topology

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(ns: str, fn, *args):
    """Call ``fn(*args)`` on a thread inside namespace ``ns``; return its result."""
    box: dict = {}

    def enter() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {ns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            box["result"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=enter)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def netns_socket(
    topo: Topology,
    host: str,
    family=socket.AF_INET,
    type=socket.SOCK_DGRAM,
    proto: int = 0,
) -> socket.socket:
    return in_netns(topo.ns(host), socket.socket, family, type, proto)


_REPLY = re.compile(r"icmp_seq=(\d+)")
_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")
_DUPS = re.compile(r"\+(\d+) duplicates")
_RTT = re.compile(r"= [\d.]+/([\d.]+)/")


@dataclass
class PingResult:
    transmitted: int
    received: int
    duplicates: int
    replied: set[int]
    rtt_avg_ms: float | None
    errors: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def lost(self) -> int:
        return self.transmitted - self.received


def parse_ping(text: str) -> PingResult:
    replied: set[int] = set()
    errors = []
    for line in text.splitlines():
        if " bytes from " in line:
            match = _REPLY.search(line)
            if match:
                replied.add(int(match.group(1)))
        elif line.startswith("From ") or "local error" in line or "sendmsg" in line:
            errors.append(line.strip())
    summary = _SUMMARY.search(text)
    if summary is None:
        raise RuntimeError(f"ping printed no summary:\n{text[-2000:]}")
    dups = _DUPS.search(text)
    rtt = _RTT.search(text)
    return PingResult(
        transmitted=int(summary.group(1)),
        received=int(summary.group(2)),
        duplicates=int(dups.group(1)) if dups else 0,
        replied=replied,
        rtt_avg_ms=float(rtt.group(1)) if rtt else None,
        errors=errors,
        output=text,
    )


def ping(
    topo: Topology,
    host: str,
    dst,
    count: int = 5,
    interval: float = 0.2,
    size: int | None = None,
    *extra: str,
    wait: float = 3,
    timeout: float = 300,
) -> PingResult:
    """``ping -c COUNT`` from ``host``; replies wait at most ``wait`` s each."""
    args = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(wait)]
    if size is not None:
        args += ["-s", str(size)]
    proc = topo.run(host, *args, *extra, str(dst), check=False, timeout=timeout)
    return parse_ping(proc.stdout + proc.stderr)


class Flow:
    """A steady ping from ``host`` to ``dst`` until :meth:`stop`.

    Loss is counted per sequence number over every request sent more than
    ``tail`` seconds before the stop, so replies still in flight when the flow
    is stopped are not mistaken for losses.
    """

    def __init__(
        self, topo: Topology, host: str, dst, interval: float = 0.01, tail: float = 1.0
    ):
        self.topo = topo
        self.host = host
        self.dst = dst
        self.interval = interval
        self.tail = tail
        self.result: PingResult | None = None
        self.lost: list[int] = []
        self._proc: subprocess.Popen | None = None
        self._log = None
        self.started = 0.0
        self.duration = 0.0

    def start(self) -> Flow:
        # Open for the flow's whole life; stop() closes and removes it.
        path = f"/run/flow-{self.host}-{os.getpid()}-{id(self)}.log"
        self._log = open(path, "w+")  # noqa: SIM115
        self._proc = self.topo.popen(
            self.host,
            "ping",
            "-n",
            "-i",
            str(self.interval),
            "-W",
            "2",
            str(self.dst),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.started = time.monotonic()
        return self

    def wait_until_flowing(self, timeout: float = 30) -> None:
        """Wait for the first reply, so the flow is known to work before a test acts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._log.seek(0)
            if " bytes from " in self._log.read():
                return
            if self._proc.poll() is not None:
                break
            time.sleep(0.2)
        self._log.seek(0)
        raise RuntimeError(
            f"flow {self.host}->{self.dst} never got a reply:\n"
            f"{self._log.read()[-2000:]}"
        )

    def stop(self) -> PingResult:
        # Run past the tail so that every counted request had time to be answered.
        time.sleep(self.tail)
        self.duration = time.monotonic() - self.started
        self._proc.send_signal(signal.SIGINT)
        self._proc.wait(timeout=60)
        self._log.seek(0)
        text = self._log.read()
        self._log.close()
        os.unlink(self._log.name)
        result = parse_ping(text)
        counted = max(0, result.transmitted - int(self.tail / self.interval))
        self.lost = [seq for seq in range(1, counted + 1) if seq not in result.replied]
        self.result = result
        return result

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def tcp_transfer(
    topo: Topology,
    src: str,
    dst: str,
    dst_addr,
    size: int,
    port: int = 5001,
    timeout: float = 600,
) -> dict:
    """Send ``size`` random bytes over TCP from ``src`` to ``dst``; compare SHA-256."""
    data = os.urandom(size)
    sent_digest = hashlib.sha256(data).hexdigest()
    server = netns_socket(topo, dst, type=socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(1)
    server.settimeout(timeout)
    received = {"digest": None, "bytes": 0}

    def serve() -> None:
        conn, _ = server.accept()
        conn.settimeout(timeout)
        digest = hashlib.sha256()
        with conn:
            while chunk := conn.recv(1 << 16):
                digest.update(chunk)
                received["bytes"] += len(chunk)
        received["digest"] = digest.hexdigest()

    thread = threading.Thread(target=serve)
    thread.start()
    client = netns_socket(topo, src, type=socket.SOCK_STREAM)
    client.settimeout(timeout)
    started = time.monotonic()
    try:
        client.connect((str(dst_addr), port))
        client.sendall(data)
        client.shutdown(socket.SHUT_WR)
        thread.join(timeout)
    finally:
        client.close()
        server.close()
    seconds = time.monotonic() - started
    return {
        "bytes_sent": size,
        "bytes_received": received["bytes"],
        "sha256_match": received["digest"] == sent_digest,
        "seconds": round(seconds, 2),
        "mbit_per_s": round(size * 8 / seconds / 1e6, 2),
    }


class UdpFlow:
    """One-way UDP datagrams with sequence numbers from ``src`` to ``dst_addr``.

    For paths whose replies could not come back the same way (a failover moves
    only one direction).  A sender thread paces datagrams every ``interval``
    seconds; a receiver thread in ``dst`` records each sequence number and keeps
    listening ``tail`` seconds after the sender stops, so every datagram sent is
    either received or lost.
    """

    def __init__(
        self,
        topo: Topology,
        src: str,
        dst: str,
        dst_addr,
        port: int = 6000,
        interval: float = 0.005,
        tail: float = 1.0,
    ):
        self.interval = interval
        self.tail = tail
        self.addr = (str(dst_addr), port)
        self.rx = netns_socket(topo, dst)
        self.rx.bind(("0.0.0.0", port))
        self.rx.settimeout(0.2)
        self.tx = netns_socket(topo, src)
        self.sent = 0
        self.send_errors = 0
        self.received: set[int] = set()
        self.duplicates = 0
        self.lost: list[int] = []
        self._sending = threading.Event()
        self._receiving = threading.Event()
        self._sender = threading.Thread(target=self._send)
        self._receiver = threading.Thread(target=self._receive)

    def _send(self) -> None:
        next_at = time.monotonic()
        while self._sending.is_set():
            try:
                self.tx.sendto(self.sent.to_bytes(4, "big") + b"cygnet-flow", self.addr)
            except OSError:
                self.send_errors += 1
            self.sent += 1
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:  # fell behind (TCG hiccup): keep the rate, do not burst
                next_at = time.monotonic()

    def _receive(self) -> None:
        while self._receiving.is_set():
            try:
                data = self.rx.recv(64)
            except TimeoutError:
                continue
            seq = int.from_bytes(data[:4], "big")
            if seq in self.received:
                self.duplicates += 1
            self.received.add(seq)

    def start(self) -> UdpFlow:
        self._sending.set()
        self._receiving.set()
        self._receiver.start()
        self._sender.start()
        return self

    def wait_until_flowing(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.received:
            if time.monotonic() > deadline:
                raise RuntimeError(f"UDP flow to {self.addr} never arrived")
            time.sleep(0.1)

    def stop(self) -> None:
        self._sending.clear()
        self._sender.join()
        time.sleep(self.tail)
        self._receiving.clear()
        self._receiver.join()
        self.tx.close()
        self.rx.close()
        self.lost = [seq for seq in range(self.sent) if seq not in self.received]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        if self._sending.is_set() or self._receiving.is_set():
            self.stop()
