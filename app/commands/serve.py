"""``cygnet serve``: the web console and REST API."""

from __future__ import annotations

import argparse

from app.config import DEFAULT_HOST, DEFAULT_PORT, load_settings, parse_listen


def register(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve the REST API (default 127.0.0.1:8080, or CYGNET_LISTEN)",
    )
    serve.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument(
        "--port", type=int, help=f"port to listen on (default {DEFAULT_PORT})"
    )
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.db import default_engine
    from app.main import create_app
    from app.migrate import ensure_schema

    host, port = DEFAULT_HOST, DEFAULT_PORT
    listen = load_settings().listen
    if listen:
        host, port = parse_listen(listen)
    host = args.host or host
    port = args.port or port
    engine = default_engine()
    ensure_schema(engine)
    uvicorn.run(create_app(engine), host=host, port=port)
    return 0
