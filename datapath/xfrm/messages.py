"""XFRM netlink messages: a ``struct nlmsghdr``, one fixed struct, attributes.

Each message class is named after the struct that follows the netlink header,
as pyroute2 names ``ifinfmsg`` after ``struct ifinfomsg``.  All of them share
the ``XFRMA_*`` attribute table of :class:`xfrm_msg`.
"""

from __future__ import annotations

from pyroute2.netlink import nlmsg
from pyroute2.netlink.marshal import Marshal

from . import constants as c
from . import structs
from .structs import (
    strip_padding,
    xfrm_id,
    xfrm_lifetime_cfg,
    xfrm_lifetime_cur,
    xfrm_selector,
    xfrm_stats,
)


class xfrm_msg(nlmsg):
    """Base of every XFRM message (not a kernel struct): the attribute table."""

    __slots__ = ()
    prefix = "XFRMA_"
    nla_map = (
        (c.XFRMA_UNSPEC, "XFRMA_UNSPEC", "none"),
        (c.XFRMA_ALG_AUTH, "XFRMA_ALG_AUTH", "xfrm_algo"),
        (c.XFRMA_ALG_CRYPT, "XFRMA_ALG_CRYPT", "xfrm_algo"),
        (c.XFRMA_ALG_COMP, "XFRMA_ALG_COMP", "xfrm_algo"),
        (c.XFRMA_ENCAP, "XFRMA_ENCAP", "xfrm_encap_tmpl"),
        (c.XFRMA_TMPL, "XFRMA_TMPL", "tmpl_array"),
        (c.XFRMA_SA, "XFRMA_SA", "hex"),
        (c.XFRMA_POLICY, "XFRMA_POLICY", "hex"),
        (c.XFRMA_SEC_CTX, "XFRMA_SEC_CTX", "hex"),
        (c.XFRMA_LTIME_VAL, "XFRMA_LTIME_VAL", "xfrm_lifetime_cur_nla"),
        (c.XFRMA_REPLAY_VAL, "XFRMA_REPLAY_VAL", "xfrm_replay_state"),
        (c.XFRMA_REPLAY_THRESH, "XFRMA_REPLAY_THRESH", "uint32"),
        (c.XFRMA_ETIMER_THRESH, "XFRMA_ETIMER_THRESH", "uint32"),
        (c.XFRMA_SRCADDR, "XFRMA_SRCADDR", "xfrm_address_t"),
        (c.XFRMA_COADDR, "XFRMA_COADDR", "xfrm_address_t"),
        (c.XFRMA_LASTUSED, "XFRMA_LASTUSED", "uint64"),
        (c.XFRMA_POLICY_TYPE, "XFRMA_POLICY_TYPE", "xfrm_userpolicy_type"),
        (c.XFRMA_MIGRATE, "XFRMA_MIGRATE", "hex"),
        (c.XFRMA_ALG_AEAD, "XFRMA_ALG_AEAD", "xfrm_algo_aead"),
        (c.XFRMA_KMADDRESS, "XFRMA_KMADDRESS", "hex"),
        (c.XFRMA_ALG_AUTH_TRUNC, "XFRMA_ALG_AUTH_TRUNC", "xfrm_algo_auth"),
        (c.XFRMA_MARK, "XFRMA_MARK", "xfrm_mark"),
        (c.XFRMA_TFCPAD, "XFRMA_TFCPAD", "uint32"),
        (c.XFRMA_REPLAY_ESN_VAL, "XFRMA_REPLAY_ESN_VAL", "hex"),
        (c.XFRMA_SA_EXTRA_FLAGS, "XFRMA_SA_EXTRA_FLAGS", "uint32"),
        (c.XFRMA_PROTO, "XFRMA_PROTO", "uint8"),
        (c.XFRMA_ADDRESS_FILTER, "XFRMA_ADDRESS_FILTER", "hex"),
        (c.XFRMA_PAD, "XFRMA_PAD", "hex"),
        (c.XFRMA_OFFLOAD_DEV, "XFRMA_OFFLOAD_DEV", "hex"),
        (c.XFRMA_SET_MARK, "XFRMA_SET_MARK", "uint32"),
        (c.XFRMA_SET_MARK_MASK, "XFRMA_SET_MARK_MASK", "uint32"),
        (c.XFRMA_IF_ID, "XFRMA_IF_ID", "uint32"),
        (c.XFRMA_MTIMER_THRESH, "XFRMA_MTIMER_THRESH", "uint32"),
    )

    tmpl_array = structs.tmpl_array
    xfrm_mark = structs.xfrm_mark
    xfrm_userpolicy_type = structs.xfrm_userpolicy_type
    xfrm_replay_state = structs.xfrm_replay_state
    xfrm_encap_tmpl = structs.xfrm_encap_tmpl
    xfrm_lifetime_cur_nla = structs.xfrm_lifetime_cur_nla
    xfrm_address_t = structs.xfrm_address_t
    xfrm_algo = structs.xfrm_algo
    xfrm_algo_auth = structs.xfrm_algo_auth
    xfrm_algo_aead = structs.xfrm_algo_aead

    def decode(self):
        nlmsg.decode(self)
        strip_padding(self)


