"""XFRM wire structs without root: layouts against linux/xfrm.h, round trips
through pyroute2's generic codec, and the fast path byte for byte against it."""

from __future__ import annotations

import ipaddress
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datapath.objects import OWNER_TAG, Aead, Selector, Template, XfrmPolicy, XfrmState
from datapath.xfrm import constants as c
from datapath.xfrm import convert, fastpath, messages, structs
from datapath.xfrm.socket import parse_ack
from datapath.xfrm.structs import field_size

N = ipaddress.ip_network
A = ipaddress.ip_address

# sizeof() of each struct, from linux/xfrm.h (checked with gcc on x86_64; the
# header promises they never change, being userspace ABI).
SIZES = {
    structs.xfrm_selector: 56,
    structs.xfrm_id: 24,
    structs.xfrm_lifetime_cfg: 64,
    structs.xfrm_lifetime_cur: 32,
    structs.xfrm_stats: 12,
    structs.xfrm_user_tmpl: 64,
    structs.xfrm_mark: 8,
    structs.xfrm_userpolicy_type: 6,
    structs.xfrm_replay_state: 12,
    structs.xfrm_encap_tmpl: 24,
    structs.xfrm_algo: 68,
    structs.xfrm_algo_auth: 72,
    structs.xfrm_algo_aead: 72,
    messages.xfrm_userpolicy_info: 168,
    messages.xfrm_userpolicy_id: 64,
    messages.xfrm_usersa_info: 224,
    messages.xfrm_usersa_id: 24,
    messages.xfrm_usersa_flush: 1,
}


def layout(cls) -> dict[str, tuple[int, int]]:
    """Offset and size of each named field, as our ``fields`` lay them out."""
    offset, found = 0, {}
    for name, fmt in cls.fields:
        if fmt == "s":  # the variable key at the end of the algorithm structs
            continue
        size = field_size(fmt)
        if not name.startswith("__"):
            found[name] = (offset, size)
        offset += size
    return found


def struct_size(cls) -> int:
    return sum(field_size(fmt) for _, fmt in cls.fields if fmt != "s")


@pytest.mark.parametrize("cls", list(SIZES), ids=lambda cls: cls.__name__)
def test_struct_sizes_match_xfrm_h(cls):
    assert struct_size(cls) == SIZES[cls]


@pytest.mark.skipif(
    shutil.which("gcc") is None or not Path("/usr/include/linux/xfrm.h").exists(),
    reason="needs gcc and the kernel headers (linux/xfrm.h)",
)
def test_field_offsets_match_the_c_compiler(tmp_path):
    lines = []
    for cls in SIZES:
        lines.append(
            f'printf("{cls.__name__} sizeof %zu\\n", sizeof(struct {cls.__name__}));'
        )
        for name in layout(cls):
            lines.append(
                f'printf("{cls.__name__} {name} %zu %zu\\n", '
                f"offsetof(struct {cls.__name__}, {name}), "
                f"sizeof(((struct {cls.__name__} *)0)->{name}));"
            )
    source = tmp_path / "layout.c"
    source.write_text(
        "#include <stdio.h>\n#include <stddef.h>\n#include <linux/xfrm.h>\n"
        "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n"
    )
    binary = tmp_path / "layout"
    subprocess.run(["gcc", "-o", str(binary), str(source)], check=True)
    printed = subprocess.run([str(binary)], check=True, capture_output=True, text=True)
    compiled = {}
    for line in printed.stdout.splitlines():
        parts = line.split()
        if parts[1] == "sizeof":
            compiled[(parts[0], "sizeof")] = int(parts[2])
        else:
            compiled[(parts[0], parts[1])] = (int(parts[2]), int(parts[3]))
    ours = {}
    for cls in SIZES:
        ours[(cls.__name__, "sizeof")] = SIZES[cls]
        for name, where in layout(cls).items():
            ours[(cls.__name__, name)] = where
    assert ours == compiled


# Values to encode ----------------------------------------------------------

