"""Send raw IPv4 ICMP echo frames out of an interface, below the IP stack and XFRM.

Run inside a namespace: ``python tests/inject.py IFNAME DST_MAC SRC_IP DST_IP COUNT``.
The frames never meet the sender's own policies, so they reach the next hop exactly
as an attacker on the wire would send them.
"""

import ipaddress
import socket
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def frame(src_mac: bytes, dst_mac: bytes, src: str, dst: str, seq: int) -> bytes:
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x4359, seq) + b"spoofed cleartext"
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq, 0, 64, 1, 0,
        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed,
    )
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return dst_mac + src_mac + b"\x08\x00" + header + icmp


def main() -> None:
    ifname, dst_mac, src, dst, count = sys.argv[1:6]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((ifname, 0))
    src_mac = sock.getsockname()[4]
    mac = bytes.fromhex(dst_mac.replace(":", ""))
    for seq in range(int(count)):
        sock.send(frame(src_mac, mac, src, dst, seq))


if __name__ == "__main__":
    main()