class xfrm_userpolicy_info(xfrm_msg):
    """``XFRM_MSG_NEWPOLICY`` / ``XFRM_MSG_UPDPOLICY``, and each policy a
    ``XFRM_MSG_GETPOLICY`` returns.  Attributes: ``XFRMA_TMPL``,
    ``XFRMA_IF_ID``, ``XFRMA_MARK``, ``XFRMA_POLICY_TYPE``.

    ::

        struct xfrm_userpolicy_info {       /* 168 bytes */
            struct xfrm_selector        sel;
            struct xfrm_lifetime_cfg    lft;
            struct xfrm_lifetime_cur    curlft;
            __u32   priority;
            __u32   index;
            __u8    dir;
            __u8    action;     /* XFRM_POLICY_ALLOW, XFRM_POLICY_BLOCK */
            __u8    flags;
            __u8    share;
            /* 4 bytes padding */
        };
    """

    __slots__ = ()
    fields = (
        ("sel", xfrm_selector),
        ("lft", xfrm_lifetime_cfg),
        ("curlft", xfrm_lifetime_cur),
        ("priority", "I"),
        ("index", "I"),
        ("dir", "B"),
        ("action", "B"),
        ("flags", "B"),
        ("share", "B"),
        ("__pad", "4x"),
    )


class xfrm_userpolicy_id(xfrm_msg):
    """``XFRM_MSG_DELPOLICY`` / ``XFRM_MSG_GETPOLICY`` by selector (index 0) or
    by index.  Attributes: ``XFRMA_IF_ID``, ``XFRMA_MARK``, ``XFRMA_POLICY_TYPE``.

    ::

        struct xfrm_userpolicy_id {         /* 64 bytes */
            struct xfrm_selector    sel;
            __u32   index;
            __u8    dir;
            /* 3 bytes padding */
        };
    """

    __slots__ = ()
    fields = (
        ("sel", xfrm_selector),
        ("index", "I"),
        ("dir", "B"),
        ("__pad", "3x"),
    )


class xfrm_usersa_info(xfrm_msg):
    """``XFRM_MSG_NEWSA`` / ``XFRM_MSG_UPDSA``, and each SA a ``XFRM_MSG_GETSA``
    dump returns.  Attributes: ``XFRMA_ALG_AEAD``, ``XFRMA_IF_ID``, ...

    ::

        struct xfrm_usersa_info {           /* 224 bytes */
            struct xfrm_selector        sel;
            struct xfrm_id              id;
            xfrm_address_t              saddr;
            struct xfrm_lifetime_cfg    lft;
            struct xfrm_lifetime_cur    curlft;
            struct xfrm_stats           stats;
            __u32   seq;
            __u32   reqid;
            __u16   family;
            __u8    mode;           /* XFRM_MODE_xxx */
            __u8    replay_window;
            __u8    flags;
            /* 7 bytes padding */
        };
    """

    __slots__ = ()
    fields = (
        ("sel", xfrm_selector),
        ("id", xfrm_id),
        ("saddr", "16s"),
        ("lft", xfrm_lifetime_cfg),
        ("curlft", xfrm_lifetime_cur),
        ("stats", xfrm_stats),
        ("seq", "I"),
        ("reqid", "I"),
        ("family", "H"),
        ("mode", "B"),
        ("replay_window", "B"),
        ("flags", "B"),
        ("__pad", "7x"),
    )
    defaults = structs.NO_ADDRESS


class xfrm_usersa_id(xfrm_msg):
    """``XFRM_MSG_DELSA`` / ``XFRM_MSG_GETSA`` of one SA.  Attributes:
    ``XFRMA_SRCADDR``, ``XFRMA_MARK``.

    ::

        struct xfrm_usersa_id {             /* 24 bytes */
            xfrm_address_t  daddr;
            __be32          spi;
            __u16           family;
            __u8            proto;
            /* 1 byte padding */
        };
    """

    __slots__ = ()
    fields = (
        ("daddr", "16s"),
        ("spi", ">I"),
        ("family", "H"),
        ("proto", "B"),
        ("__pad", "x"),
    )
    defaults = structs.NO_ADDRESS


class xfrm_usersa_flush(xfrm_msg):
    """``XFRM_MSG_FLUSHSA``: remove every SA of one protocol (0: all).

    ::

        struct xfrm_usersa_flush {          /* 1 byte */
            __u8    proto;
        };
    """

    __slots__ = ()
    fields = (("proto", "B"),)


class xfrm_dump_request(xfrm_msg):
    """A ``XFRM_MSG_GETSA`` / ``XFRM_MSG_GETPOLICY`` dump request: the kernel
    reads no struct from it, only optional attributes (not a kernel struct)."""

    __slots__ = ()
    fields = ()


class MarshalXfrm(Marshal):
    """Turns what a ``NETLINK_XFRM`` socket receives into the classes above."""

    msg_map = {
        c.XFRM_MSG_NEWSA: xfrm_usersa_info,
        c.XFRM_MSG_UPDSA: xfrm_usersa_info,
        c.XFRM_MSG_DELSA: xfrm_usersa_id,
        c.XFRM_MSG_NEWPOLICY: xfrm_userpolicy_info,
        c.XFRM_MSG_UPDPOLICY: xfrm_userpolicy_info,
        c.XFRM_MSG_DELPOLICY: xfrm_userpolicy_id,
        c.XFRM_MSG_FLUSHSA: xfrm_usersa_flush,
    }


def encode_message(
    cls: type[xfrm_msg], msg_type: int, flags: int, fields: dict
) -> bytes:
    """Encode one message with pyroute2's generic encoder (sequence 0)."""
    msg = cls()
    msg["header"]["type"] = msg_type
    msg["header"]["flags"] = flags
    for name, value in fields.items():
        msg[name] = value
    # pyroute2 replaces the entries of the attribute list as it encodes them:
    # give it a copy, so the caller's fields stay as they were.
    msg["attrs"] = [list(attr) for attr in fields.get("attrs", ())]
    msg.encode()
    return bytes(msg.data)
