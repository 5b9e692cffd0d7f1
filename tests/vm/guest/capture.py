"""What was on the wire: tcpdump in a namespace, its pcap read back here.

tcpdump does the capturing (a C program keeps up under TCG where a Python loop
would not); this module only parses the classic pcap format it writes, down to
the IPv4 header, which is all the verdicts need: ESP or not, source, destination,
IP options.

A capture that the kernel dropped packets from cannot prove that something was
absent, so :attr:`Capture.dropped` is reported and checked by the tests.
"""

from __future__ import annotations

import ipaddress
import os
import re
import select
import signal
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Self

from .topology import Topology

ETH_P_IP = 0x0800
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ESP = 50


@dataclass(frozen=True)
class Packet:
    time: float
    src: ipaddress.IPv4Address
    dst: ipaddress.IPv4Address
    proto: int
    length: int  # IPv4 total length
    options: bytes  # IPv4 header options, b"" when there are none
    more_fragments: bool
    fragment_offset: int
    payload: bytes  # what follows the IPv4 header, as far as it was captured

    @property
    def is_esp(self) -> bool:
        return self.proto == IPPROTO_ESP

    @property
    def dport(self) -> int | None:
        if self.proto in (IPPROTO_TCP, IPPROTO_UDP) and len(self.payload) >= 4:
            return struct.unpack("!H", self.payload[2:4])[0]
        return None

    @property
    def option_types(self) -> list[int]:
        """The IP options' types in order, padding (NOP, end of list) left out."""
        types, i = [], 0
        while i < len(self.options):
            kind = self.options[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            types.append(kind)
            length = self.options[i + 1] if i + 1 < len(self.options) else 0
            i += max(length, 2)
        return types

    def between(self, a, b) -> bool:
        """True when the packet goes from network ``a`` to ``b`` or back."""
        return (self.src in a and self.dst in b) or (self.src in b and self.dst in a)


def read_pcap(path: str) -> list[Packet]:
    """The IPv4 packets of an Ethernet pcap file (``tcpdump -w``)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xA1B2C3D4:
        endian, tick = "<", 1e-6
    elif magic == 0xA1B23C4D:
        endian, tick = "<", 1e-9
    elif magic == 0xD4C3B2A1:
        endian, tick = ">", 1e-6
    else:
        raise ValueError(f"{path}: not a pcap file (magic {magic:#x})")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError(f"{path}: link type {linktype} is not Ethernet")

    packets = []
    offset = 24
    record = struct.Struct(endian + "IIII")
    while offset + 16 <= len(data):
        sec, frac, caplen, _ = record.unpack_from(data, offset)
        frame = data[offset + 16 : offset + 16 + caplen]
        offset += 16 + caplen
        if len(frame) < 34 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total, frag = struct.unpack("!H2xH", ip[2:8])
        packets.append(
            Packet(
                time=sec + frac * tick,
                src=ipaddress.IPv4Address(ip[12:16]),
                dst=ipaddress.IPv4Address(ip[16:20]),
                proto=ip[9],
                length=total,
                options=bytes(ip[20:ihl]),
                more_fragments=bool(frag & 0x2000),
                fragment_offset=(frag & 0x1FFF) * 8,
                payload=bytes(ip[ihl:]),
            )
        )
    return packets


class Capture:
    """``tcpdump`` on one interface of one namespace, as a context manager.

    ``write=False`` only counts matching packets (``-w /dev/null``): long flows
    of ESP need counting, not parsing.
    """

    def __init__(
        self,
        topo: Topology,
        host: str = "w",
        dev: str = "br0",
        bpf: str = "ip",
        *,
        write: bool = True,
        snaplen: int = 256,
    ):
        self.topo = topo
        self.host = host
        self.dev = dev
        self.bpf = bpf
        self.write = write
        self.snaplen = snaplen
        self.path = ""
        self.captured = 0
        self.dropped = 0
        self._proc: subprocess.Popen | None = None
        self._packets: list[Packet] | None = None

    def start(self) -> Capture:
        if self.write:
            fd, self.path = tempfile.mkstemp(prefix="wire-", suffix=".pcap", dir="/run")
            os.close(fd)
        target = self.path if self.write else "/dev/null"
        self._proc = self.topo.popen(
            self.host,
            "tcpdump",
            "-i",
            self.dev,
            "-n",
            "-U",
            "-s",
            str(self.snaplen),
            "-B",
            "8192",
            "-Z",
            "root",
            "--immediate-mode",
            "-w",
            target,
            self.bpf,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # tcpdump says "listening on" once its socket is bound and filtering.
        deadline = time.monotonic() + 60
        seen = b""
        while b"listening on" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or self._proc.poll() is not None:
                self._proc.kill()
                raise RuntimeError(
                    f"tcpdump on {self.host}/{self.dev} did not start: "
                    f"{seen.decode(errors='replace')}"
                )
            ready, _, _ = select.select([self._proc.stderr], [], [], left)
            if ready:
                seen += os.read(self._proc.stderr.fileno(), 4096)
        return self

    def stop(self) -> Capture:
        proc = self._proc
        if proc is None:
            return self
        self._proc = None
        # Let packets still in flight through the stack reach the socket.
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        text = err.decode(errors="replace")
        captured = re.search(r"(\d+) packets? captured", text)
        dropped = re.search(r"(\d+) packets? dropped by kernel", text)
        if captured is None:
            raise RuntimeError(f"tcpdump on {self.host}/{self.dev} ended badly: {text}")
        self.captured = int(captured.group(1))
        self.dropped = int(dropped.group(1)) if dropped else 0
        return self

    def packets(self) -> list[Packet]:
        if not self.write:
            raise RuntimeError("a counting capture keeps no packets")
        if self._packets is None:
            self._packets = read_pcap(self.path)
            os.unlink(self.path)
        return self._packets

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Wire:
    """Everything between x and y: cleartext kept packet by packet, ESP counted.

    Two tcpdumps share the bridge: one writes every IPv4 packet that is not ESP,
    one counts ESP.  ``wire.clear(S_NET, U_NET)`` is then the cleartext seen
    between the two subnets, either way.
    """

    def __init__(self, topo: Topology):
        self.clear_capture = Capture(topo, bpf="ip and not ip proto 50")
        self.esp_capture = Capture(topo, bpf="ip proto 50", write=False)

    def __enter__(self) -> Self:
        self.esp_capture.start()
        try:
            self.clear_capture.start()
        except Exception:
            self.esp_capture.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.clear_capture.stop()
        self.esp_capture.stop()

    @property
    def esp(self) -> int:
        return self.esp_capture.captured

    @property
    def dropped(self) -> int:
        return self.clear_capture.dropped + self.esp_capture.dropped

    def clear(self, a, b) -> list[Packet]:
        return [p for p in self.clear_capture.packets() if p.between(a, b)]
