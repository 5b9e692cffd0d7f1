"""The netlink driver against this machine's kernel, each test in fresh
namespaces (root), plus its error translation (no root).

This kernel has XFRM but neither ESP nor xfrm interfaces: SA and interface
tests check the operator's hint here and are skipped where the kernel has them.
"""

from __future__ import annotations

import errno
import ipaddress
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import datapath.errors as errors_module
from datapath.errors import (
    KernelError,
    NamespaceError,
    hint_for,
    is_gone,
    kernel_option,
)
from datapath.kernel import Kernel
from datapath.objects import (
    Aead,
    Route,
    Rule,
    Selector,
    Template,
    XfrmInterface,
    XfrmPolicy,
    XfrmState,
)
from datapath.xfrm import fastpath
from datapath.xfrm.socket import XfrmSocket
from tests.netns import Namespaces, skip_reason

N = ipaddress.ip_network
A = ipaddress.ip_address
ROOT = Path(__file__).resolve().parents[2]

root = pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))

SEL4 = Selector(N("10.1.0.0/24"), N("10.2.0.0/24"))
SEL4_PORT = Selector(
    N("10.1.0.0/24"), N("10.3.0.0/24"), proto=6, dport=443, dport_mask=0xFFFF
)
SEL6 = Selector(N("2001:db8:1::/64"), N("2001:db8:2::/64"))
TMPL4 = Template(A("192.0.2.2"), A("192.0.2.1"), reqid=7)
TMPL6 = Template(A("2001:db8::2"), A("2001:db8::1"), reqid=8)
SA = XfrmState(
    A("192.0.2.1"), A("192.0.2.2"), 0x1000, 7, Aead("rfc4106(gcm(aes))", bytes(20))
)


# Error translation (no root) ---------------------------------------------------


def test_missing_namespace_is_named():
    with pytest.raises(NamespaceError, match="cyg-no-such-namespace.*ip netns add"):
        Kernel(netns="cyg-no-such-namespace")


def test_permission_errors_name_cap_net_admin():
    policy = XfrmPolicy("out", SEL4, "block", 1)
    assert "CAP_NET_ADMIN" in str(KernelError(errno.EPERM, "add", policy))


def test_missing_esp_type_names_config_inet_esp():
    error = KernelError(errno.EPROTONOSUPPORT, "add", SA)
    assert error.hint == (
        "the kernel has no ESP support (CONFIG_INET_ESP): load the esp4/esp6 modules"
    )
    assert (error.errno, error.op, error.obj) == (errno.EPROTONOSUPPORT, "add", SA)


@pytest.mark.parametrize(
    "config, says, does_not_say",
    [
        (
            {"CONFIG_INET_ESP": "y", "CONFIG_CRYPTO_GCM": "n"},
            ["CONFIG_CRYPTO_GCM"],
            ["ESP"],
        ),
        (
            {"CONFIG_INET_ESP": "n", "CONFIG_CRYPTO_GCM": "y"},
            ["CONFIG_INET_ESP"],
            ["GCM"],
        ),
        (
            {"CONFIG_INET_ESP": "n", "CONFIG_CRYPTO_GCM": "n"},
            ["CONFIG_INET_ESP", "CONFIG_CRYPTO_GCM"],
            [],
        ),
        (
            None,
            ["CONFIG_CRYPTO_GCM", "ESP itself may be missing too (CONFIG_INET_ESP)"],
            [],
        ),
    ],
)
def test_missing_aead_hint_follows_the_kernel_config(
    monkeypatch, config, says, does_not_say
):
    # ENOSYS: the kernel looked the AEAD up before ESP, so the build options
    # decide what to tell the operator.
    monkeypatch.setattr(errors_module, "_kernel_config", lambda: config)
    hint = hint_for(errno.ENOSYS, "add", SA)
    for words in says:
        assert words in hint
    for words in does_not_say:
        assert words not in hint


def test_listing_without_permission_says_reading():
    hint = hint_for(errno.EPERM, "list", "XFRM policies")
    assert hint.startswith("reading") and "CAP_NET_ADMIN" in hint


