"""``cygnet import FILE`` and ``cygnet export``: the intent as YAML or JSON."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    imp = subparsers.add_parser(
        "import",
        help="replace the whole intent with a YAML or JSON file (all or nothing)",
    )
    imp.add_argument("file", metavar="FILE", help="the document, or - for stdin")
    imp.add_argument(
        "--dry-run", action="store_true", help="check only and say what would change"
    )
    imp.set_defaults(func=run_import)

    exp = subparsers.add_parser("export", help="write the whole intent to stdout")
    exp.add_argument("--format", choices=("yaml", "json"), default="yaml")
    exp.add_argument("-o", "--output", metavar="FILE", help="write here, not stdout")
    exp.set_defaults(func=run_export)


def run_import(args: argparse.Namespace) -> int:
    from app.db import default_engine
    from app.migrate import ensure_schema
    from app.services.resources import import_text

    if args.file == "-":
        text = sys.stdin.buffer.read()
    else:
        with open(args.file, "rb") as f:
            text = f.read()
    engine = default_engine()
    ensure_schema(engine)
    revision, changes = import_text(engine, text, "cli", dry_run=args.dry_run)
    verb = "would make" if args.dry_run else "made"
    print(
        f"{args.file}: {verb} {changes} change{'s' if changes != 1 else ''}; "
        f"revision {revision}"
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from app.db import default_engine, read_session
    from app.migrate import ensure_schema
    from app.services.document import dump_document
    from app.services.snapshot import load_document

    engine = default_engine()
    ensure_schema(engine)
    with read_session(engine) as session:
        text = dump_document(load_document(session), args.format)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