SEL4 = Selector(
    N("10.1.0.0/24"), N("10.2.0.0/16"), proto=6, dport=443, dport_mask=0xFFFF
)
SEL6 = Selector(
    N("2001:db8:1::/48"), N("2001:db8:2::/64"), proto=17, sport=53, sport_mask=0xFFFF
)
TMPL4 = Template(A("192.0.2.2"), A("192.0.2.1"), reqid=7, spi=0x12345678)
TMPL6 = Template(A("2001:db8::2"), A("2001:db8::1"), reqid=8, mode="transport")

POLICIES = {
    "ipv4 allow": XfrmPolicy("out", SEL4, "allow", 100),
    "ipv4 block": XfrmPolicy("fwd", SEL4, "block", 0),
    "ipv4 esp template": XfrmPolicy("in", SEL4, "allow", 7, (TMPL4,)),
    "ipv4 esp template if_id": XfrmPolicy("out", SEL4, "allow", 7, (TMPL4,), if_id=42),
    "ipv6 allow": XfrmPolicy("out", SEL6, "allow", 0xFFFFFFFF),
    "ipv6 esp template if_id": XfrmPolicy(
        "in", SEL6, "allow", 1, (TMPL6, TMPL6), if_id=9
    ),
    "icmp type and code": XfrmPolicy(
        "out",
        Selector(N("0.0.0.0/0"), N("10.0.0.0/8"), 1, 8, 0xFFFF, 0, 0xFFFF),
        "block",
        3,
    ),
}

STATES = {
    "ipv4": XfrmState(
        A("192.0.2.1"),
        A("192.0.2.2"),
        0x1000,
        7,
        Aead("rfc4106(gcm(aes))", bytes(range(20))),
    ),
    "ipv6 if_id": XfrmState(
        A("2001:db8::1"),
        A("2001:db8::2"),
        0xFFFFFFFF,
        9,
        Aead("rfc4106(gcm(aes))", bytes(range(36)), 96),
        mode="transport",
        if_id=5,
    ),
}


def generic(cls, msg_type: int, fields: dict) -> bytes:
    return messages.encode_message(cls, msg_type, 0, fields)


def decode(cls, data: bytes):
    msg = cls(data)
    msg.decode()
    return msg


def plain(msg) -> dict:
    """A decoded message as nested plain values, without the netlink header."""
    values = {k: v for k, v in msg.items() if k not in ("header", "attrs")}
    values["attrs"] = [[name, value] for name, value in msg["attrs"]]
    return values


# Generic codec round trips ---------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_policy_info_decodes_to_what_was_encoded(policy):
    fields = convert.policy_info_fields(policy)
    data = generic(messages.xfrm_userpolicy_info, c.XFRM_MSG_NEWPOLICY, fields)
    msg = decode(messages.xfrm_userpolicy_info, data)
    assert msg["header"]["length"] == len(data)
    assert plain(msg) == fields
    assert convert.policy_from(msg) == policy


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_policy_id_decodes_to_what_was_encoded(policy):
    fields = convert.policy_id_fields(policy.direction, policy.selector, policy.if_id)
    data = generic(messages.xfrm_userpolicy_id, c.XFRM_MSG_DELPOLICY, fields)
    assert len(data) == 16 + 64 + (8 if policy.if_id else 0)
    assert plain(decode(messages.xfrm_userpolicy_id, data)) == fields


@pytest.mark.parametrize("state", STATES.values(), ids=STATES.keys())
def test_state_info_with_aead_decodes_to_what_was_encoded(state):
    fields = convert.state_info_fields(state)
    data = generic(messages.xfrm_usersa_info, c.XFRM_MSG_NEWSA, fields)
    key_len = len(state.aead.key)
    aead_nla = (4 + 72 + key_len + 3) & ~3
    assert len(data) == 16 + 224 + aead_nla + (8 if state.if_id else 0)
    msg = decode(messages.xfrm_usersa_info, data)
    full = dict(
        fields,
        sel=dict(
            fields["sel"],
            dport=0,
            dport_mask=0,
            sport=0,
            sport_mask=0,
            family=0,
            prefixlen_d=0,
            prefixlen_s=0,
            proto=0,
            ifindex=0,
            user=0,
        ),
    )
    assert plain(msg) == full
    assert convert.state_from(msg) == state
    assert convert.state_from(msg).owned


