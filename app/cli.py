"""The ``cygnet`` command line.

Each verb lives in its own module under :mod:`app.commands`, which registers it
on the subparsers.  To add verbs, add the module to ``COMMAND_MODULES``.  Modules are imported for every run, so they import heavy things
(FastAPI, uvicorn) inside the verb that needs them, not at the top.

Errors in what the user gave go to stderr, naming the field and the fix, and
exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

from app.services.problems import ValidationFailed

COMMAND_MODULES = [
    "app.commands.serve",
    "app.commands.db",
    "app.commands.intent",
    "app.commands.datapath",
    "app.commands.backup",
    "app.commands.users",
]

EXIT_KERNEL = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cygnet",
        description="A web-managed IPsec VPN appliance: intent in a database, "
        "compiled into the kernel's XFRM datapath.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log each change (-v) or everything (-vv) to stderr",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(subparsers)
    return parser


def report(error: Exception) -> None:
    """Print an error for the user: every problem on a line of its own."""
    if isinstance(error, ValidationFailed):
        count = len(error.problems)
        print(
            f"cygnet: {count} problem{'s' if count != 1 else ''}; nothing was changed:",
            file=sys.stderr,
        )
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
    else:
        print(f"cygnet: error: {error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    from app import jsonlog

    try:
        jsonlog.configure(level)
    except ValueError as error:
        report(error)
        return EXIT_USAGE
    from datapath.errors import KernelError

    try:
        return args.func(args) or 0
    except KernelError as error:
        report(error)
        return EXIT_KERNEL
    except Exception as error:
        if not isinstance(error, _user_errors()):
            raise
        report(error)
        return EXIT_USAGE


# Errors that mean "what you asked cannot be done as asked", by module.  A
# module's errors are only looked up when the module is loaded (it must be, to
# have raised one), so a verb like ``guard`` never pays for importing alembic
# or cryptography just to name their errors.
USER_ERRORS = {
    "app.services.problems": ("CygnetError",),
    "app.services.datapath": ("UsageError",),
    "datapath.errors": ("NamespaceError",),
    "app.migrate": ("SchemaError",),
    "app.secrets": ("SecretError",),
}


def _user_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [OSError]
    for module, names in USER_ERRORS.items():
        if module in sys.modules:
            found.extend(getattr(sys.modules[module], name) for name in names)
    return tuple(found)


if __name__ == "__main__":
    sys.exit(main())
