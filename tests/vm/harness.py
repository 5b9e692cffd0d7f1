"""Boot the IPsec-capable VM once and bring back the guest suite's report.

The host's kernel has XFRM policies but no ESP and no xfrm interfaces, so the
datapath's real tests run under Debian's stock kernel booted by virtme-ng under
QEMU TCG (no KVM).  The guest sees the host's filesystem read-only (copy on
write), so it runs this checkout's code with this checkout's virtualenv; one
host directory, ``artifacts/vm``, is shared writable to bring the report back.

Every path is derived from this file, so the tier runs from any checkout.
"""

from __future__ import annotations

import compileall
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUEST_SUITE = REPO / "tests" / "vm" / "guest"
ARTIFACTS = REPO / "artifacts"
OUT = ARTIFACTS / "vm"
SUMMARY = ARTIFACTS / "vm-summary.json"

# Whole-VM budget: the tier must fit in 30 minutes of CI.
DEFAULT_TIMEOUT = 28 * 60


@dataclass
class GuestRun:
    """What came back from one VM: the guest's report and how the VM ended."""

    report: dict
    returncode: int | None
    timed_out: bool
    wall_s: float
    boot_s: float | None
    console: Path
    command: list[str] = field(default_factory=list)

    def tests_of(self, scenario: str) -> list[dict]:
        return [t for t in self.report.get("tests", []) if t["scenario"] == scenario]

    def why_silent(self) -> str:
        """Why a scenario has no result, in words an operator can act on."""
        guest = self.report.get("guest", {})
        if guest.get("error"):
            return f"the guest suite refused to run: {guest['error']}"
        if self.timed_out:
            return (
                f"the VM was stopped after {self.wall_s:.0f} s "
                f"(CYGNET_VM_TIMEOUT); see {self.console}"
            )
        if not guest:
            return (
                f"the VM never started the guest suite (exit {self.returncode}); "
                f"see {self.console}"
            )
        return f"the guest suite did not run it (exit {self.returncode}); see {self.console}"


def venv_bin() -> Path:
    """The virtualenv this pytest runs from (its ``bin`` holds vng and cygnet)."""
    return Path(sys.executable).parent


def find_vng() -> str | None:
    candidate = venv_bin() / "vng"
    if candidate.exists():
        return str(candidate)
    return shutil.which("vng")


def _has_ipsec_modules(version: str) -> bool:
    dep = Path("/lib/modules") / version / "modules.dep"
    try:
        text = dep.read_text()
    except OSError:
        return False
    return "/esp4.ko" in text and "/xfrm_interface.ko" in text


def find_kernel() -> Path | None:
    """The newest /boot/vmlinuz-* whose modules include ESP and xfrm interfaces."""
    override = os.environ.get("CYGNET_VM_KERNEL")
    if override:
        return Path(override)

    def version_key(path: Path):
        return [int(n) for n in re.findall(r"\d+", path.name)]

    for image in sorted(Path("/boot").glob("vmlinuz-*"), key=version_key, reverse=True):
        if _has_ipsec_modules(image.name.removeprefix("vmlinuz-")):
            return image
    return None


def unavailable_reason() -> str | None:
    """Why the VM cannot boot here, or None when it can."""
    if os.geteuid() != 0:
        return "the VM tier needs root (the guest runs as the host user and builds namespaces)"
    if find_vng() is None:
        return "virtme-ng (vng) is not installed: run 'bash .ci/install-vm' as root"
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 is not installed: run 'bash .ci/install-vm' as root"
    kernel = find_kernel()
    if kernel is None:
        return (
            "no /boot/vmlinuz-* with esp4 and xfrm_interface modules: "
            "run 'bash .ci/install-vm' as root (it installs linux-image-amd64)"
        )
    if not os.access(kernel, os.R_OK):
        return f"{kernel} is not readable: run 'chmod a+r {kernel}'"
    return None


def guest_command(out: Path, scenarios: list[str]) -> str:
    """The shell command the guest runs: the guest suite with this virtualenv."""
    python = venv_bin() / "python"
    env = {
        "PATH": f"{venv_bin()}:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        # Entry-point plugins (hypothesis, ...) would cost seconds each under TCG.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "CYGNET_VM_OUT": str(out),
        "CYGNET_VM_SCENARIOS": ",".join(scenarios),
        "PYTHONPATH": str(REPO),
    }
    # Scenario settings given on the host (CYGNET_VM_RESTARTS, ...) go in too.
    for name, value in os.environ.items():
        if name.startswith("CYGNET_VM_") and name not in env:
            env[name] = value
    pytest_args = [
        str(python),
        "-m",
        "pytest",
        str(GUEST_SUITE.relative_to(REPO)),
        "-p",
        "no:cacheprovider",
        f"--confcutdir={GUEST_SUITE}",
        "-o",
        "addopts=",
        "-v",
        "-rA",
        "--tb=short",
        f"--junitxml={out / 'guest-junit.xml'}",
    ]
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"cd {shlex.quote(str(REPO))} && export {exports} && " + " ".join(
        shlex.quote(a) for a in pytest_args
    )


