"""``cygnet backup FILE`` and ``cygnet restore FILE``: the whole appliance, encrypted.

One file holds every table of the database row for row (intent, tunnels, sealed
SA keys, gateway status, audit trail, and any table added later, users
included), the schema revision, the secret key file that opens the sealed
keys, and the compiled plan files ``cygnet guard`` reads at boot.  Sealed
values stay sealed inside it; the whole is encrypted again under a passphrase.

File layout (all integers big-endian)::

    magic "CYGNETBK" | format (1 byte) | scrypt log2(N), r, p (1 byte each)
    | salt (16 bytes) | nonce (12 bytes) | AES-256-GCM(zlib(JSON)) with tag

The 32-byte AES key comes from scrypt(passphrase, salt); the header is the GCM
associated data, so a changed header is refused like a wrong passphrase.  The
passphrase comes from ``CYGNET_BACKUP_PASSPHRASE``, else from a prompt.

Restore goes into an empty data directory only (no intent, no audit record):
it brings the schema to the backup's revision, inserts every row, then runs
the migrations up to this Cygnet's head.  Tables are read by reflection, not
from the models, so a backup made by an older Cygnet restores too.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import getpass
import json
import logging
import os
import struct
import sys
import zlib
from pathlib import Path

from app.config import load_settings

log = logging.getLogger(__name__)

MAGIC = b"CYGNETBK"
FORMAT = 1
SCRYPT = (15, 8, 1)  # log2(N), r, p: 32 MiB and about 0.1 s per derivation
HEADER = struct.Struct(">8sBBBB16s12s")
MIN_PASSPHRASE = 8
PASSPHRASE_ENV = "CYGNET_BACKUP_PASSPHRASE"
VERSION_TABLE = "alembic_version"
REVISION_TABLE = "revision"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says what to do."""


# The command line ---------------------------------------------------------------


