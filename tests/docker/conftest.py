"""The Docker appliance tier: a private dockerd in a network namespace of its own.

Nothing here touches the machine's own network namespace or its docker, if any:
``docker/dockerd-netns`` starts a dockerd whose bridge, iptables rules and
host-networked containers all live in the namespace it is given, with its own
socket, data-root and exec-root under a temporary directory.

Slow parts are cached in ``$CYGNET_CACHE`` (default ``/var/cache/cygnet-ci``),
outside the repository: the debootstrap root file system and the wheels.  A
first run takes a few minutes; a cached one well under two.

The figures measured along the way (base image, build, chain) are printed at
the end of the run and written to ``artifacts/docker-tier.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.docker.figures import FIGURES

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CYGNET_CACHE", "/var/cache/cygnet-ci"))
DOCKER = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"
BASE_IMAGE = "cygnet-base:bookworm"
IMAGE = "cygnet:tier"
CONTEXT_PATHS = (
    "Dockerfile",
    "docker-compose.yml",
    ".dockerignore",
    "pyproject.toml",
    "README.md",
    "app",
    "datapath",
    "migrations",
    "templates",
    "docker",
)


def _run(
    *args: str, check: bool = True, env: dict | None = None, timeout: float = 300, **kw
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        args,
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        **kw,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}\n"
            f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
        )
    return proc


def _missing_tools() -> list[str]:
    missing = []
    if not os.access(DOCKERD, os.X_OK) or not os.access(DOCKER, os.X_OK):
        missing.append("docker.io")
    if shutil.which("docker-compose") is None:
        missing.append("docker-compose")
    if shutil.which("debootstrap") is None:
        missing.append("debootstrap")
    return missing


def why_no_docker(install: bool = False) -> str | None:
    """Why this tier cannot run here, or None.

    With ``install`` (only once the tier is really about to run, never while
    tests are being collected) a missing tool is installed by .ci/install-docker.
    """
    if os.geteuid() != 0:
        return "needs root: network namespaces, mounts and a dockerd of its own"
    if _missing_tools() and install:
        proc = _run(str(ROOT / ".ci/install-docker"), check=False, timeout=600)
        if _missing_tools():
            return (
                f"{', '.join(_missing_tools())} missing and .ci/install-docker "
                f"failed: {proc.stderr.strip()[-300:]}"
            )
    return None


@dataclass
class Dockerd:
    """A dockerd running inside network namespace ``ns``."""

    ns: str
    state: Path
    host: str = ""

    def start(self) -> Dockerd:
        started = time.monotonic()
        out = _run(
            str(ROOT / "docker/dockerd-netns"),
            "start",
            str(self.state),
            self.ns,
            timeout=60,
        ).stdout
        self.host = out.strip().splitlines()[-1]
        FIGURES["dockerd start (s)"] = round(time.monotonic() - started, 1)
        return self

    def stop(self) -> None:
        _run(
            str(ROOT / "docker/dockerd-netns"),
            "stop",
            str(self.state),
            self.ns,
            check=False,
            timeout=60,
        )

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DOCKER_HOST": self.host,
            "DOCKER": f"{DOCKER} -H {self.host}",
        }

    def docker(self, *args: str, check: bool = True, timeout: float = 300):
        return _run(DOCKER, "-H", self.host, *args, check=check, timeout=timeout)

    def nsexec(self, *args: str, check: bool = True, timeout: float = 60, **kw):
        """Run a command in the namespace (the container's network, host mode)."""
        return _run(
            "nsenter",
            f"--net=/run/netns/{self.ns}",
            *args,
            check=check,
            timeout=timeout,
            **kw,
        )


@dataclass
class Compose:
    """docker-compose on a copy of the repository's compose file and context."""

    dockerd: Dockerd
    context: Path
    project: str
    environment: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            **self.dockerd.env,
            # Compose 1.29 builds through the daemon's API, never a docker CLI.
            "COMPOSE_DOCKER_CLI_BUILD": "0",
            "COMPOSE_PROJECT_NAME": self.project,
            "CYGNET_BASE_IMAGE": BASE_IMAGE,
            "CYGNET_OFFLINE": "1",
            "CYGNET_IMAGE": IMAGE,
            **self.environment,
        }

    def __call__(self, *args: str, check: bool = True, timeout: float = 300, **kw):
        return _run(
            "docker-compose",
            "-f",
            str(self.context / "docker-compose.yml"),
            *args,
            check=check,
            env=self.env(),
            timeout=timeout,
            **kw,
        )

    def container(self) -> str:
        return self("ps", "-q", "cygnet").stdout.strip()

    def health(self) -> str:
        cid = self.container()
        if not cid:
            return "absent"
        return self.dockerd.docker(
            "inspect", "--format", "{{.State.Health.Status}}", cid
        ).stdout.strip()

    def wait_healthy(self, timeout: float = 90) -> float:
        """Seconds until the container's health check says healthy."""
        started = time.monotonic()
        status = ""
        while time.monotonic() - started < timeout:
            status = self.health()
            if status == "healthy":
                return time.monotonic() - started
            time.sleep(0.5)
        logs = self("logs", "--tail", "60", check=False).stdout
        raise AssertionError(f"container {status} after {timeout} s; logs:\n{logs}")


