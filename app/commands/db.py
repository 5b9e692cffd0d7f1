"""``cygnet db upgrade|downgrade|current``: the database schema."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    db = subparsers.add_parser("db", help="manage the database schema")
    verbs = db.add_subparsers(dest="db_command", metavar="VERB", required=True)

    upgrade = verbs.add_parser("upgrade", help="upgrade the schema (to head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=run_upgrade)

    downgrade = verbs.add_parser("downgrade", help="downgrade the schema to REV")
    downgrade.add_argument("revision", metavar="REV", help="e.g. base or 0001")
    downgrade.set_defaults(func=run_downgrade)

    current = verbs.add_parser("current", help="show the schema revision")
    current.set_defaults(func=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    from app import migrate
    from app.db import default_engine

    engine = default_engine()
    migrate.upgrade(engine, args.revision)
    print(f"database schema at {migrate.current_revision(engine)}")
    return 0


def run_downgrade(args: argparse.Namespace) -> int:
    from app import migrate
    from app.db import default_engine

    engine = default_engine()
    migrate.downgrade(engine, args.revision)
    print(f"database schema at {migrate.current_revision(engine) or 'base (empty)'}")
    return 0


def run_current(args: argparse.Namespace) -> int:
    from app import migrate
    from app.db import default_engine

    current = migrate.current_revision(default_engine())
    head = migrate.head_revision()
    if current is None:
        print("none (empty database)")
    else:
        print(f"{current}{' (head)' if current == head else f' (head is {head})'}")
    return 0