def test_missing_xfrm_interfaces_name_the_option():
    hint = hint_for(errno.EOPNOTSUPP, "add", XfrmInterface("ipsec0", 1))
    assert "CONFIG_XFRM_INTERFACE" in hint


def test_existing_objects_say_what_to_do():
    assert "update it" in hint_for(
        errno.EEXIST, "add", XfrmPolicy("out", SEL4, "allow", 1)
    )
    assert "new SPI" in hint_for(errno.EEXIST, "add", SA)


@pytest.mark.parametrize("code", [errno.ENOENT, errno.ESRCH, errno.ENODEV])
def test_removing_what_is_gone_counts_as_done(code):
    assert is_gone(code, "remove")
    assert not is_gone(code, "add")


@pytest.mark.parametrize(
    "link, words",
    [
        (XfrmInterface("ipsec0", 0), "if_id 0 is out of range"),
        (XfrmInterface("a-name-too-long-0", 1), "1 to 15 characters"),
        (XfrmInterface("ip sec", 1), "1 to 15 characters"),
    ],
)
def test_bad_interfaces_are_refused_before_the_kernel_sees_them(link, words):
    with Kernel() as kernel:
        with pytest.raises(ValueError, match=words):
            kernel.add(link)
        assert kernel._ipr is None and kernel._xfrm is None  # no socket opened


# The batched exchange, against a stand-in for the kernel's socket (no root) -------


class ScriptedKernelSocket:
    """Answers each sendmsg() like the kernel: one ack per message, here in
    reverse order, failing the messages whose selector priority is in ``fail``."""

    def __init__(self, fail=(), lose_after=None):
        self.fail = set(fail)
        self.lose_after = lose_after
        self.sends = []
        self.queue = []

    def send(self, data):
        self.sends.append(len(data))
        offset, acks = 0, []
        while offset < len(data):
            length, _, flags, seq, _ = struct.unpack_from("=IHHII", data, offset)
            assert flags & 0x5 == 0x5  # NLM_F_REQUEST | NLM_F_ACK
            # priority sits after the selector and the two lifetimes
            (priority,) = struct.unpack_from("=I", data, offset + 16 + 56 + 64 + 32)
            code = -errno.EEXIST if priority in self.fail else 0
            acks.append(struct.pack("=IHHIIi", 36, 2, 0x100, seq, 0, code) + bytes(16))
            offset += length
        self.queue.extend(reversed(acks))
        return len(data)

    def recv_into(self, buffer):
        if self.lose_after is not None and self.lose_after <= 0:
            raise OSError(errno.ENOBUFS, "No buffer space available")
        if self.lose_after is not None:
            self.lose_after -= 1
        data = self.queue.pop(0)
        buffer[: len(data)] = data
        return len(data)


def _policies(count):
    return [
        fastpath.encode_policy_info(XfrmPolicy("out", SEL4, "allow", i), 0x13, 0)
        for i in range(count)
    ]


def test_acks_are_matched_to_messages_by_sequence_number():
    with XfrmSocket() as sock:
        sock._sock = fake = ScriptedKernelSocket(fail={3, 700})
        acks = sock.transact(_policies(1000))
    assert [i for i, ack in enumerate(acks) if ack.errno] == [3, 700]
    assert {acks[3].errno, acks[700].errno} == {errno.EEXIST}
    assert len(fake.sends) > 1 and max(fake.sends) <= 128 * 1024


def test_lost_acks_leave_the_outcome_unknown_not_successful():
    with XfrmSocket() as sock:
        sock._sock = ScriptedKernelSocket(lose_after=10)
        acks = sock.transact(_policies(50))
    assert sum(1 for ack in acks if ack.errno == 0) == 10
    assert sum(1 for ack in acks if ack.errno == errno.ENOBUFS) == 40


# Fresh namespaces (root) ----------------------------------------------------------


