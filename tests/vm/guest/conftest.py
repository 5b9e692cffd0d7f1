"""The guest side of the VM tier: runs inside the IPsec-capable kernel as root.

The host boots the VM and runs this suite with ``CYGNET_VM_OUT`` naming a
directory shared with it (see ``tests/vm/harness.py``).  Each test belongs to one
scenario (``@pytest.mark.scenario("rekey")``) and records what it measured in the
``figures`` fixture; after every test the whole report is written again to
``$CYGNET_VM_OUT/report.json``, so a VM that is stopped half-way still tells what
it finished.

``CYGNET_VM_SCENARIOS`` (comma-separated) limits the run to those scenarios.
The suite can also run by hand on any machine whose kernel has ESP and xfrm
interfaces: ``python -m pytest tests/vm/guest -p no:cacheprovider``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import pytest

from .topology import Topology

MODULES = ("esp4", "xfrm_interface", "xfrm_user", "veth", "bridge", "dummy")

_report: dict = {"tests": [], "guest": {}}
_figures: dict[str, dict] = {}


def _out_dir() -> Path | None:
    out = os.environ.get("CYGNET_VM_OUT")
    return Path(out) if out else None


def _write_report() -> None:
    out = _out_dir()
    if out is None:
        return
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps(_report, indent=1, default=str))
    os.replace(tmp, out / "report.json")


def _uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "scenario(name): the VM scenario a test belongs to"
    )
    _report["guest"] = {
        "kernel": platform.release(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "uptime_at_start_s": round(_uptime(), 1),
        "started": time.time(),
    }
    _write_report()


def pytest_sessionstart(session) -> None:
    if os.geteuid() != 0:
        _refuse("the VM suite needs root (it builds namespaces and SAs)")
    failed = subprocess.run(
        ["modprobe", "-a", *MODULES], capture_output=True, text=True, check=False
    )
    if failed.returncode != 0:
        _refuse(f"this kernel lacks IPsec modules: {failed.stderr.strip()}")
    _report["guest"]["modules"] = list(MODULES)
    _write_report()


def _refuse(reason: str) -> None:
    _report["guest"]["error"] = reason
    _write_report()
    pytest.exit(reason, 2)


def pytest_collection_modifyitems(config, items) -> None:
    wanted = {s for s in os.environ.get("CYGNET_VM_SCENARIOS", "").split(",") if s}
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("scenario")
        if marker is None:
            raise pytest.UsageError(f"{item.nodeid} has no @pytest.mark.scenario")
        (keep if not wanted or marker.args[0] in wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def figures(request) -> dict:
    """What the test measured; reported to the host whatever the outcome."""
    return _figures.setdefault(request.node.nodeid, {})


@pytest.fixture
def topo():
    """A fresh S/X/Y/T/U topology, always torn down."""
    topology = Topology()
    topology.build()
    try:
        yield topology
    finally:
        topology.destroy()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # A test's verdict: the first phase that did not pass, else its call phase.
    if report.when == "call" or report.outcome != "passed":
        entry = _entry(item)
        if entry.get("outcome") in (None, "passed"):
            entry["outcome"] = report.outcome
            if report.outcome != "passed":
                entry["phase"] = report.when
                entry["message"] = _message(report)
        entry["duration_s"] = round(entry.get("duration_s", 0) + report.duration, 2)
    elif report.when == "setup":
        _entry(item)["duration_s"] = round(report.duration, 2)
    if report.when == "teardown":
        entry = _entry(item)
        entry["duration_s"] = round(entry.get("duration_s", 0) + report.duration, 2)
        entry["figures"] = _figures.get(item.nodeid, {})
        _report["guest"]["elapsed_s"] = round(
            time.time() - _report["guest"]["started"], 1
        )
        _write_report()


def _entry(item) -> dict:
    for entry in _report["tests"]:
        if entry["nodeid"] == item.nodeid:
            return entry
    marker = item.get_closest_marker("scenario")
    entry = {"nodeid": item.nodeid, "name": item.name, "scenario": marker.args[0]}
    _report["tests"].append(entry)
    return entry


def _message(report) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    text = str(report.longrepr)
    return text if len(text) <= 6000 else "...\n" + text[-6000:]


def pytest_sessionfinish(session, exitstatus) -> None:
    _report["guest"]["exitstatus"] = int(exitstatus)
    _report["guest"]["finished"] = True
    _report["guest"]["elapsed_s"] = round(time.time() - _report["guest"]["started"], 1)
    _write_report()
