"""Turning the guest's report into a host-side verdict."""

from __future__ import annotations

import pytest

from .harness import GuestRun


def check_scenario(run: GuestRun, scenario: str) -> None:
    """Print the scenario's figures, then fail unless every guest test passed."""
    tests = run.tests_of(scenario)
    for test in tests:
        print(
            f"\n[{scenario}] {test['name']}: {test.get('outcome', 'unfinished')} "
            f"in {test.get('duration_s', '?')} s"
        )
        for name, value in test.get("figures", {}).items():
            print(f"    {name} = {value}")
    if not tests:
        pytest.fail(
            f"no result for scenario {scenario!r}: {run.why_silent()}", pytrace=False
        )
    bad = [t for t in tests if t.get("outcome") != "passed"]
    if bad:
        details = "\n\n".join(
            f"{t['nodeid']} {t.get('outcome', 'unfinished')} "
            f"({t.get('phase', 'call')}):\n{t.get('message', run.why_silent())}"
            for t in bad
        )
        pytest.fail(
            f"scenario {scenario!r} failed in the guest:\n{details}", pytrace=False
        )
