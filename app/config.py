"""Configuration from the environment.

``CYGNET_DATA_DIR``
    where state lives (default ``./var``, created if missing)
``CYGNET_DATABASE_URL``
    SQLAlchemy URL (default SQLite ``$CYGNET_DATA_DIR/cygnet.db``); PostgreSQL as
    ``postgresql+psycopg://user:password@host/database``
``CYGNET_SECRET_KEY_FILE``
    key for secrets at rest (default ``$CYGNET_DATA_DIR/secret.key``)
``CYGNET_GATEWAY``
    the name of the gateway this appliance is
``CYGNET_LISTEN``
    ``host:port`` for ``cygnet serve`` (``[::1]:8080`` for IPv6)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key_file: Path
    gateway: str | None
    listen: str | None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (the process environment by default)."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("CYGNET_DATA_DIR") or "./var")
    database_url = env.get("CYGNET_DATABASE_URL") or ""
    if not database_url:
        data_dir.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{(data_dir / 'cygnet.db').resolve()}"
    key_file = env.get("CYGNET_SECRET_KEY_FILE") or str(data_dir / "secret.key")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key_file=Path(key_file),
        gateway=env.get("CYGNET_GATEWAY") or None,
        listen=env.get("CYGNET_LISTEN") or None,
    )


def parse_listen(value: str) -> tuple[str, int]:
    """Split ``host:port`` (or ``[v6]:port``, or a bare port) for the server."""
    value = value.strip()
    if value.isdigit():
        return DEFAULT_HOST, int(value)
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
        if not sep:
            raise ValueError(f"CYGNET_LISTEN {value!r}: write [address]:port")
    else:
        host, sep, port = value.rpartition(":")
        if not sep:
            return value, DEFAULT_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"CYGNET_LISTEN {value!r}: the port must be 1-65535")
    return host, int(port)