def register(subparsers) -> None:
    backup = subparsers.add_parser(
        "backup", help="write the whole appliance to one encrypted file"
    )
    backup.add_argument("file", metavar="FILE", help="where to write it, - for stdout")
    backup.set_defaults(func=run_backup)

    restore = subparsers.add_parser(
        "restore", help="restore a backup into an empty data directory"
    )
    restore.add_argument("file", metavar="FILE", help="the backup, - for stdin")
    restore.set_defaults(func=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    from app.db import default_engine

    try:
        passphrase = read_passphrase(confirm=True)
        blob = seal(snapshot(default_engine()), passphrase)
        write_file(args.file, blob)
    except BackupError as error:
        print(f"cygnet: error: {error}", file=sys.stderr)
        return 2
    if args.file != "-":
        print(f"{args.file}: backup written ({len(blob)} bytes)")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from app.db import default_engine

    try:
        if args.file == "-":
            blob = sys.stdin.buffer.read()
        else:
            blob = Path(args.file).read_bytes()
        passphrase = read_passphrase(confirm=False, stdin_busy=args.file == "-")
        counts = restore(default_engine(), open_sealed(blob, passphrase))
    except BackupError as error:
        print(f"cygnet: error: {error}", file=sys.stderr)
        return 2
    shown = ", ".join(f"{n} {table}" for table, n in counts.items() if n)
    print(f"{args.file}: restored ({shown or 'no rows'})")
    return 0


def read_passphrase(confirm: bool, stdin_busy: bool = False) -> str:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        if stdin_busy or not sys.stdin.isatty():
            raise BackupError(
                f"no passphrase: set {PASSPHRASE_ENV} or run from a terminal"
            )
        passphrase = getpass.getpass("backup passphrase: ")
        if confirm and getpass.getpass("again: ") != passphrase:
            raise BackupError("the two passphrases differ: nothing was written")
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(
            f"the passphrase must have at least {MIN_PASSPHRASE} characters"
        )
    return passphrase


def write_file(path: str, blob: bytes) -> None:
    if path == "-":
        sys.stdout.buffer.write(blob)
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(blob)
    os.replace(tmp, target)
    log.info("wrote backup %s", target)


# Encryption -----------------------------------------------------------------------


def _key(passphrase: str, salt: bytes, log2n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=2**log2n, r=r, p=p).derive(
        passphrase.encode()
    )


def seal(payload: dict, passphrase: str) -> bytes:
    """The backup file's bytes for ``payload``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = os.urandom(16), os.urandom(12)
    header = HEADER.pack(MAGIC, FORMAT, *SCRYPT, salt, nonce)
    plain = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 9)
    cipher = AESGCM(_key(passphrase, salt, *SCRYPT))
    return header + cipher.encrypt(nonce, plain, header)


def open_sealed(blob: bytes, passphrase: str) -> dict:
    """The payload of a backup file; BackupError when it cannot be opened."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(blob) < HEADER.size + 16 or not blob.startswith(MAGIC):
        raise BackupError("this is not a Cygnet backup file")
    _, version, log2n, r, p, salt, nonce = HEADER.unpack_from(blob)
    if version != FORMAT:
        raise BackupError(
            f"backup format {version} is newer than this Cygnet reads ({FORMAT}): "
            "restore it with the Cygnet version that made it, or a later one"
        )
    if not (10 <= log2n <= 22 and 1 <= r <= 32 and 1 <= p <= 16):
        raise BackupError("the backup's key derivation settings are damaged")
    header = blob[: HEADER.size]
    try:
        plain = AESGCM(_key(passphrase, salt, log2n, r, p)).decrypt(
            nonce, blob[HEADER.size :], header
        )
    except InvalidTag:
        raise BackupError(
            "wrong passphrase, or the backup file is damaged: nothing was restored"
        ) from None
    return json.loads(zlib.decompress(plain))


# What goes in -----------------------------------------------------------------------


def _tables(connection):
    from sqlalchemy import MetaData

    metadata = MetaData()
    metadata.reflect(connection)
    return [t for t in metadata.sorted_tables if t.name != VERSION_TABLE]


def _dump_value(value):
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return value


def _load_value(value, column_type):
    from sqlalchemy import Date, DateTime, LargeBinary, Time

    if value is None:
        return None
    if isinstance(column_type, LargeBinary):
        return base64.b64decode(value)
    for kind, parse in ((DateTime, dt.datetime), (Date, dt.date), (Time, dt.time)):
        if isinstance(column_type, kind):
            return parse.fromisoformat(value)
    return value


def snapshot(engine) -> dict:
    """Everything the appliance holds, as plain JSON values (one read transaction)."""
    from sqlalchemy import select

    from app import migrate

    revision = migrate.current_revision(engine)
    if revision is None:
        raise BackupError("the database has no schema yet: there is nothing to back up")
    tables = {}
    with engine.connect() as connection, connection.begin():
        for table in _tables(connection):
            columns = [c.name for c in table.columns]
            rows = connection.execute(select(table)).all()
            tables[table.name] = {
                "columns": columns,
                "rows": [[_dump_value(v) for v in row] for row in rows],
            }
    settings = load_settings()
    key_file = settings.secret_key_file
    plans = settings.data_dir / "plans"
    return {
        "schema": revision,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "tables": tables,
        "secret_key": key_file.read_text() if key_file.exists() else None,
        "plans": {p.name: p.read_text() for p in sorted(plans.glob("*.json"))},
    }


# What comes out -------------------------------------------------------------------------


def _holds_data(engine) -> str | None:
    """What the database already holds, or None when restoring into it is safe."""
    from sqlalchemy import func, inspect, select

    with engine.connect() as connection:
        if not inspect(connection).get_table_names():
            return None
        for table in _tables(connection):
            if table.name == REVISION_TABLE:
                number = connection.execute(select(func.max(table.c.number))).scalar()
                if number:
                    return f"intent revision {number}"
                continue
            rows = connection.execute(select(func.count()).select_from(table)).scalar()
            if rows:
                return f"{rows} rows in {table.name}"
    return None


def restore(engine, payload: dict) -> dict[str, int]:
    """Put ``payload`` into the empty database behind ``engine``; rows per table."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError
    from sqlalchemy import delete, inspect

    from app import migrate
    from app.secrets import forget_keys

    _check_payload(payload)
    revision = payload["schema"]
    try:
        ScriptDirectory(str(migrate.SCRIPT_LOCATION)).get_revision(revision)
    except CommandError:
        raise BackupError(
            f"the backup's schema {revision} is unknown to this Cygnet: it was made "
            "by a newer version; restore it with that version or a later one"
        ) from None
    held = _holds_data(engine)
    if held:
        raise BackupError(
            f"the database already holds data ({held}): restore only into an empty "
            "data directory (point CYGNET_DATA_DIR or CYGNET_DATABASE_URL at a new "
            "one); nothing was changed"
        )

    # The schema as the backup knew it, so its rows fit column for column.
    with engine.connect() as connection:
        has_tables = bool(inspect(connection).get_table_names())
    if has_tables and migrate.current_revision(engine) != revision:
        migrate.downgrade(engine, "base")
    migrate.upgrade(engine, revision)

    counts = {}
    with engine.begin() as connection:
        tables = _tables(connection)
        for table in reversed(tables):  # the migrations' own seed rows
            connection.execute(delete(table))
        for table in tables:
            data = payload["tables"].get(table.name)
            if not data or not data["rows"]:
                counts[table.name] = 0
                continue
            types = {c.name: c.type for c in table.columns}
            rows = [
                {
                    name: _load_value(v, types[name])
                    for name, v in zip(data["columns"], row)
                }
                for row in data["rows"]
            ]
            connection.execute(table.insert(), rows)
            counts[table.name] = len(rows)
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection, tables)
    log.info("restored %d tables at schema %s", len(counts), revision)
    migrate.upgrade(engine)

    _restore_files(payload)
    forget_keys()
    return counts


def _check_payload(payload: dict) -> None:
    if not isinstance(payload.get("tables"), dict) or not payload.get("schema"):
        raise BackupError("the backup holds no database: it is damaged")
    for name in payload.get("plans", {}):
        if "/" in name or name.startswith(".") or not name.endswith(".json"):
            raise BackupError(f"the backup names a plan file {name!r}: it is damaged")


def _reset_sequences(connection, tables) -> None:
    """PostgreSQL: move each id sequence past the ids just inserted."""
    from sqlalchemy import text

    for table in tables:
        if "id" not in table.c:
            continue
        connection.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 1), "
                f"(SELECT MAX(id) FROM {table.name}) IS NOT NULL)"
            ),
            {"t": table.name},
        )


def _restore_files(payload: dict) -> None:
    settings = load_settings()
    if payload.get("secret_key"):
        key_file = settings.secret_key_file
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(payload["secret_key"])
        os.chmod(key_file, 0o600)
        log.info("restored secret key file %s", key_file)
    plans = settings.data_dir / "plans"
    for name, text in payload.get("plans", {}).items():
        plans.mkdir(parents=True, exist_ok=True)
        (plans / name).write_text(text)
        log.info("restored plan file %s", plans / name)
