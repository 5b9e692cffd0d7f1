"""The C structs of ``linux/xfrm.h`` on pyroute2's netlink classes.

Three kinds, as the kernel uses them:

* structs embedded in other structs (:class:`xfrm_selector`, :class:`xfrm_id`,
  the lifetimes, :class:`xfrm_user_tmpl`) derive from :class:`xfrm_struct`.
  pyroute2 encodes and decodes a field whose format is such a class through
  its ``encode_into``/``decode_from`` class methods;
* structs carried as the payload of one attribute (:class:`xfrm_mark`, the
  algorithms, :class:`xfrm_userpolicy_type`) are pyroute2 ``nla`` classes;
* structs that head a message live in :mod:`datapath.xfrm.messages`.

Padding the C compiler inserts is spelled out as ``__pad`` fields, so every
class's ``fields`` is its exact layout; decoding drops them.  Addresses are
``xfrm_address_t``, a 16-byte union: IPv4 uses the first four bytes.  They stay
bytes here; :mod:`datapath.xfrm.convert` knows the family.
"""

from __future__ import annotations

import struct

from pyroute2.netlink import (
    nla,
    nlmsg_base,
    nlmsg_decoder_generic,
    nlmsg_encoder_generic,
)


def field_size(fmt: str | type) -> int:
    """Size in bytes of one ``fields`` entry's format (a code or a struct class)."""
    if isinstance(fmt, str):
        return struct.calcsize("=" + fmt.lstrip("=<>!"))
    return fmt.size()


def strip_padding(values: dict) -> dict:
    for name in [name for name in values if name.startswith("__")]:
        del values[name]
    return values


class xfrm_struct(nlmsg_base, nlmsg_encoder_generic, nlmsg_decoder_generic):
    """Base of the structs embedded in other structs: no header, no attributes."""

    __slots__ = ()
    header = None
    align = 0  # C padding is explicit in ``fields``
    _sizes: dict[type, int] = {}

    @classmethod
    def size(cls) -> int:
        if cls not in xfrm_struct._sizes:
            xfrm_struct._sizes[cls] = sum(field_size(fmt) for _, fmt in cls.fields)
        return xfrm_struct._sizes[cls]

    @classmethod
    def decode_from(cls, data, offset: int) -> tuple[dict, int]:
        item = cls(data, offset=offset)
        item.decode()
        values = strip_padding(dict(item))
        values.pop("attrs", None)
        return values, offset + cls.size()

    @classmethod
    def encode_into(cls, data: bytearray, offset: int, value) -> int:
        item = cls(data, offset=offset)
        item.setvalue(dict(value) if value else {})
        item.encode()
        return offset + cls.size()


NO_ADDRESS = {"daddr": b"", "saddr": b""}  # defaults for xfrm_address_t fields


class xfrm_selector(xfrm_struct):
    """What traffic a policy (or an SA) applies to.

    ::

        struct xfrm_selector {              /* 56 bytes */
            xfrm_address_t  daddr;
            xfrm_address_t  saddr;
            __be16  dport;
            __be16  dport_mask;
            __be16  sport;
            __be16  sport_mask;
            __u16   family;
            __u8    prefixlen_d;
            __u8    prefixlen_s;
            __u8    proto;
            /* 3 bytes padding */
            int     ifindex;
            __kernel_uid32_t    user;
        };
    """

    __slots__ = ()
    fields = (
        ("daddr", "16s"),
        ("saddr", "16s"),
        ("dport", ">H"),
        ("dport_mask", ">H"),
        ("sport", ">H"),
        ("sport_mask", ">H"),
        ("family", "H"),
        ("prefixlen_d", "B"),
        ("prefixlen_s", "B"),
        ("proto", "B"),
        ("__pad", "3x"),
        ("ifindex", "i"),
        ("user", "I"),
    )
    defaults = NO_ADDRESS


class xfrm_id(xfrm_struct):
    """Names an SA: destination, SPI and protocol.

    ::

        struct xfrm_id {                    /* 24 bytes */
            xfrm_address_t  daddr;
            __be32          spi;
            __u8            proto;
            /* 3 bytes padding */
        };
    """

    __slots__ = ()
    fields = (
        ("daddr", "16s"),
        ("spi", ">I"),
        ("proto", "B"),
        ("__pad", "3x"),
    )
    defaults = NO_ADDRESS


