"""The image and the compose file, built the way an offline appliance builds them."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.docker.conftest import IMAGE, ROOT, _run, why_no_docker

needs_docker = pytest.mark.skipif(
    why_no_docker() is not None, reason=str(why_no_docker())
)


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed: run .ci/install-docker",
)
def test_compose_file_validates_and_demands_a_gateway_name():
    compose = ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"]
    env = {k: v for k, v in os.environ.items() if k != "CYGNET_GATEWAY"}

    ok = _run(*compose, check=False, env={**env, "CYGNET_GATEWAY": "x"})
    missing = _run(*compose, check=False, env=env)

    assert ok.returncode == 0, ok.stderr
    assert missing.returncode != 0
    assert "set CYGNET_GATEWAY in .env" in missing.stderr


@pytest.mark.slow
@pytest.mark.root
@needs_docker
def test_image_builds_offline_with_cygnet_and_iproute2_but_no_compiler(tier):
    probe = tier.dockerd.docker(
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        IMAGE,
        "-c",
        "command -v cygnet; command -v ip; command -v python3; "
        "for cc in gcc cc clang; do command -v $cc && exit 3; done; "
        "python3 -c 'import app.config, datapath.compiler, pyroute2'",
        check=False,
    )

    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert "/opt/cygnet/bin/cygnet" in probe.stdout
    assert "/ip" in probe.stdout
