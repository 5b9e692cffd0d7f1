#!/usr/bin/env bash
# Install what Cygnet needs on a fresh Debian machine (as root) and start it with its
# embedded SQLite database on http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1 || ! command -v ip >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv iproute2
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
.venv/bin/cygnet db upgrade
exec .venv/bin/cygnet serve
