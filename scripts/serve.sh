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
# The console needs a first admin; there is no default password.
if [ -z "$(.venv/bin/cygnet user list)" ]; then
    if [ -t 0 ]; then
        echo "No users yet: choose a password for the console's first admin, 'admin'."
        .venv/bin/cygnet user add admin --role admin
    else
        echo "No users yet: make the first admin with" \
            "'.venv/bin/cygnet user add NAME --role admin' to log in." >&2
    fi
fi
exec .venv/bin/cygnet serve
