# Cygnet as an appliance image: `docker compose up -d` (see docs/appliance.md).
#
# BASE_IMAGE is any Debian bookworm image.  The default comes from a registry.
# With no registry in reach, docker/build-base-image makes one with debootstrap
# that already holds python3, python3-venv and iproute2, and docker/fetch-wheels
# puts every Python wheel in docker/wheels: then `--build-arg OFFLINE=1` builds
# with no network at all.
ARG BASE_IMAGE=debian:bookworm-slim

# What runs: Python and iproute2 (`ip xfrm` for operators inspecting the
# datapath by hand; Cygnet itself speaks netlink).
FROM ${BASE_IMAGE} AS runtime
RUN set -eu; \
    if ! command -v python3 >/dev/null || ! command -v ip >/dev/null; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            python3 iproute2; \
        rm -rf /var/lib/apt/lists/*; \
    fi

# The virtualenv, built from wheels only: no compiler in either stage.
FROM runtime AS build
ARG OFFLINE=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN set -eu; \
    if ! python3 -c 'import ensurepip' 2>/dev/null; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            python3-venv; \
    fi; \
    python3 -m venv /opt/cygnet
COPY docker/wheels/ /wheels/
COPY pyproject.toml README.md* /src/
COPY app/ /src/app/
COPY datapath/ /src/datapath/
COPY migrations/ /src/migrations/
COPY templates/ /src/templates/
# Cygnet itself is built from source (setuptools comes as a wheel too).
RUN /opt/cygnet/bin/pip install ${OFFLINE:+--no-index} --find-links /wheels \
        --only-binary=:all: --no-binary=cygnet /src \
    && /opt/cygnet/bin/pip uninstall --yes --quiet pip setuptools

FROM runtime
COPY --from=build /opt/cygnet /opt/cygnet
COPY docker/entrypoint /usr/local/bin/cygnet-entrypoint
COPY docker/healthcheck /usr/local/bin/cygnet-healthcheck
ENV PATH=/opt/cygnet/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    CYGNET_DATA_DIR=/var/lib/cygnet \
    CYGNET_LISTEN=127.0.0.1:8080 \
    CYGNET_LOG_FORMAT=json \
    CYGNET_LOG_LEVEL=info \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN mkdir -p /var/lib/cygnet && chmod 700 /var/lib/cygnet
VOLUME /var/lib/cygnet
WORKDIR /var/lib/cygnet
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["cygnet-healthcheck"]
ENTRYPOINT ["cygnet-entrypoint"]
CMD ["serve"]
