"""The reconciler against an in-memory kernel: ordering, idempotence, fail-closed."""

import errno
from dataclasses import replace

from datapath.compiler import compile_gateway
from datapath.errors import KernelError
from datapath.intent import SAKey
from datapath.objects import Selector, XfrmPolicy, XfrmState
from datapath.reconcile import apply, diff, guard

from tests.datapath.intents import broad_with_exception, build, freeswan, net


class MemoryKernel:
    """Holds objects by key like the kernel does and records every operation."""

    def __init__(self, fail_kind=None, fail_errno=errno.EPROTONOSUPPORT):
        self.objects = {}
        self.ops = []
        self.fail_kind = fail_kind
        self.fail_errno = fail_errno

    def _dump(self, kind):
        return [o for o in self.objects.values() if isinstance(o, kind)]

    def policies(self):
        return self._dump(XfrmPolicy)

    def states(self):
        return self._dump(XfrmState)

    def interfaces(self):
        from datapath.objects import XfrmInterface
        return self._dump(XfrmInterface)

    def routes(self):
        from datapath.objects import Route
        return self._dump(Route)

    def rules(self):
        from datapath.objects import Rule
        return self._dump(Rule)

    def batch(self, ops):
        errors = []
        for op, obj in ops:
            if self.fail_kind and isinstance(obj, self.fail_kind) and op != "remove":
                errors.append(KernelError(self.fail_errno, op, obj))
                continue
            self.ops.append((op, obj))
            if op == "remove":
                self.objects.pop(obj.key(), None)
            else:
                self.objects[obj.key()] = obj
        return errors


def protective(kernel, origin):
    return [p for p in kernel.policies()
            if p.origin == origin and (p.templates or p.action == "block")]


def test_second_apply_changes_nothing():
    kernel = MemoryKernel()
    compiled = compile_gateway(broad_with_exception(), "hub")
    first = apply(kernel, compiled)
    assert first.ok and first.applied == len(compiled.objects())
    count = len(kernel.ops)
    again = apply(kernel, compiled)
    assert again.ok and again.applied == 0 and len(kernel.ops) == count
    assert diff(kernel, compiled).empty


def test_foreign_policy_is_never_touched():
    kernel = MemoryKernel()
    foreign = XfrmPolicy("out", Selector(net("10.1.0.0/24"), net("10.9.0.0/24")),
                         "block", 5, owned=False)
    kernel.objects[foreign.key()] = foreign
    apply(kernel, compile_gateway(freeswan(), "x"))
    assert kernel.objects[foreign.key()] is foreign
    assert all(obj is not foreign for _, obj in kernel.ops)


def test_progress_is_told_of_every_step_in_order():
    kernel = MemoryKernel()
    seen = []

    result = apply(kernel, compile_gateway(freeswan(), "x"),
                   progress=lambda done, total, step: seen.append((done, total, step)))

    total = len(result.plan.steps)
    assert [done for done, _, _ in seen] == list(range(1, total + 1))
    assert {t for _, t, _ in seen} == {total}
    assert [step for _, _, step in seen] == sorted(
        result.plan.steps, key=lambda s: s.phase)


def test_protection_is_installed_before_clear_and_removals_come_last():
    kernel = MemoryKernel()
    apply(kernel, compile_gateway(freeswan(), "x"))
    # Narrow S-U from /24 to /25: the successor must be in before the old one goes.
    intent = freeswan()
    narrowed = [p if p.name != "s-u" else replace(p, b=net("10.3.0.0/25"))
                for p in intent.policies]
    kernel.ops.clear()
    apply(kernel, compile_gateway(build(intent.gateways, intent.subnets, narrowed), "x"))
    adds = [i for i, (op, o) in enumerate(kernel.ops) if op == "add"]
    removes = [i for i, (op, o) in enumerate(kernel.ops) if op == "remove"]
    assert adds and removes and max(adds) < min(removes)


def test_change_of_action_is_an_update_in_place():
    kernel = MemoryKernel()
    apply(kernel, compile_gateway(freeswan(), "x"))
    intent = freeswan()
    flipped = [replace(p, action="drop") if p.name == "s-t" else p
               for p in intent.policies]
    kernel.ops.clear()
    apply(kernel, compile_gateway(build(intent.gateways, intent.subnets, flipped), "x"))
    assert kernel.ops and {op for op, _ in kernel.ops} == {"update"}


def test_failure_half_way_stops_and_leaves_protected_pairs_dropped():
    keys = (SAKey("x", "y", 0x100, b"k" * 36, 1), SAKey("y", "x", 0x200, b"m" * 36, 1))
    kernel = MemoryKernel(fail_kind=XfrmState)
    result = apply(kernel, compile_gateway(freeswan(keys=keys), "x"))
    assert not result.ok
    assert result.errors[0].errno == errno.EPROTONOSUPPORT
    assert "stopped" in result.summary()
    assert protective(kernel, "s-u"), "S-U must be held by policies needing ESP"
    # Phase 5 (cleartext allows) never ran: nothing was opened after the failure.
    assert not any(p.origin == "s-t" for p in kernel.policies())


def test_guard_installs_policies_but_no_sas_and_removes_nothing():
    keys = (SAKey("x", "y", 0x100, b"k" * 36, 1),)
    kernel = MemoryKernel()
    stale = XfrmPolicy("out", Selector(net("10.7.0.0/24"), net("10.8.0.0/24")), "block", 9)
    kernel.objects[stale.key()] = stale
    compiled = compile_gateway(freeswan(keys=keys), "x")
    result = guard(kernel, compiled.without_states())
    assert result.ok
    assert not kernel.states()
    assert stale.key() in kernel.objects
    assert protective(kernel, "s-u")


def test_plan_renders_every_step_with_its_origin():
    kernel = MemoryKernel()
    plan = diff(kernel, compile_gateway(freeswan(), "x"))
    text = plan.render()
    assert text.startswith("gateway x at revision 0:")
    assert "+ policy out src 10.1.0.0/24 dst 10.3.0.0/24" in text and "(s-u)" in text
    data = plan.to_dict()
    assert data["counts"]["add"] == len(plan.steps) and "s-u" in data["touches"]
