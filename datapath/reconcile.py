"""Move the kernel from what it has to what the compiled plan says, never opening a gap.

Only objects Cygnet owns are compared and changed; ownership is read from the
kernel (see :mod:`datapath.objects`), so a policy added by hand is never touched
and a restarted Cygnet picks up where it left off.

Steps run in phases chosen so protection never lapses:

1. xfrm interfaces the tunnels need;
2. policies that protect (ESP templates) or block, added or updated in place;
3. SAs;
4. routes (replaced in place, never deleted first) and rules;
5. policies that allow cleartext;
6. removals, most permissive first: rules, routes, allow policies, protecting
   policies, SAs, interfaces.

A replaced policy's successor is therefore always in place before it goes.  When
a phase fails the apply stops there: nothing is removed, and every protecting
policy already installed keeps its traffic dropped until keys arrive.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

from datapath.errors import KernelError
from datapath.objects import (
    KernelObject,
    Route,
    Rule,
    XfrmInterface,
    XfrmPolicy,
    XfrmState,
)
from datapath.plan import CompiledPlan

log = logging.getLogger(__name__)

Op = Literal["add", "update", "remove"]


@dataclass(frozen=True)
class Step:
    op: Op
    obj: KernelObject
    before: KernelObject | None = None
    phase: int = 0

    def __str__(self) -> str:
        mark = {"add": "+", "update": "~", "remove": "-"}[self.op]
        origin = f"  ({self.obj.origin})" if getattr(self.obj, "origin", "") else ""
        return f"{mark} {self.obj}{origin}"

    def to_dict(self) -> dict:
        data = {
            "op": self.op,
            "kind": type(self.obj).__name__,
            "object": str(self.obj),
            "origin": getattr(self.obj, "origin", ""),
            "phase": self.phase,
        }
        if self.before is not None:
            data["before"] = str(self.before)
        return data


@dataclass
class Plan:
    """What an apply would change, step by step, in the order it would run."""

    gateway: str
    revision: int
    steps: list[Step]
    unchanged: int

    @property
    def empty(self) -> bool:
        return not self.steps

    def counts(self) -> dict[str, int]:
        counts = {"add": 0, "update": 0, "remove": 0}
        for step in self.steps:
            counts[step.op] += 1
        return counts

    def tunnels(self) -> list[str]:
        """The intent policies and tunnels whose kernel objects the plan touches."""
        return sorted({s.obj.origin for s in self.steps if getattr(s.obj, "origin", "")})

    def render(self) -> str:
        counts = self.counts()
        head = (
            f"gateway {self.gateway} at revision {self.revision}: "
            f"{counts['add']} to add, {counts['update']} to change, "
            f"{counts['remove']} to remove, {self.unchanged} unchanged"
        )
        if self.empty:
            return head + "\nthe kernel already matches the intent"
        lines = [head]
        for step in self.steps:
            lines.append(str(step))
            if step.op == "update" and step.before is not None:
                lines.append(f"    was {step.before}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "gateway": self.gateway,
            "revision": self.revision,
            "counts": self.counts(),
            "unchanged": self.unchanged,
            "touches": self.tunnels(),
            "steps": [s.to_dict() for s in self.steps],
        }


@dataclass
class ApplyResult:
    plan: Plan
    applied: int = 0
    errors: list[KernelError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.ok:
            return (
                f"applied {self.applied} change(s) to gateway {self.plan.gateway} "
                f"in {self.seconds:.2f} s"
            )
        first = self.errors[0]
        return (
            f"apply stopped after {self.applied} of {len(self.plan.steps)} change(s): "
            f"{first}. Nothing was removed; protected traffic stays dropped until this "
            "is fixed and apply runs again."
        )


# Called after each step the kernel accepted: (steps applied so far, steps in
# the plan, the step).
Progress = Callable[[int, int, Step], None]


def current_objects(kernel) -> list[KernelObject]:
    """The objects Cygnet owns in ``kernel``, read from the kernel itself."""
    objects: list[KernelObject] = []
    for dump in (kernel.interfaces, kernel.policies, kernel.states, kernel.routes,
                 kernel.rules):
        objects.extend(o for o in dump() if o.owned)
    return objects


def diff(kernel, compiled: CompiledPlan, *, states: bool = True,
         remove: bool = True) -> Plan:
    """The plan that takes ``kernel`` to ``compiled``; changes nothing.

    With ``states=False`` SAs are neither added nor removed (the guard's view);
    with ``remove=False`` nothing is removed.
    """
    return diff_objects(current_objects(kernel), compiled, states=states, remove=remove)


def diff_objects(current: list[KernelObject], compiled: CompiledPlan, *,
                 states: bool = True, remove: bool = True) -> Plan:
    have = {o.key(): o for o in current}
    want = {o.key(): o for o in compiled.objects()}
    steps: list[Step] = []
    unchanged = 0

    for key, obj in want.items():
        old = have.get(key)
        if isinstance(obj, XfrmState) and not states:
            continue
        if old is None:
            steps.append(Step("add", obj, phase=_phase(obj)))
        elif old == obj:
            unchanged += 1
        elif isinstance(obj, (XfrmState, XfrmInterface, Rule)):
            # The kernel cannot change these in place (an SA's key, an interface's
            # if_id).  Normal operation never gets here: new keys get new SPIs.
            # Only drift does, and it is repaired by removing and adding again.
            steps.append(Step("remove", old, phase=_phase(obj)))
            steps.append(Step("add", obj, phase=_phase(obj)))
        else:
            steps.append(Step("update", obj, before=old, phase=_phase(obj)))

    if remove:
        for key, old in have.items():
            if key in want or (isinstance(old, XfrmState) and not states):
                continue
            steps.append(Step("remove", old, phase=6))

    steps.sort(key=_step_order)
    return Plan(compiled.gateway, compiled.revision, steps, unchanged)


def _phase(obj: KernelObject) -> int:
    if isinstance(obj, XfrmInterface):
        return 1
    if isinstance(obj, XfrmPolicy):
        return 2 if obj.templates or obj.action == "block" else 5
    if isinstance(obj, XfrmState):
        return 3
    return 4


_REMOVAL_ORDER = (Rule, Route, "allow", "protect", XfrmState, XfrmInterface)


def _removal_rank(obj: KernelObject) -> int:
    if isinstance(obj, XfrmPolicy):
        kind = "protect" if obj.templates or obj.action == "block" else "allow"
        return _REMOVAL_ORDER.index(kind)
    return _REMOVAL_ORDER.index(type(obj))


def _step_order(step: Step) -> tuple:
    # Within a phase keep removals of replaced drift ahead of their re-adds.
    within = _removal_rank(step.obj) if step.phase == 6 else 0
    return (step.phase, within, 0 if step.op == "remove" else 1)


def apply(kernel, compiled: CompiledPlan, *, progress: Progress | None = None,
          states: bool = True, remove: bool = True) -> ApplyResult:
    """Apply ``compiled`` to ``kernel`` phase by phase; stop at the first failure."""
    started = time.monotonic()
    plan = diff(kernel, compiled, states=states, remove=remove)
    result = ApplyResult(plan)
    total = len(plan.steps)

    phases: dict[int, list[Step]] = {}
    for step in plan.steps:
        phases.setdefault(step.phase, []).append(step)

    for number in sorted(phases):
        steps = phases[number]
        # Drift repairs remove before they add: run those one by one, in order.
        if any(s.op == "remove" for s in steps) and number != 6:
            errors = []
            for step in steps:
                errors.extend(kernel.batch([(step.op, step.obj)]))
                if errors:
                    break
        else:
            errors = kernel.batch([(s.op, s.obj) for s in steps])
        if errors:
            result.errors = errors
            result.applied += len(steps) - len(errors)
            for error in errors:
                log.error("gateway %s: %s", compiled.gateway, error)
            break
        for step in steps:
            log.info("gateway %s: %s", compiled.gateway, step)
            result.applied += 1
            if progress is not None:
                progress(result.applied, total, step)

    result.seconds = time.monotonic() - started
    return result


def guard(kernel, compiled: CompiledPlan) -> ApplyResult:
    """Install the plan's policies, interfaces, routes and rules, but no SAs.

    For boot, before forwarding is on: protected pairs are dropped until keys
    arrive and the full apply takes over.  Nothing is removed.
    """
    return apply(kernel, compiled, states=False, remove=False)