@pytest.mark.parametrize("state", STATES.values(), ids=STATES.keys())
def test_state_id_decodes_to_what_was_encoded(state):
    fields = convert.state_id_fields(state)
    data = generic(messages.xfrm_usersa_id, c.XFRM_MSG_DELSA, fields)
    assert len(data) == 16 + 24 + 4 + 16
    assert plain(decode(messages.xfrm_usersa_id, data)) == fields


def test_flush_message_is_seventeen_bytes_long():
    data = generic(messages.xfrm_usersa_flush, c.XFRM_MSG_FLUSHSA, {"proto": 50})
    assert struct.unpack_from("=IH", data) == (17, c.XFRM_MSG_FLUSHSA)
    assert data[16] == 50


def test_attribute_structs_round_trip():
    attrs = [
        ["XFRMA_MARK", {"v": 7, "m": 0xFFFFFFFF}],
        [
            "XFRMA_POLICY_TYPE",
            {"type": c.XFRM_POLICY_TYPE_SUB, "reserved1": 0, "reserved2": 0},
        ],
        ["XFRMA_REPLAY_VAL", {"oseq": 1, "seq": 2, "bitmap": 3}],
        [
            "XFRMA_ENCAP",
            {
                "encap_type": 2,
                "encap_sport": 4500,
                "encap_dport": 4501,
                "encap_oa": bytes(16),
            },
        ],
        ["XFRMA_LTIME_VAL", {"bytes": 10, "packets": 1, "add_time": 5, "use_time": 6}],
        [
            "XFRMA_ALG_CRYPT",
            {"alg_name": "cbc(aes)", "alg_key_len": 128, "alg_key": bytes(16)},
        ],
        [
            "XFRMA_ALG_AUTH_TRUNC",
            {
                "alg_name": "hmac(sha256)",
                "alg_key_len": 256,
                "alg_trunc_len": 128,
                "alg_key": bytes(range(32)),
            },
        ],
        ["XFRMA_SRCADDR", bytes(range(16))],
        ["XFRMA_LASTUSED", 12345],
    ]
    fields = dict(convert.state_id_fields(STATES["ipv4"]), attrs=attrs)
    data = generic(messages.xfrm_usersa_id, c.XFRM_MSG_DELSA, fields)
    assert plain(decode(messages.xfrm_usersa_id, data))["attrs"] == attrs


def test_attributes_newer_than_the_header_are_skipped():
    policy = POLICIES["ipv4 esp template if_id"]
    data = fastpath.encode_policy_info(policy, c.XFRM_MSG_NEWPOLICY, 0)
    unknown = struct.pack("=HHB3x", 5, 40, 1)  # a later kernel's XFRMA_SA_DIR
    data = bytearray(data + unknown)
    struct.pack_into("=I", data, 0, len(data))
    assert fastpath.decode_policy_info(bytes(data), 0, len(data)) == policy
    assert (
        convert.policy_from(decode(messages.xfrm_userpolicy_info, bytes(data)))
        == policy
    )


# The fast path agrees with the generic encoder ------------------------------


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
@pytest.mark.parametrize("msg_type", [c.XFRM_MSG_NEWPOLICY, c.XFRM_MSG_UPDPOLICY])
def test_fast_policy_info_equals_generic_bytes(policy, msg_type):
    fields = convert.policy_info_fields(policy)
    assert fastpath.encode_policy_info(policy, msg_type, 0) == generic(
        messages.xfrm_userpolicy_info, msg_type, fields
    )


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
@pytest.mark.parametrize("msg_type", [c.XFRM_MSG_DELPOLICY, c.XFRM_MSG_GETPOLICY])
def test_fast_policy_id_equals_generic_bytes(policy, msg_type):
    fields = convert.policy_id_fields(policy.direction, policy.selector, policy.if_id)
    fast = fastpath.encode_policy_id(
        policy.direction, policy.selector, policy.if_id, msg_type, 0
    )
    assert fast == generic(messages.xfrm_userpolicy_id, msg_type, fields)


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_fast_decoder_agrees_with_generic_decoder(policy):
    data = fastpath.encode_policy_info(policy, c.XFRM_MSG_NEWPOLICY, 0)
    fast = fastpath.decode_policy_info(data, 0, len(data))
    slow = convert.policy_from(decode(messages.xfrm_userpolicy_info, data))
    assert fast == slow == policy
    assert fast.owned and slow.owned


