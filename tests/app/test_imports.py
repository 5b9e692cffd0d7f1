"""The datapath commands run in a slow VM: the core must not import the web stack."""

from __future__ import annotations

import subprocess
import sys

import pytest

LIGHT = [
    "app.models",
    "app.db",
    "app.secrets",
    "app.config",
    "app.migrate",
    "app.services.intent",
    "app.services.validation",
    "app.services.resources",
    "app.services.document",
    "app.cli",
]


@pytest.mark.parametrize("module", LIGHT)
def test_core_module_does_not_import_fastapi_or_pydantic(module):
    code = (
        f"import sys, {module}\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'pydantic', 'starlette', 'uvicorn'))\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"{module} pulls in {result.stdout.strip()}"


def test_cli_parser_for_every_verb_stays_light():
    code = (
        "import sys\n"
        "from app.cli import build_parser\n"
        "build_parser()\n"
        "heavy = [m for m in sys.modules if m.startswith(('fastapi', 'pydantic'))]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
