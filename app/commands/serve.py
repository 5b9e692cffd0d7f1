"""``cygnet serve``: the web console and REST API, and the gateway's reconciler.

With ``CYGNET_GATEWAY`` set, a background thread applies that gateway's slice
of the intent whenever the intent changes and every
``CYGNET_RECONCILE_INTERVAL`` seconds (default 30) to repair drift and move key
rotations on.  Stopping the server leaves the datapath in the kernel.
"""

from __future__ import annotations

import argparse
import gc
import logging

from app.config import DEFAULT_HOST, DEFAULT_PORT, load_settings, parse_listen

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve the console and REST API (default 127.0.0.1:8080, or CYGNET_LISTEN) "
        "and keep CYGNET_GATEWAY's kernel in step with the intent",
    )
    serve.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument(
        "--port", type=int, help=f"port to listen on (default {DEFAULT_PORT})"
    )
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.db import default_engine
    from app.jsonlog import uvicorn_log_config
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
    application = create_app(engine)
    # What start-up built lives as long as the process: keep it out of the cycle
    # collector's full passes, which would otherwise walk all of it each time.
    gc.freeze()
    gateway = load_settings().gateway
    reconciler = None
    if gateway:
        from app.services.datapath import Reconciler

        reconciler = Reconciler(gateway).start()
        log.info("keeping gateway %s's kernel in step with the intent", gateway)
    else:
        log.warning(
            "CYGNET_GATEWAY is not set: serving the API only; no kernel is reconciled"
        )
    try:
        uvicorn.run(application, host=host, port=port, log_config=uvicorn_log_config())
    finally:
        # The datapath stays in the kernel: stopping must never open it.
        if reconciler is not None:
            reconciler.stop()
    return 0