def _networks(version: int):
    bits = 32 if version == 4 else 128
    kind = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    return st.builds(
        lambda value, prefix: kind((value, prefix), strict=False),
        st.integers(0, 2**bits - 1),
        st.integers(0, bits),
    )


def _addresses(version: int):
    bits = 32 if version == 4 else 128
    return st.integers(0, 2**bits - 1).map(
        ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    )


@st.composite
def policies(draw):
    version = draw(st.sampled_from([4, 6]))
    port = st.integers(0, 0xFFFF)
    selector = Selector(
        draw(_networks(version)),
        draw(_networks(version)),
        draw(st.integers(0, 255)),
        draw(port),
        draw(port),
        draw(port),
        draw(port),
    )
    tversion = draw(st.sampled_from([4, 6]))
    templates = draw(
        st.lists(
            st.builds(
                Template,
                _addresses(tversion),
                _addresses(tversion),
                st.integers(0, 2**32 - 1),
                st.sampled_from(["tunnel", "transport"]),
                st.sampled_from([50, 51, 108]),
                st.integers(0, 2**32 - 1),
                st.booleans(),
            ),
            max_size=3,
        )
    )
    return XfrmPolicy(
        draw(st.sampled_from(["in", "out", "fwd"])),
        selector,
        draw(st.sampled_from(["allow", "block"])),
        draw(st.integers(0, 2**32 - 1)),
        tuple(templates),
        draw(st.integers(0, 2**32 - 1)),
    )


@settings(max_examples=300, deadline=None)
@given(policies())
def test_fast_and_generic_codecs_agree_on_any_policy(policy):
    info = fastpath.encode_policy_info(policy, c.XFRM_MSG_NEWPOLICY, 0)
    assert info == generic(
        messages.xfrm_userpolicy_info,
        c.XFRM_MSG_NEWPOLICY,
        convert.policy_info_fields(policy),
    )
    ident = fastpath.encode_policy_id(
        policy.direction, policy.selector, policy.if_id, c.XFRM_MSG_DELPOLICY, 0
    )
    assert ident == generic(
        messages.xfrm_userpolicy_id,
        c.XFRM_MSG_DELPOLICY,
        convert.policy_id_fields(policy.direction, policy.selector, policy.if_id),
    )
    assert fastpath.decode_policy_info(info, 0, len(info)) == policy
    assert convert.policy_from(decode(messages.xfrm_userpolicy_info, info)) == policy


# Ownership and lifetimes -----------------------------------------------------


def test_policies_carry_the_owner_tag_and_never_expire():
    data = fastpath.encode_policy_info(POLICIES["ipv4 allow"], c.XFRM_MSG_NEWPOLICY, 0)
    lft = decode(messages.xfrm_userpolicy_info, data)["lft"]
    assert lft["soft_byte_limit"] == OWNER_TAG
    assert lft["hard_byte_limit"] == lft["soft_packet_limit"] == c.XFRM_INF
    # The kernel adds expiry seconds to the creation time: XFRM_INF there would
    # wrap around and delete the policy at the next timer tick.
    assert [v for k, v in lft.items() if k.endswith("_seconds")] == [0, 0, 0, 0]


def test_policy_without_the_tag_reads_as_foreign():
    fields = convert.policy_info_fields(POLICIES["ipv4 block"])
    fields["lft"] = convert.lifetime(owned=False)
    data = generic(messages.xfrm_userpolicy_info, c.XFRM_MSG_NEWPOLICY, fields)
    assert not fastpath.decode_policy_info(data, 0, len(data)).owned
    assert not convert.policy_from(decode(messages.xfrm_userpolicy_info, data)).owned


