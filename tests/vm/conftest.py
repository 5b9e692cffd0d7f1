"""Host side of the VM tier: one VM per session, each scenario its own test.

``pytest tests/vm -m vm -s`` boots the VM once (see :mod:`tests.vm.harness`),
runs the guest suite for the scenarios whose host tests were selected, and each
host test then asserts its scenario's verdict and prints its figures.  The
summary goes to ``artifacts/vm-summary.json`` and is printed at the end.

The guest suite (``tests/vm/guest``) only ever runs inside the VM; the host never
collects it.
"""

from __future__ import annotations

import json

import pytest

from . import harness

collect_ignore = ["guest"]

_summary: dict | None = None


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "vm_scenario(name): the guest scenario a host-side VM test reports"
    )


def pytest_collection_modifyitems(items) -> None:
    # "-k rekey" selects a scenario by its guest name, whatever its test is called.
    for item in items:
        marker = item.get_closest_marker("vm_scenario")
        if marker is not None:
            item.extra_keyword_matches.add(marker.args[0])


def _selected_scenarios(session) -> list[str]:
    names = []
    for item in session.items:
        marker = item.get_closest_marker("vm_scenario")
        if marker is not None and marker.args[0] not in names:
            names.append(marker.args[0])
    return names


@pytest.fixture(scope="session")
def vm_run(request) -> harness.GuestRun:
    """The one VM of this session, already run to completion."""
    global _summary
    reason = harness.unavailable_reason()
    if reason is not None:
        pytest.skip(f"VM cannot boot: {reason}")

    scenarios = _selected_scenarios(request.session)
    capture_off = request.config.getoption("capture") == "no"
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")

    def echo(line: str) -> None:
        if capture_off and terminal is not None:
            terminal.write_line(f"[vm] {line}")

    run = harness.run_guest(scenarios, echo=echo)
    _summary = harness.write_summary(run, scenarios)
    return run


def pytest_terminal_summary(terminalreporter) -> None:
    if _summary is None:
        return
    terminalreporter.section(f"VM tier summary ({harness.SUMMARY})")
    terminalreporter.write_line(json.dumps(_summary, indent=1, default=str))
