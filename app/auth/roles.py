"""The three roles and what each may do.

``viewer`` reads everything; ``operator`` also applies the intent to the
kernel, rekeys and traces; ``admin`` does everything, including changing the
intent and managing users and tokens.
"""

from __future__ import annotations

ROLES = ("viewer", "operator", "admin")

# REST calls an operator may make besides reads: the last path segment of a POST.
OPERATOR_VERBS = ("apply", "rekey", "trace")
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def rank(role: str) -> int:
    return ROLES.index(role)


def at_least(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may."""
    return rank(role) >= rank(needed)


def lower(a: str, b: str) -> str:
    return a if rank(a) <= rank(b) else b


def needed_for(method: str, path: str) -> str:
    """The least role a REST call needs."""
    if method.upper() in READ_METHODS:
        return "viewer"
    if method.upper() == "POST" and path.rstrip("/").rsplit("/", 1)[-1] in (
        OPERATOR_VERBS
    ):
        return "operator"
    return "admin"


def roles_from(needed: str) -> str:
    """``operator`` -> "operator or admin", for messages."""
    allowed = ROLES[rank(needed) :]
    return " or ".join(allowed)