def test_marked_and_sub_policies_are_not_listed():
    for attr in (
        ["XFRMA_MARK", {"v": 1, "m": 0xFF}],
        ["XFRMA_POLICY_TYPE", {"type": c.XFRM_POLICY_TYPE_SUB}],
    ):
        fields = convert.policy_info_fields(POLICIES["ipv4 allow"])
        fields["attrs"].append(attr)
        data = generic(messages.xfrm_userpolicy_info, c.XFRM_MSG_NEWPOLICY, fields)
        assert fastpath.decode_policy_info(data, 0, len(data)) is None
        assert convert.policy_from(decode(messages.xfrm_userpolicy_info, data)) is None


# Bad input is refused before anything is sent --------------------------------


@pytest.mark.parametrize(
    "policy, words",
    [
        (XfrmPolicy("out", SEL4, "allow", 2**32), "policy priority"),
        (XfrmPolicy("out", SEL4, "allow", 1, if_id=-1), "policy if_id"),
        (XfrmPolicy("up", SEL4, "allow", 1), "policy direction"),
        (XfrmPolicy("out", SEL4, "permit", 1), "policy action"),
        (
            XfrmPolicy(
                "out",
                Selector(N("10.0.0.0/8"), N("10.0.0.0/8"), dport=70000),
                "allow",
                1,
            ),
            "selector dport",
        ),
        (
            XfrmPolicy(
                "out", SEL4, "allow", 1, (Template(A("192.0.2.1"), A("::1"), 1),)
            ),
            "mixes IPv4 and IPv6",
        ),
        (
            XfrmPolicy(
                "out",
                SEL4,
                "allow",
                1,
                (Template(A("192.0.2.1"), A("192.0.2.2"), 1, proto=6),),
            ),
            "template proto",
        ),
        (XfrmPolicy("out", SEL4, "allow", 1, (TMPL4,) * 7), "at most 6"),
        (
            XfrmPolicy(
                "out",
                SEL4,
                "allow",
                1,
                (Template(A("192.0.2.1"), A("192.0.2.2"), 2**32),),
            ),
            "template reqid",
        ),
    ],
)
def test_bad_policy_fields_are_named(policy, words):
    with pytest.raises(ValueError, match=words):
        fastpath.encode_policy_info(policy, c.XFRM_MSG_NEWPOLICY, 0)
    with pytest.raises(ValueError, match=words):
        convert.policy_info_fields(policy)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"replay_window": 256}, "replay_window"),
        ({"spi": 2**32}, "SA spi"),
        ({"aead": Aead("x" * 64, b"k")}, "aead name"),
        ({"aead": Aead("rfc4106(gcm(aes))", b"")}, "aead key is empty"),
        ({"mode": "beet"}, "SA mode"),
    ],
)
def test_bad_state_fields_are_named(change, words):
    from dataclasses import replace

    with pytest.raises(ValueError, match=words):
        convert.state_info_fields(replace(STATES["ipv4"], **change))


# Acknowledgements --------------------------------------------------------------


def test_error_ack_keeps_errno_and_kernel_text():
    request = fastpath.encode_policy_info(
        POLICIES["ipv4 allow"], c.XFRM_MSG_NEWPOLICY, 0
    )
    text = b"Requested AEAD algorithm not found\0"
    tlv = struct.pack("=HH", 4 + len(text), 1) + text
    tlv += bytes(-len(tlv) % 4)
    body = struct.pack("=i", -38) + request + tlv
    header = struct.pack("=IHHII", 16 + len(body), 2, 0x200, 99, 0)
    ack = parse_ack(header + body, 0, 16 + len(body), 0x200)
    assert (ack.errno, ack.message) == (38, "Requested AEAD algorithm not found")


def test_success_ack_is_errno_zero():
    ack = struct.pack("=IHHII", 36, 2, 0x100, 5, 0) + struct.pack("=i", 0) + bytes(16)
    assert parse_ack(ack, 0, 36, 0x100).errno == 0