class xfrm_lifetime_cfg(xfrm_struct):
    """Limits on an SA's or a policy's life; ``XFRM_INF`` means none.

    ::

        struct xfrm_lifetime_cfg {          /* 64 bytes */
            __u64   soft_byte_limit;
            __u64   hard_byte_limit;
            __u64   soft_packet_limit;
            __u64   hard_packet_limit;
            __u64   soft_add_expires_seconds;
            __u64   hard_add_expires_seconds;
            __u64   soft_use_expires_seconds;
            __u64   hard_use_expires_seconds;
        };
    """

    __slots__ = ()
    fields = (
        ("soft_byte_limit", "Q"),
        ("hard_byte_limit", "Q"),
        ("soft_packet_limit", "Q"),
        ("hard_packet_limit", "Q"),
        ("soft_add_expires_seconds", "Q"),
        ("hard_add_expires_seconds", "Q"),
        ("soft_use_expires_seconds", "Q"),
        ("hard_use_expires_seconds", "Q"),
    )


class xfrm_lifetime_cur(xfrm_struct):
    """What an SA or a policy has used so far.

    ::

        struct xfrm_lifetime_cur {          /* 32 bytes */
            __u64   bytes;
            __u64   packets;
            __u64   add_time;
            __u64   use_time;
        };
    """

    __slots__ = ()
    fields = (
        ("bytes", "Q"),
        ("packets", "Q"),
        ("add_time", "Q"),
        ("use_time", "Q"),
    )


class xfrm_stats(xfrm_struct):
    """An SA's error counters.

    ::

        struct xfrm_stats {                 /* 12 bytes */
            __u32   replay_window;
            __u32   replay;
            __u32   integrity_failed;
        };
    """

    __slots__ = ()
    fields = (
        ("replay_window", "I"),
        ("replay", "I"),
        ("integrity_failed", "I"),
    )


class xfrm_user_tmpl(xfrm_struct):
    """One transformation a policy requires (attribute ``XFRMA_TMPL`` holds
    one or more of these back to back).

    ::

        struct xfrm_user_tmpl {             /* 64 bytes */
            struct xfrm_id  id;
            __u16           family;
            /* 2 bytes padding */
            xfrm_address_t  saddr;
            __u32           reqid;
            __u8            mode;
            __u8            share;
            __u8            optional;
            /* 1 byte padding */
            __u32           aalgos;
            __u32           ealgos;
            __u32           calgos;
        };
    """

    __slots__ = ()
    fields = (
        ("id", xfrm_id),
        ("family", "H"),
        ("__pad", "2x"),
        ("saddr", "16s"),
        ("reqid", "I"),
        ("mode", "B"),
        ("share", "B"),
        ("optional", "B"),
        ("__pad2", "x"),
        ("aalgos", "I"),
        ("ealgos", "I"),
        ("calgos", "I"),
    )
    defaults = NO_ADDRESS


# Attribute payloads -------------------------------------------------------


class tmpl_array(nla):
    """``XFRMA_TMPL``: one or more ``struct xfrm_user_tmpl``, back to back.

    Not a kernel struct of its own; its value is a list of template dicts.
    """

    __slots__ = ()

    def ft_encode(self, offset):
        for tmpl in self.value:
            offset = xfrm_user_tmpl.encode_into(self.data, offset, tmpl)
        return offset, 0

    def ft_decode(self, offset):
        end = self.offset + self.length
        size = xfrm_user_tmpl.size()
        templates = []
        while offset + size <= end:
            tmpl, offset = xfrm_user_tmpl.decode_from(self.data, offset)
            templates.append(tmpl)
        self.value = templates


class xfrm_mark(nla):
    """``XFRMA_MARK``: which packet marks a policy or SA applies to.

    ::

        struct xfrm_mark {                  /* 8 bytes */
            __u32   v;      /* value */
            __u32   m;      /* mask */
        };
    """

    __slots__ = ()
    fields = (("v", "I"), ("m", "I"))


class xfrm_userpolicy_type(nla):
    """``XFRMA_POLICY_TYPE``: main or sub policy.

    ::

        struct xfrm_userpolicy_type {       /* 6 bytes */
            __u8    type;
            /* 1 byte padding */
            __u16   reserved1;
            __u8    reserved2;
            /* 1 byte padding */
        };
    """

    __slots__ = ()
    fields = (
        ("type", "B"),
        ("__pad", "x"),
        ("reserved1", "H"),
        ("reserved2", "B"),
        ("__pad2", "x"),
    )

    def decode(self):
        nla.decode(self)
        strip_padding(self)


