"""The systemd units for installs without Docker."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
UNITS = ("cygnet-guard.service", "cygnet.service")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(PACKAGING / name)
    return parser


def test_guard_runs_before_the_network_is_up():
    guard = unit("cygnet-guard.service")["Unit"]

    assert "network-pre.target" in guard["Before"].split()
    assert "network-pre.target" in guard["Wants"].split()
    assert guard["DefaultDependencies"] == "no"


def test_cygnet_starts_after_the_guard_and_holds_only_net_admin():
    service = unit("cygnet.service")

    assert "cygnet-guard.service" in service["Unit"]["After"].split()
    assert "cygnet-guard.service" in service["Unit"]["Wants"].split()
    assert service["Service"]["CapabilityBoundingSet"] == "CAP_NET_ADMIN"
    assert "cygnet db upgrade" in service["Service"]["ExecStartPre"]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package systemd)",
)
def test_units_pass_systemd_analyze_verify(tmp_path):
    cygnet = Path(sys.prefix) / "bin" / "cygnet"
    if not cygnet.exists():
        pytest.skip(f"{cygnet} is missing: pip install -e . first")
    for name in UNITS:
        text = (
            (PACKAGING / name)
            .read_text()
            .replace("/opt/cygnet/bin/cygnet", str(cygnet))
        )
        (tmp_path / name).write_text(text)

    done = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / n) for n in UNITS)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "cygnet" in line] == []
