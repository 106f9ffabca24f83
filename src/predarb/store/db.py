"""Opening, checking and migrating the SQLite file (aiosqlite).

The file is checked before anything is written to it: a corrupt file, a foreign
SQLite database or one from a newer predarb is refused with a ``StoreError`` naming
the path, and left untouched. Then WAL mode, a busy timeout, foreign keys, and the
pending migrations, each in its own transaction.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from pathlib import Path

import aiosqlite

from predarb.errors import PredarbError
from predarb.store.schema import APP_ID, MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 5000
# A write that changes nothing, rolled back: it fails on a file SQLite may only read.
_WRITE_PROBE = "UPDATE meta SET value = value WHERE key = 'app'"


class StoreError(PredarbError):
    """The database cannot be used; the message is one line for the user."""


async def open_database(path: Path, *, readonly: bool = False) -> aiosqlite.Connection:
    """Open (creating it unless ``readonly``), check and migrate the database. Whatever
    fails, the connection is closed (its thread would keep the process alive) and the
    failure is a ``StoreError`` naming the cause."""
    if readonly and not path.exists():
        raise StoreError(f"PREDARB_DB_PATH: no database at {path} (run the bot or the demo first)")
    if path.exists() and path.is_dir():
        raise StoreError(f"PREDARB_DB_PATH: {path} is a directory, not a SQLite file")
    if not path.parent.is_dir():
        raise StoreError(f"PREDARB_DB_PATH: no directory {path.parent} for {path.name}")
    version = _inspect(path) if path.exists() and path.stat().st_size > 0 else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: schema version {version} is newer than this predarb ({SCHEMA_VERSION});"
            " upgrade predarb or use another PREDARB_DB_PATH"
        )
    uri = f"file:{path}?mode=ro" if readonly else str(path)
    try:
        conn = await aiosqlite.connect(uri, uri=readonly, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(cannot_use(path, exc)) from None
    try:
        await _prepare(conn, path, version, readonly=readonly)
    except BaseException as exc:
        await conn.close()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(cannot_use(path, exc)) from None
        raise
    return conn


async def _prepare(conn: aiosqlite.Connection, path: Path, version: int, *, readonly: bool) -> None:
    conn.row_factory = aiosqlite.Row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        if version < SCHEMA_VERSION:
            raise StoreError(f"{path}: schema version {version} is old; start the bot once")
        return
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    if version:
        # SQLite opens a file it may not write read-only without a word: find out now,
        # not at the first write of a running bot. (A new file finds out migrating.)
        await conn.executescript(f"BEGIN IMMEDIATE; {_WRITE_PROBE}; ROLLBACK;")
    await _migrate(conn, version)


def cannot_use(path: Path, exc: sqlite3.Error) -> str:
    """One line for a database SQLite refuses to open or write."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    if code == sqlite3.SQLITE_READONLY:
        return (
            f"PREDARB_DB_PATH: {path} is read-only; predarb must be able to write it and"
            " its directory"
        )
    if code == sqlite3.SQLITE_FULL:
        return f"PREDARB_DB_PATH: no space left to write {path} (disk full)"
    if code == sqlite3.SQLITE_IOERR:
        return f"PREDARB_DB_PATH: {path} could not be written ({exc}: is the disk full?)"
    return f"PREDARB_DB_PATH: {path} cannot be used: {exc}"


def write_problem(path: Path) -> str:
    """Why predarb could not write the existing database ``path`` ("" when it can),
    found without writing anything: a write lock is taken and given back."""
    if not os.access(path.parent, os.W_OK):
        return f"PREDARB_DB_PATH: {path.parent} is read-only; SQLite writes its journal there"
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as conn:
            conn.executescript(f"BEGIN IMMEDIATE; {_WRITE_PROBE}; ROLLBACK;")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):  # a running bot holds the write lock: it is writable
            return ""
        return cannot_use(path, exc)
    except sqlite3.Error as exc:
        return cannot_use(path, exc)
    return ""


def _inspect(path: Path) -> int:
    """The schema version of an existing file, read without writing anything."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if not tables:
                return 0
            if "meta" not in tables:
                raise StoreError(f"{path}: not a predarb database (foreign SQLite file); refusing")
            rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        if code not in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
            raise StoreError(cannot_use(path, exc)) from None  # the file may be fine
        raise StoreError(f"{path}: not a usable SQLite database ({exc}); refusing") from None
    if rows.get("app") != APP_ID:
        raise StoreError(f"{path}: not a predarb database (foreign SQLite file); refusing")
    try:
        version = int(rows.get("schema_version", "0"))
    except ValueError:
        raise StoreError(f"{path}: unreadable schema version; refusing") from None
    missing = sorted(_tables_of(min(version, SCHEMA_VERSION)) - tables)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise StoreError(
            f"{path}: a half-made predarb database (no table {', '.join(missing[:3])}{more});"
            " refusing: restore a backup or use another PREDARB_DB_PATH"
        )
    return version


@functools.cache
def _tables_of(version: int) -> frozenset[str]:
    """The tables a database of schema ``version`` has (its migrations, run in memory)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        for script in MIGRATIONS[:version]:
            conn.executescript(script)
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return frozenset(r[0] for r in rows)


async def _migrate(conn: aiosqlite.Connection, version: int) -> None:
    for number in range(version + 1, SCHEMA_VERSION + 1):
        script = MIGRATIONS[number - 1]
        # executescript commits first; BEGIN inside it keeps each migration atomic.
        await conn.executescript(
            "BEGIN IMMEDIATE;\n"
            + script
            + f"\nINSERT OR REPLACE INTO meta(key, value) VALUES ('app', '{APP_ID}');"
            + f"\nINSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '{number}');"
            + "\nCOMMIT;"
        )


async def backup(conn: aiosqlite.Connection, target: Path) -> None:
    """A consistent copy of the live database (SQLite online backup)."""
    if target.exists():
        raise StoreError(f"{target}: already exists; choose a new path")
    if not target.parent.is_dir():
        raise StoreError(f"{target}: no directory {target.parent}; create it first")
    try:
        dest = await aiosqlite.connect(str(target))
    except sqlite3.Error as exc:
        raise StoreError(f"{target}: cannot write the copy: {exc}") from None
    try:
        try:
            await conn.backup(dest)
        finally:
            await dest.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)  # half a copy is worse than none
        raise StoreError(f"{target}: cannot write the copy: {exc}") from None
