"""Password hashing with Argon2id (``argon2-cffi``, its default parameters)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 1024

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that answering "no such
# user" takes as long as "wrong password" and names cannot be probed by timing.
_DUMMY = _hasher.hash("cygnet: no such user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return (
            f"must be at least {MIN_LENGTH} characters; choose a longer one "
            "(a few unrelated words make a good one)"
        )
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if password != password.strip():
        return "must not start or end with spaces; they are easy to lose when typing"
    return None
