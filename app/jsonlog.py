"""Logging set-up for the ``cygnet`` process: plain text, or JSON lines.

``CYGNET_LOG_FORMAT=json`` writes one JSON object per line to stderr, for log
collectors (``docker logs``, journald, Loki)::

    {"time": "2026-01-02T03:04:05.678Z", "level": "info",
     "logger": "datapath.reconcile", "message": "gateway x: + policy ..."}

with ``exc`` holding the traceback when there is one.  Anything else (or unset)
keeps the plain ``LEVEL logger: message`` lines.  ``CYGNET_LOG_LEVEL`` (debug,
info, warning, error) overrides the level the command line asked for, so a
container can log each change at info without ``-v``.

uvicorn configures its own loggers; :func:`uvicorn_log_config` hands it a
configuration that sends them through the same handler instead.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

PLAIN_FORMAT = "%(levelname)s %(name)s: %(message)s"
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class JsonLineFormatter(logging.Formatter):
    """One record as one line of JSON; the message is formatted with its args."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", seconds)
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def wants_json(environ=None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("CYGNET_LOG_FORMAT", "").strip().lower() == "json"


def level_from_env(default: int, environ=None) -> int:
    """``CYGNET_LOG_LEVEL`` when set, else ``default``.

    Raises ValueError naming the variable and the values it takes.
    """
    env = os.environ if environ is None else environ
    name = env.get("CYGNET_LOG_LEVEL", "").strip().lower()
    if not name:
        return default
    if name not in LEVELS:
        raise ValueError(f"CYGNET_LOG_LEVEL={name!r}: use one of {', '.join(LEVELS)}")
    return LEVELS[name]


def make_handler(environ=None) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    if wants_json(environ):
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    return handler


def configure(level: int = logging.WARNING, environ=None) -> None:
    """Set up the root logger (replacing its handlers) for this process."""
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(make_handler(environ))
    root.setLevel(level_from_env(level, environ))


def uvicorn_log_config(environ=None) -> dict:
    """``log_config`` for ``uvicorn.run``.

    Plain text keeps uvicorn's own configuration.  For JSON, uvicorn's loggers
    hand their records to the root logger's handler; the per-request access
    log is left out (the health check alone would write a line every 10 s).
    """
    if not wants_json(environ):
        from uvicorn.config import LOGGING_CONFIG

        return LOGGING_CONFIG
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }
