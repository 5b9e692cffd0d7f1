"""Secrets at rest: AES-256-GCM under a key kept outside the database.

The key lives in ``CYGNET_SECRET_KEY_FILE`` (default ``$CYGNET_DATA_DIR/secret.key``),
base64 text of 32 random bytes, created with mode 0600 on first use.  A sealed value
is ``version (1 byte) | nonce (12 bytes) | ciphertext and tag``; the caller's
``context`` is bound in as associated data, so a value sealed for one purpose
cannot be passed off as another.

Losing the key file loses every secret in the database; backing up the database
without the key file backs up no secret.  Rotating the key is not supported yet:
a new key makes every stored secret unreadable.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
import threading
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.config import load_settings

log = logging.getLogger(__name__)

VERSION = 1
NONCE_BYTES = 12
_lock = threading.Lock()
_cache: dict[Path, AESGCM] = {}


class SecretError(Exception):
    """A secret could not be sealed or opened (wrong key, damaged value)."""


def key_file() -> Path:
    return load_settings().secret_key_file


def _read_or_create(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("secret key file %s is readable by others: chmod 600 it", path)
        text = path.read_bytes().strip()
        try:
            key = base64.urlsafe_b64decode(text)
        except ValueError as exc:
            raise SecretError(f"secret key file {path} is not base64 text") from exc
        if len(key) != 32:
            raise SecretError(
                f"secret key file {path} must hold 32 bytes, base64"
            ) from None
        return key
    key = AESGCM.generate_key(bit_length=256)
    with os.fdopen(fd, "wb") as out:
        out.write(base64.urlsafe_b64encode(key) + b"\n")
    log.info("created secret key file %s", path)
    return key


def _cipher() -> AESGCM:
    path = key_file()
    with _lock:
        cipher = _cache.get(path)
        if cipher is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            cipher = _cache[path] = AESGCM(_read_or_create(path))
        return cipher


def forget_keys() -> None:
    """Drop cached keys, so the next use reads the key file again."""
    with _lock:
        _cache.clear()


def seal(plaintext: bytes, context: str) -> bytes:
    """Encrypt ``plaintext`` for storage, bound to ``context`` (e.g. ``"sa_key"``)."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher().encrypt(nonce, bytes(plaintext), context.encode())
    return bytes([VERSION]) + nonce + sealed


def open_sealed(sealed: bytes, context: str) -> bytes:
    """Decrypt a value made by :func:`seal` with the same ``context``."""
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != VERSION:
        raise SecretError("stored secret is damaged or of an unknown version")
    nonce = sealed[1 : 1 + NONCE_BYTES]
    try:
        return _cipher().decrypt(nonce, sealed[1 + NONCE_BYTES :], context.encode())
    except Exception as exc:  # cryptography raises InvalidTag without a message
        raise SecretError(
            "stored secret cannot be decrypted: the key file is not the one it "
            "was sealed with"
        ) from exc