def make_context(dest: Path) -> Path:
    """Copy what the image is built from, plus the cached wheels, to ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.whl")
    for name in CONTEXT_PATHS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)
    started = time.monotonic()
    _run(
        str(ROOT / "docker/fetch-wheels"),
        str(dest / "docker/wheels"),
        env={**os.environ, "CYGNET_CACHE": str(CACHE), "PYTHON": sys.executable},
        timeout=600,
    )
    FIGURES["wheels (s)"] = round(time.monotonic() - started, 1)
    return dest


def build_base_image(dockerd: Dockerd) -> str:
    started = time.monotonic()
    _run(
        str(ROOT / "docker/build-base-image"),
        BASE_IMAGE,
        env={**dockerd.env, "CYGNET_CACHE": str(CACHE)},
        timeout=600,
    )
    FIGURES["base image (s)"] = round(time.monotonic() - started, 1)
    return BASE_IMAGE


def image_size_mb(dockerd: Dockerd, image: str) -> float:
    size = dockerd.docker("image", "inspect", "--format", "{{.Size}}", image).stdout
    return round(int(size) / 1e6, 1)


@dataclass
class Tier:
    """FreeS/WAN's topology with a dockerd in gateway X and the image built."""

    topo: object
    dockerd: Dockerd
    compose: Compose


@pytest.fixture(scope="package")
def tier(tmp_path_factory):
    """Built once for the whole tier (a second build would only cost time) and
    taken down when its last test is done."""
    reason = why_no_docker(install=True)
    if reason is None:
        from tests.topology import can_build

        reason = can_build()
    if reason:
        pytest.skip(reason)
    from tests.topology import Topology

    started = time.monotonic()
    topo = Topology().build()
    dockerd = Dockerd(topo.ns("x"), tmp_path_factory.mktemp("dockerd"))
    try:
        dockerd.start()
        build_base_image(dockerd)
        context = make_context(tmp_path_factory.mktemp("context"))
        compose = Compose(dockerd, context, "cygnettier", {"CYGNET_GATEWAY": "x"})
        build_started = time.monotonic()
        compose("build")
        FIGURES["image build (s)"] = round(time.monotonic() - build_started, 1)
        FIGURES["image size (MB)"] = image_size_mb(dockerd, IMAGE)
        FIGURES["cold chain to image (s)"] = round(time.monotonic() - started, 1)
        yield Tier(topo, dockerd, compose)
    finally:
        dockerd.stop()
        topo.destroy()
        FIGURES["docker tier (s)"] = round(time.monotonic() - started, 1)


def pytest_terminal_summary(terminalreporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("docker tier figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name:32} {value}")
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "docker-tier.json").write_text(json.dumps(FIGURES, indent=2) + "\n")
