"""``cygnet user ...`` and ``cygnet token ...``: console users and API tokens.

Passwords are read from a prompt (twice) when standard input is a terminal,
otherwise from the first line of standard input, so scripts can pipe one in.
There is never a default password.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from app.auth.roles import ROLES
from app.services.problems import Problem, ValidationFailed

ACTOR = "cli"


def register(subparsers) -> None:
    user = subparsers.add_parser("user", help="manage console users")
    verbs = user.add_subparsers(dest="user_command", metavar="VERB", required=True)

    add = verbs.add_parser("add", help="add a user (password from a prompt or stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.set_defaults(func=run_user_add)

    passwd = verbs.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    passwd.set_defaults(func=run_user_passwd)

    role = verbs.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(func=run_user_role)

    remove = verbs.add_parser("remove", help="remove a user and their tokens")
    remove.add_argument("name")
    remove.set_defaults(func=run_user_remove)

    listing = verbs.add_parser("list", help="list users")
    listing.set_defaults(func=run_user_list)

    token = subparsers.add_parser("token", help="manage REST API tokens")
    verbs = token.add_subparsers(dest="token_command", metavar="VERB", required=True)

    create = verbs.add_parser("create", help="create a token; printed only once")
    create.add_argument("--user", required=True, help="the user it acts for")
    create.add_argument(
        "--role", choices=ROLES, help="what it may do (default: the user's role)"
    )
    create.add_argument("--label", default="", help="what the token is for")
    create.set_defaults(func=run_token_create)

    listing = verbs.add_parser("list", help="list tokens (never the tokens themselves)")
    listing.set_defaults(func=run_token_list)

    revoke = verbs.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=run_token_revoke)


def _engine():
    from app.db import default_engine
    from app.migrate import ensure_schema

    engine = default_engine()
    ensure_schema(engine)
    return engine


def read_password(stdin=None) -> str:
    """A new password: prompted twice on a terminal, else stdin's first line."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValidationFailed(
                [Problem(("password",), "the two entries differ; type it again")]
            )
        return first
    line = stdin.readline()
    if not line.strip():
        raise ValidationFailed(
            [
                Problem(
                    ("password",),
                    "none given: type it at the prompt, or pipe it in on standard "
                    "input (there is no default password)",
                )
            ]
        )
    return line.rstrip("\r\n")


def run_user_add(args: argparse.Namespace) -> int:
    from app.auth import accounts
    from app.db import write_session

    password = read_password()
    with write_session(_engine()) as session:
        user = accounts.create_user(session, args.name, args.role, password, ACTOR)
    print(f"added user {user.name} ({user.role})")
    return 0


def run_user_passwd(args: argparse.Namespace) -> int:
    from app.auth import accounts
    from app.db import write_session

    password = read_password()
    with write_session(_engine()) as session:
        accounts.set_password(session, args.name, password, ACTOR)
    print(f"password of {args.name} changed")
    return 0


def run_user_role(args: argparse.Namespace) -> int:
    from app.auth import accounts
    from app.db import write_session

    with write_session(_engine()) as session:
        accounts.set_role(session, args.name, args.role, ACTOR)
    print(f"{args.name} is now {args.role}")
    return 0


def run_user_remove(args: argparse.Namespace) -> int:
    from app.auth import accounts
    from app.db import write_session

    with write_session(_engine()) as session:
        accounts.delete_user(session, args.name, ACTOR)
    print(f"removed user {args.name} and their tokens")
    return 0


def run_user_list(args: argparse.Namespace) -> int:
    from app.auth import accounts
    from app.db import read_session

    with read_session(_engine()) as session:
        for user in accounts.list_users(session):
            print(f"{user.name}\t{user.role}")
    return 0


def run_token_create(args: argparse.Namespace) -> int:
    from app.auth import accounts
    from app.db import write_session

    with write_session(_engine()) as session:
        token, secret = accounts.create_token(
            session, args.user, ACTOR, args.role, args.label
        )
        token_id, role = token.id, token.role
    print(secret)
    print(
        f"token {token_id} for {args.user} ({role}); it is shown only now, "
        "store it safely",
        file=sys.stderr,
    )
    return 0


def run_token_list(args: argparse.Namespace) -> int:
    from app.auth import accounts
    from app.db import read_session

    with read_session(_engine()) as session:
        for token in accounts.list_tokens(session):
            print(
                f"{token.id}\t{token.user.name}\t{token.role}\t{token.prefix}...\t"
                f"{token.label}"
            )
    return 0


def run_token_revoke(args: argparse.Namespace) -> int:
    from app.auth import accounts
    from app.db import write_session

    with write_session(_engine()) as session:
        accounts.revoke_token(session, args.id, ACTOR)
    print(f"revoked token {args.id}")
    return 0
