"""A ``NETLINK_XFRM`` socket: pyroute2's netlink socket with the XFRM marshal,
plus the batched request/acknowledge exchange Cygnet's fast path needs.

pyroute2 runs each request through an asyncio queue, one message at a time.
:meth:`XfrmSocket.transact` instead writes many messages in one ``sendmsg()``,
each with ``NLM_F_ACK``, and matches the acknowledgements to the messages by
sequence number.  The kernel handles every message of a ``sendmsg()`` before
the call returns, failing ones included, so their answers are already queued
when it returns.
"""

from __future__ import annotations

import errno
import itertools
import logging
import select
import struct
from dataclasses import dataclass

from pyroute2.netlink import (
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.nlsocket import AsyncNetlinkSocket, NetlinkSocket

from .constants import NETLINK_XFRM
from .messages import MarshalXfrm

log = logging.getLogger(__name__)

NLM_F_CAPPED = 0x100  # the error message echoes only the request's header
NLM_F_ACK_TLVS = 0x200  # extended acknowledgement attributes follow
NLMSGERR_ATTR_MSG = 1

HEADER = struct.Struct("=IHHII")
ERROR = struct.Struct("=i")
NLA_HDR = struct.Struct("=HH")
SEQ_FLAGS = struct.Struct("=HI")  # nlmsg_flags and nlmsg_seq, at offset 6

RECV_SIZE = 1 << 16
REPLY_TIMEOUT = 30.0  # seconds; the kernel answers within the sendmsg() call
# Acknowledgements of one sendmsg() wait in the receive buffer until read: an
# acknowledgement costs about 1 KiB of it, an error one with its echo ~2 KiB.
ACK_COST = 2048
MAX_CHUNK_MESSAGES = 512
MAX_CHUNK_BYTES = 128 * 1024


@dataclass(frozen=True)
class Ack:
    """The kernel's answer to one message: ``errno`` 0 is success."""

    errno: int
    message: str = ""


OK = Ack(0)


class AsyncXfrmSocket(AsyncNetlinkSocket):
    marshal_class = MarshalXfrm


class XfrmSocket(NetlinkSocket):
    """``socket(AF_NETLINK, SOCK_DGRAM, NETLINK_XFRM)`` in ``netns`` (a name under
    /run/netns) or in the current namespace.  Never creates the namespace."""

    async_class = AsyncXfrmSocket

    def __init__(self, netns: str | None = None) -> None:
        super().__init__(family=NETLINK_XFRM, netns=netns, flags=0, ext_ack=True)
        self._seq = itertools.count(0x10000)
        self._buffer = bytearray(RECV_SIZE)
        # The raw socket under pyroute2's asyncio transport.  Its event loop only
        # runs inside pyroute2's own calls, so reading here takes nothing from it.
        self._sock = self.asyncore.socket
        rcvbuf = self._sock.getsockopt(1, 8)  # SOL_SOCKET, SO_RCVBUF
        self.chunk_messages = max(16, min(MAX_CHUNK_MESSAGES, rcvbuf // ACK_COST))

    # Raw exchange ---------------------------------------------------------

    def _next_seq(self) -> int:
        seq = next(self._seq)
        if seq > 0xFFFFFFFF:
            self._seq = itertools.count(0x10000)
            seq = next(self._seq)
        return seq

    def _receive(self) -> bytes:
        sock = self._sock
        while True:
            try:
                size = sock.recv_into(self._buffer)
            except BlockingIOError:
                ready, _, _ = select.select([sock], [], [], REPLY_TIMEOUT)
                if not ready:
                    raise TimeoutError(
                        "the kernel did not answer on the XFRM socket"
                    ) from None
                continue
            return bytes(self._buffer[:size])

    def transact(self, messages: list[bytes]) -> list[Ack]:
        """Send encoded messages (sequence numbers are filled in here, and
        ``NLM_F_REQUEST | NLM_F_ACK`` set) and return the kernel's answer to
        each, in order."""
        acks: list[Ack | None] = [None] * len(messages)
        chunk = bytearray()
        waiting: dict[int, int] = {}
        for index, message in enumerate(messages):
            if waiting and (
                len(waiting) >= self.chunk_messages
                or len(chunk) + len(message) > MAX_CHUNK_BYTES
            ):
                self._exchange(chunk, waiting, acks)
                chunk = bytearray()
                waiting = {}
            seq = self._next_seq()
            offset = len(chunk)
            chunk += message
            (flags,) = struct.unpack_from("=H", chunk, offset + 6)
            SEQ_FLAGS.pack_into(
                chunk, offset + 6, flags | NLM_F_REQUEST | NLM_F_ACK, seq
            )
            waiting[seq] = index
        if waiting:
            self._exchange(chunk, waiting, acks)
        return acks  # type: ignore[return-value]

    def _exchange(self, chunk: bytearray, waiting: dict[int, int], acks: list) -> None:
        self._sock.send(chunk)
        try:
            while waiting:
                data = self._receive()
                offset = 0
                while offset + 16 <= len(data):
                    length, kind, flags, seq, _ = HEADER.unpack_from(data, offset)
                    if kind == NLMSG_ERROR and seq in waiting:
                        if ERROR.unpack_from(data, offset + 16)[0]:
                            ack = parse_ack(data, offset, length, flags)
                        else:
                            ack = OK
                        acks[waiting.pop(seq)] = ack
                    if length < 16:
                        break
                    offset += (length + 3) & ~3
        except OSError as exc:
            # ENOBUFS: acknowledgements were dropped, so what happened to these
            # messages is unknown; the caller must read the kernel's state again.
            for index in waiting.values():
                acks[index] = Ack(exc.errno or errno.EIO, f"no answer: {exc}")
            log.warning("lost %d XFRM acknowledgements: %s", len(waiting), exc)

    def request(self, message: bytes, dump: bool = False) -> list:
        """Send one encoded message and return the decoded replies (for a dump,
        until ``NLMSG_DONE``).  A kernel error raises pyroute2's
        ``NetlinkError`` carrying the errno."""
        return list(self.replies(message, dump))

    def replies(self, message: bytes, dump: bool = False):
        """Like :meth:`request`, yielding decoded replies as they arrive."""
        for data, offset, length, kind, flags in self.raw_replies(message, dump):
            msg = self.marshal.parse_one_message(kind, flags, 0, data, offset, length)
            error = msg["header"].get("error")
            if error is not None:
                raise error
            yield msg

    def raw_replies(self, message: bytes, dump: bool = False):
        """Send one encoded message; yield ``(data, offset, length, type, flags)``
        of each reply message, raw.  Errors raise ``NetlinkError``.  A dump ends
        with ``NLMSG_DONE``, anything else with its acknowledgement, so nothing
        of the exchange is left unread."""
        seq = self._next_seq()
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
        data = bytearray(message)
        (old,) = struct.unpack_from("=H", data, 6)
        SEQ_FLAGS.pack_into(data, 6, old | flags, seq)
        self._sock.send(data)
        while True:
            data = self._receive()
            offset = 0
            while offset + 16 <= len(data):
                length, kind, flags, got, _ = HEADER.unpack_from(data, offset)
                if length < 16:
                    return
                if got == seq:
                    if kind == NLMSG_DONE:
                        return
                    if kind == NLMSG_ERROR:
                        ack = parse_ack(data, offset, length, flags)
                        if ack.errno:
                            raise NetlinkError(ack.errno, ack.message or None)
                        return
                    yield data, offset, length, kind, flags
                offset += (length + 3) & ~3


def parse_ack(data: bytes, offset: int, length: int, flags: int) -> Ack:
    """Decode one ``NLMSG_ERROR`` message: errno and the extended-ack text."""
    (error,) = ERROR.unpack_from(data, offset + 16)
    if not error:
        return Ack(0)
    text = ""
    if flags & NLM_F_ACK_TLVS:
        echoed = 16
        if not flags & NLM_F_CAPPED:
            (echoed,) = struct.unpack_from("=I", data, offset + 20)
        pos = offset + 20 + ((echoed + 3) & ~3)
        end = offset + length
        while pos + 4 <= end:
            size, kind = NLA_HDR.unpack_from(data, pos)
            if size < 4:
                break
            if kind == NLMSGERR_ATTR_MSG:
                text = (
                    bytes(data[pos + 4 : pos + size])
                    .rstrip(b"\0")
                    .decode("utf-8", "replace")
                )
            pos += (size + 3) & ~3
    return Ack(-error, text)