def boot_command(kernel: Path, out: Path, scenarios: list[str]) -> list[str]:
    return [
        find_vng(),
        "--disable-kvm",
        "--run",
        str(kernel),
        "--memory",
        os.environ.get("CYGNET_VM_MEMORY", "2G"),
        "--cpus",
        os.environ.get("CYGNET_VM_CPUS", str(min(2, os.cpu_count() or 1))),
        "--rwdir",
        str(out),
        # Separate slab caches, so /proc/slabinfo shows xfrm_state by name.
        "--append",
        "slab_nomerge",
        "--",
        guest_command(out, scenarios),
    ]


def run_guest(
    scenarios: list[str], echo=None, timeout: float | None = None
) -> GuestRun:
    """Boot the VM, run the guest suite for ``scenarios``, return its report.

    ``echo`` receives each console line as it arrives (for ``pytest -s``).
    """
    if timeout is None:
        timeout = float(os.environ.get("CYGNET_VM_TIMEOUT", DEFAULT_TIMEOUT))
    kernel = find_kernel()
    OUT.mkdir(parents=True, exist_ok=True)
    # The guest writes no bytecode and compiles 37 times slower: bring the
    # checkout's up to date here first, in seconds.
    compileall.compile_dir(REPO / "app", quiet=1)
    compileall.compile_dir(REPO / "datapath", quiet=1)
    compileall.compile_dir(GUEST_SUITE, quiet=1)
    for stale in ("report.json", "guest-junit.xml", "console.log"):
        (OUT / stale).unlink(missing_ok=True)
    command = boot_command(kernel, OUT, scenarios)
    console = OUT / "console.log"
    env = dict(
        os.environ, PATH=f"{venv_bin()}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    )

    started = time.monotonic()
    boot_s = None
    timed_out = False
    with open(console, "w") as log:
        log.write("$ " + shlex.join(command) + "\n")
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
        deadline = started + timeout
        for raw in _lines(proc, deadline):
            line = raw.decode(errors="replace").rstrip("\r\n")
            if boot_s is None and "test session starts" in line:
                boot_s = time.monotonic() - started
            log.write(line + "\n")
            log.flush()
            if echo is not None:
                echo(line)
        if proc.poll() is None:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    wall_s = time.monotonic() - started

    try:
        report = json.loads((OUT / "report.json").read_text())
    except (OSError, ValueError):
        report = {}
    return GuestRun(
        report, proc.returncode, timed_out, wall_s, boot_s, console, command
    )


def _lines(proc: subprocess.Popen, deadline: float):
    """The process's output lines until it ends or the deadline passes."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buffer = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if not sel.select(timeout=min(left, 5)):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from lines
    if buffer:
        yield buffer


def verdict(tests: list[dict]) -> str:
    if not tests:
        return "missing"
    outcomes = {t.get("outcome", "unfinished") for t in tests}
    for worst in ("failed", "unfinished", "skipped"):
        if worst in outcomes:
            return worst
    return "passed"


def write_summary(run: GuestRun, scenarios: list[str]) -> dict:
    """``artifacts/vm-summary.json``: each scenario's verdict and figures."""
    guest = run.report.get("guest", {})
    summary = {
        "kernel": guest.get("kernel"),
        "vm_wall_s": round(run.wall_s, 1),
        "vm_boot_to_suite_s": None if run.boot_s is None else round(run.boot_s, 1),
        "guest_suite_s": guest.get("elapsed_s"),
        "timed_out": run.timed_out,
        "scenarios": [],
    }
    for name in scenarios:
        tests = run.tests_of(name)
        summary["scenarios"].append(
            {
                "scenario": name,
                "verdict": verdict(tests),
                "figures": {t["name"]: t.get("figures", {}) for t in tests},
                "seconds": round(sum(t.get("duration_s", 0) for t in tests), 1),
            }
        )
    ARTIFACTS.mkdir(exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary
