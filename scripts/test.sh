#!/usr/bin/env bash
# Install the test dependencies on a fresh Debian machine (as root) and run every test:
# pure tests, network-namespace tests, both databases, the IPsec VM tier and the
# Docker appliance tier.  Extra arguments go to pytest (e.g. -m "not vm").
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need=()
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
command -v ip >/dev/null || need+=(iproute2)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
[ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -q
    apt-get install -y -q "${need[@]}"
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'

for extra in .ci/install-vm .ci/install-docker; do
    if [ -x "$extra" ]; then
        "$extra" || echo "warning: $extra failed; the tests that need it will skip and say why" >&2
    fi
done

mkdir -p artifacts
if [ -z "${CYGNET_TEST_POSTGRES_URL:-}" ] && [ -x .ci/start-postgres ]; then
    eval "$(.ci/start-postgres)"
    export CYGNET_TEST_POSTGRES_URL
fi

.venv/bin/pytest --junitxml=artifacts/junit.xml "$@"