@pytest.fixture
def spaces():
    with Namespaces() as made:
        made.add("a")
        made.veth("a", "lan0", "a", "lan1", "192.0.2.1/24", "192.0.2.9/24")
        made.veth("a", "wan0", "a", "wan1", "198.51.100.1/24", "198.51.100.9/24")
        made.address("a", "lan0", "2001:db8::1/64")
        yield made


@pytest.fixture
def kernel(spaces):
    with Kernel(netns=spaces["a"]) as k:
        yield k


POLICIES = {
    "ipv4 block": XfrmPolicy("out", SEL4, "block", 10),
    "ipv4 allow with ports": XfrmPolicy("in", SEL4_PORT, "allow", 20),
    "ipv4 esp template": XfrmPolicy("out", SEL4, "allow", 30, (TMPL4,)),
    "ipv4 esp template if_id": XfrmPolicy("fwd", SEL4, "allow", 40, (TMPL4,), if_id=5),
    "ipv6 block": XfrmPolicy("out", SEL6, "block", 50),
    "ipv6 esp template": XfrmPolicy("in", SEL6, "allow", 60, (TMPL6,)),
}


@root
@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_policy_add_list_get_update_remove(kernel, policy):
    kernel.add(policy)
    listed = kernel.policies()
    assert listed == [policy]
    assert listed[0].owned and listed[0].index > 0
    assert kernel.get_policy(policy.direction, policy.selector, policy.if_id) == policy

    changed = XfrmPolicy(
        policy.direction,
        policy.selector,
        "block",
        policy.priority + 1,
        (),
        policy.if_id,
    )
    kernel.update(changed)
    assert kernel.policies() == [changed]

    kernel.remove(changed)
    assert kernel.policies() == []
    assert kernel.get_policy(policy.direction, policy.selector, policy.if_id) is None


@root
def test_get_policy_leaves_nothing_unread(kernel):
    import select

    kernel.add(POLICIES["ipv4 block"])
    assert kernel.get_policy("out", SEL4) == POLICIES["ipv4 block"]
    assert kernel.get_policy("in", SEL4) is None
    readable, _, _ = select.select([kernel.xfrm.fileno()], [], [], 0)
    assert readable == []


@root
def test_policies_with_other_if_id_are_different_objects(kernel):
    one, two = (
        XfrmPolicy("out", SEL4, "block", 1, if_id=1),
        XfrmPolicy("out", SEL4, "block", 1, if_id=2),
    )
    kernel.add(one)
    kernel.add(two)
    assert sorted(p.if_id for p in kernel.policies()) == [1, 2]
    kernel.remove(one)
    assert kernel.policies() == [two]


@root
def test_adding_an_installed_policy_is_eexist(kernel):
    policy = POLICIES["ipv4 block"]
    kernel.add(policy)
    with pytest.raises(KernelError) as failed:
        kernel.add(policy)
    assert failed.value.errno == errno.EEXIST and "update it" in failed.value.hint


@root
def test_policy_added_by_hand_is_not_owned(kernel, spaces):
    spaces.ip(
        "a",
        "xfrm",
        "policy",
        "add",
        "src",
        "10.9.0.0/24",
        "dst",
        "10.8.0.0/24",
        "dir",
        "out",
        "action",
        "block",
    )
    kernel.add(POLICIES["ipv4 block"])
    owned = {str(p.selector.src): p.owned for p in kernel.policies()}
    assert owned == {"10.9.0.0/24": False, "10.1.0.0/24": True}


@root
def test_policies_outlive_the_lifetime_timer(kernel):
    # The kernel checks a new policy's lifetime one second after inserting it.
    kernel.add(POLICIES["ipv4 esp template"])
    time.sleep(1.5)
    assert kernel.policies() == [POLICIES["ipv4 esp template"]]


@root
def test_removing_what_is_missing_is_not_an_error(kernel):
    missing = [
        POLICIES["ipv4 block"],
        SA,
        Route(N("10.7.0.0/24"), "lan0", 100),
        Rule(N("10.1.0.0/24"), N("10.7.0.0/24"), 100, 1000),
    ]
    for obj in missing:
        kernel.remove(obj)
    assert kernel.batch([("remove", obj) for obj in missing]) == []