class xfrm_replay_state(nla):
    """``XFRMA_REPLAY_VAL``: an SA's sequence numbers and replay bitmap.

    ::

        struct xfrm_replay_state {          /* 12 bytes */
            __u32   oseq;
            __u32   seq;
            __u32   bitmap;
        };
    """

    __slots__ = ()
    fields = (("oseq", "I"), ("seq", "I"), ("bitmap", "I"))


class xfrm_encap_tmpl(nla):
    """``XFRMA_ENCAP``: UDP encapsulation of ESP (NAT traversal).

    ::

        struct xfrm_encap_tmpl {            /* 24 bytes */
            __u16           encap_type;
            __be16          encap_sport;
            __be16          encap_dport;
            /* 2 bytes padding */
            xfrm_address_t  encap_oa;
        };
    """

    __slots__ = ()
    fields = (
        ("encap_type", "H"),
        ("encap_sport", ">H"),
        ("encap_dport", ">H"),
        ("__pad", "2x"),
        ("encap_oa", "16s"),
    )
    defaults = {"encap_oa": b""}

    def decode(self):
        nla.decode(self)
        strip_padding(self)


class xfrm_lifetime_cur_nla(nla):
    """``XFRMA_LTIME_VAL``: a ``struct xfrm_lifetime_cur`` as an attribute."""

    __slots__ = ()
    fields = xfrm_lifetime_cur.fields


class xfrm_address_t(nla):
    """``XFRMA_SRCADDR``, ``XFRMA_COADDR``: one address as an attribute.

    ::

        typedef union {                     /* 16 bytes */
            __be32          a4;
            __be32          a6[4];
            struct in6_addr in6;
        } xfrm_address_t;
    """

    __slots__ = ()
    fields = (("value", "16s"),)
    defaults = {"value": b""}


class _xfrm_algo_base(nla):
    """Algorithm structs end in a key of ``alg_key_len`` bits.

    Encoding writes ``alg_key`` (bytes) after the fixed fields; decoding reads
    it back and turns ``alg_name`` into a str.
    """

    __slots__ = ()

    def ft_decode(self, offset):
        for name, fmt in self.fields[:-1]:
            self[name], offset = self.decode_field(fmt, self.data, offset)
        self["alg_name"] = self["alg_name"].split(b"\0", 1)[0].decode("ascii")
        key_bytes = (self["alg_key_len"] + 7) // 8
        self["alg_key"] = bytes(self.data[offset : offset + key_bytes])
        del self["attrs"]


class xfrm_algo(_xfrm_algo_base):
    """``XFRMA_ALG_CRYPT``, ``XFRMA_ALG_AUTH``, ``XFRMA_ALG_COMP``.

    ::

        struct xfrm_algo {                  /* 68 bytes + key */
            char            alg_name[64];
            unsigned int    alg_key_len;    /* in bits */
            char            alg_key[];
        };
    """

    __slots__ = ()
    fields = (("alg_name", "64s"), ("alg_key_len", "I"), ("alg_key", "s"))


class xfrm_algo_auth(_xfrm_algo_base):
    """``XFRMA_ALG_AUTH_TRUNC``: authentication with a truncated ICV.

    ::

        struct xfrm_algo_auth {             /* 72 bytes + key */
            char            alg_name[64];
            unsigned int    alg_key_len;    /* in bits */
            unsigned int    alg_trunc_len;  /* in bits */
            char            alg_key[];
        };
    """

    __slots__ = ()
    fields = (
        ("alg_name", "64s"),
        ("alg_key_len", "I"),
        ("alg_trunc_len", "I"),
        ("alg_key", "s"),
    )


class xfrm_algo_aead(_xfrm_algo_base):
    """``XFRMA_ALG_AEAD``: the combined cipher and integrity algorithm Cygnet uses.

    ::

        struct xfrm_algo_aead {             /* 72 bytes + key */
            char            alg_name[64];
            unsigned int    alg_key_len;    /* in bits */
            unsigned int    alg_icv_len;    /* in bits */
            char            alg_key[];
        };
    """

    __slots__ = ()
    fields = (
        ("alg_name", "64s"),
        ("alg_key_len", "I"),
        ("alg_icv_len", "I"),
        ("alg_key", "s"),
    )
