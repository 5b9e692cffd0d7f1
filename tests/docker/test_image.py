"""The image and the compose file, built the way an offline appliance builds them."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from tests.docker.conftest import (
    FIGURES, IMAGE, Compose, Dockerd, build_base_image, image_size_mb, make_context,
    why_no_docker, ROOT, _run,
)

needs_docker = pytest.mark.skipif(why_no_docker() is not None,
                                  reason=str(why_no_docker()))


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose is not installed: run .ci/install-docker")
def test_compose_file_validates_and_demands_a_gateway_name():
    compose = ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"]
    env = {k: v for k, v in os.environ.items() if k != "CYGNET_GATEWAY"}

    ok = _run(*compose, check=False, env={**env, "CYGNET_GATEWAY": "x"})
    missing = _run(*compose, check=False, env=env)

    assert ok.returncode == 0, ok.stderr
    assert missing.returncode != 0
    assert "set CYGNET_GATEWAY in .env" in missing.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    dockerd = Dockerd(f"cygdk{os.getpid() % 100000}",
                      tmp_path_factory.mktemp("dockerd")).start()
    try:
        build_base_image(dockerd)
        compose = Compose(dockerd, make_context(tmp_path_factory.mktemp("ctx")),
                          "cygnetimage", {"CYGNET_GATEWAY": "x"})
        started = time.monotonic()
        compose("build")
        FIGURES["image build (s)"] = round(time.monotonic() - started, 1)
        FIGURES["image size (MB)"] = image_size_mb(dockerd, IMAGE)
        yield dockerd
    finally:
        dockerd.stop()


@pytest.mark.slow
@needs_docker
def test_image_builds_offline_with_cygnet_and_iproute2_but_no_compiler(built):
    probe = built.docker(
        "run", "--rm", "--network", "none", "--entrypoint", "sh", IMAGE, "-c",
        "command -v cygnet; command -v ip; command -v python3; "
        "for cc in gcc cc clang; do command -v $cc && exit 3; done; "
        "python3 -c 'import app.config, datapath.compiler, pyroute2'",
        check=False,
    )

    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert "/opt/cygnet/bin/cygnet" in probe.stdout
    assert "/ip" in probe.stdout
