"""JSON-lines logging for the container, plain lines otherwise."""

from __future__ import annotations

import json
import logging

import pytest

from app import jsonlog


def _format(record_args=(), exc_info=None, environ=None) -> str:
    handler = jsonlog.make_handler(environ)
    record = logging.LogRecord(
        "datapath.reconcile",
        logging.INFO,
        __file__,
        1,
        "gateway %s: %d changes",
        record_args,
        exc_info,
    )
    return handler.format(record)


def test_json_format_writes_one_object_per_line_with_the_message_formatted():
    line = _format(("x", 3), environ={"CYGNET_LOG_FORMAT": "json"})

    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "gateway x: 3 changes"
    assert entry["level"] == "info"
    assert entry["logger"] == "datapath.reconcile"
    assert entry["time"].endswith("Z") and "T" in entry["time"]


def test_json_format_keeps_the_traceback_inside_the_line():
    try:
        raise KeyError("gone")
    except KeyError:
        import sys

        line = _format(
            ("x", 0), exc_info=sys.exc_info(), environ={"CYGNET_LOG_FORMAT": "json"}
        )

    assert len(line.splitlines()) == 1
    assert "KeyError: 'gone'" in json.loads(line)["exc"]


def test_plain_format_is_the_default():
    assert _format(("x", 1), environ={}) == (
        "INFO datapath.reconcile: gateway x: 1 changes"
    )


def test_log_level_from_the_environment_overrides_the_command_line():
    assert jsonlog.level_from_env(logging.WARNING, {"CYGNET_LOG_LEVEL": "info"}) == (
        logging.INFO
    )
    assert jsonlog.level_from_env(logging.WARNING, {}) == logging.WARNING


def test_unknown_log_level_names_the_variable_and_the_choices():
    with pytest.raises(ValueError, match="CYGNET_LOG_LEVEL='loud': use one of debug"):
        jsonlog.level_from_env(logging.WARNING, {"CYGNET_LOG_LEVEL": "loud"})


def test_configure_replaces_the_root_handlers(monkeypatch, capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        jsonlog.configure(logging.INFO, {"CYGNET_LOG_FORMAT": "json"})
        logging.getLogger("app.test").info("imported %d gateways", 2)
        logging.getLogger("app.test").debug("not shown")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)

    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["imported 2 gateways"]


def test_uvicorn_logs_go_through_the_json_handler_without_access_lines():
    config = jsonlog.uvicorn_log_config({"CYGNET_LOG_FORMAT": "json"})

    assert config["loggers"]["uvicorn.error"] == {"handlers": [], "propagate": True}
    assert config["loggers"]["uvicorn.access"]["level"] == "WARNING"
    assert jsonlog.uvicorn_log_config({})["loggers"]["uvicorn"]["handlers"]