@root
def test_batch_reports_exactly_the_failing_message(kernel):
    pairs = [
        (N(f"10.{i // 256}.{i % 256}.0/24"), N("172.16.0.0/16")) for i in range(1500)
    ]
    ops = [
        ("add", XfrmPolicy("out", Selector(s, d), "allow", 1, (TMPL4,)))
        for s, d in pairs
    ]
    duplicate = ops[700][1]
    ops.insert(1200, ("add", duplicate))  # spans several sendmsg() chunks
    errors = kernel.batch(ops)
    assert [(e.errno, e.op, e.obj) for e in errors] == [
        (errno.EEXIST, "add", duplicate)
    ]
    assert len(kernel.policies()) == 1500


@root
def test_batch_of_failures_loses_no_acknowledgement(kernel):
    ops = [("add", XfrmPolicy("out", SEL4, "allow", i)) for i in range(2000)]
    errors = kernel.batch(ops)
    assert len(errors) == 1999
    assert {e.errno for e in errors} == {errno.EEXIST}


@root
def test_batch_keeps_order_across_kinds(kernel, spaces):
    route = Route(N("10.7.0.0/24"), "lan0", 100, A("192.0.2.9"))
    policy = POLICIES["ipv4 block"]
    errors = kernel.batch([("add", policy), ("add", route), ("remove", policy)])
    assert errors == []
    assert kernel.policies() == [] and kernel.routes() == [route]


@root
def test_bad_input_raises_before_any_change(kernel):
    ops = [
        ("add", POLICIES["ipv4 block"]),
        ("add", XfrmPolicy("out", SEL6, "allow", 2**32)),
    ]
    with pytest.raises(ValueError, match="priority"):
        kernel.batch(ops)
    with pytest.raises(ValueError, match="add the new rule"):
        kernel.batch([("update", Rule(N("10.1.0.0/24"), N("10.2.0.0/24"), 100, 10))])
    assert kernel.policies() == []


@root
def test_route_replace_changes_in_place(kernel, spaces):
    first = Route(N("10.7.0.0/24"), "lan0", 254, A("192.0.2.9"))
    second = Route(N("10.7.0.0/24"), "wan0", 254, A("198.51.100.9"))
    kernel.add(first)
    kernel.update(second)
    shown = spaces.ip("a", "route", "show", "10.7.0.0/24").strip().splitlines()
    assert len(shown) == 1
    assert "dev wan0" in shown[0] and "via 198.51.100.9" in shown[0]
    assert "proto 151" in shown[0] or "proto cygnet" in shown[0]
    assert kernel.routes() == [second]
    kernel.remove(second)
    assert kernel.routes() == []


@root
def test_routes_in_other_tables_and_ipv6_are_listed(kernel, spaces):
    routes = [
        Route(N("10.7.0.0/24"), "lan0", 1000),
        Route(N("2001:db8:7::/48"), "lan0", 7),
    ]
    spaces.ip("a", "route", "add", "10.8.0.0/24", "dev", "lan0")  # not Cygnet's
    for route in routes:
        kernel.add(route)
    assert sorted(kernel.routes(), key=str) == sorted(routes, key=str)


@root
def test_rules_add_list_remove(kernel, spaces):
    rules = [
        Rule(N("10.1.0.0/24"), N("10.2.0.0/24"), 100, 1000),
        Rule(N("10.1.0.0/24"), N("10.2.0.0/24"), 0, 1001, "blackhole"),
        Rule(N("::/0"), N("2001:db8:2::/64"), 100, 1002),
    ]
    spaces.ip("a", "rule", "add", "from", "10.9.0.0/24", "lookup", "100", "pref", "999")
    for rule in rules:
        kernel.add(rule)
    assert kernel.rules() == rules
    with pytest.raises(KernelError) as failed:
        kernel.add(rules[0])
    assert failed.value.errno == errno.EEXIST
    for rule in rules:
        kernel.remove(rule)
    assert kernel.rules() == []
    assert "10.9.0.0/24" in spaces.ip("a", "rule", "show")


@root
@pytest.mark.skipif(
    kernel_option("CONFIG_INET_ESP") != "n", reason="this kernel has ESP"
)
def test_adding_an_sa_without_esp_gives_the_esp_hint(kernel):
    with pytest.raises(KernelError) as failed:
        kernel.add(SA)
    # ENOSYS: this kernel checks the AEAD algorithm first, and lacks it too.
    assert failed.value.errno in (errno.ENOSYS, errno.EPROTONOSUPPORT)
    assert "the kernel has no ESP support (CONFIG_INET_ESP)" in failed.value.hint
    assert failed.value.obj is SA and failed.value.op == "add"
    assert kernel.states() == []


@root
@pytest.mark.skipif(
    kernel_option("CONFIG_XFRM_INTERFACE") != "n",
    reason="this kernel has xfrm interfaces",
)
def test_creating_an_xfrm_interface_without_support_gives_the_hint(kernel):
    with pytest.raises(KernelError) as failed:
        kernel.add(XfrmInterface("ipsec7", 7))
    assert failed.value.errno == errno.EOPNOTSUPP
    assert "CONFIG_XFRM_INTERFACE" in failed.value.hint
    assert kernel.interfaces() == []


@root
def test_xfrm_stats_counts_in_the_namespace(spaces):
    spaces.add("b")
    spaces.veth("a", "p0", "b", "p0", "10.77.0.1/24", "10.77.0.2/24")
    with Kernel(netns=spaces["a"]) as a, Kernel(netns=spaces["b"]) as b:
        a.add(
            XfrmPolicy(
                "out", Selector(N("10.77.0.1/32"), N("10.77.0.2/32")), "block", 1
            )
        )
        before_a, before_b = a.xfrm_stats(), b.xfrm_stats()
        for _ in range(3):  # ping gives up at the first refused send
            spaces.exec("a", "ping", "-c", "1", "-W", "1", "10.77.0.2", check=False)
        after_a, after_b = a.xfrm_stats(), b.xfrm_stats()
    assert "XfrmInTmplMismatch" in before_a
    assert after_a["XfrmOutPolBlock"] - before_a["XfrmOutPolBlock"] == 3
    assert after_b == before_b


@root
def test_xfrm_socket_never_creates_a_namespace():
    with pytest.raises(FileNotFoundError):
        XfrmSocket("cyg-no-such-namespace")


@root
@pytest.mark.skipif(
    shutil.which("setpriv") is None, reason="needs util-linux's setpriv"
)
def test_without_cap_net_admin_the_error_says_so(spaces):
    script = (
        "from datapath.kernel import Kernel\n"
        "from datapath.errors import KernelError\n"
        "from tests.datapath.test_kernel import POLICIES\n"
        f"kernel = Kernel(netns={spaces['a']!r})\n"
        "for call in (kernel.policies, lambda: kernel.add(POLICIES['ipv4 block'])):\n"
        "    try:\n"
        "        call()\n"
        "    except KernelError as error:\n"
        "        print(error.errno, error.hint)\n"
    )
    done = subprocess.run(
        ["setpriv", "--bounding-set", "-net_admin", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stderr
    assert all(
        line.startswith(f"{errno.EPERM} ") and "CAP_NET_ADMIN" in line for line in lines
    )


@root
def test_removal_leaves_hand_made_routes_and_rules_alone(kernel, spaces):
    spaces.ip("a", "route", "add", "10.7.0.0/24", "dev", "lan0", "table", "100")
    spaces.ip(
        "a",
        "rule",
        "add",
        "from",
        "10.1.0.0/24",
        "to",
        "10.7.0.0/24",
        "lookup",
        "100",
        "pref",
        "1000",
    )
    kernel.remove(Route(N("10.7.0.0/24"), "lan0", 100))
    kernel.remove(Rule(N("10.1.0.0/24"), N("10.7.0.0/24"), 100, 1000))
    assert "10.7.0.0/24" in spaces.ip("a", "route", "show", "table", "100")
    assert "10.7.0.0/24" in spaces.ip("a", "rule", "show", "pref", "1000")
