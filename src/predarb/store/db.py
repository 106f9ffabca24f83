"""Opening, checking and migrating the SQLite file (aiosqlite).

The file is checked before anything is written to it: a corrupt file, a foreign
SQLite database or one from a newer predarb is refused with a ``StoreError`` naming
the path, and left untouched. Then WAL mode, a busy timeout, foreign keys, and the
pending migrations, each in its own transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite

from predarb.store.schema import APP_ID, MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 5000


class StoreError(Exception):
    """The database cannot be used; the message is one line for the user."""


async def open_database(path: Path, *, readonly: bool = False) -> aiosqlite.Connection:
    """Open (creating it unless ``readonly``), check and migrate the database."""
    if readonly and not path.exists():
        raise StoreError(f"PREDARB_DB_PATH: no database at {path} (run the bot or the demo first)")
    if path.exists() and path.is_dir():
        raise StoreError(f"PREDARB_DB_PATH: {path} is a directory, not a SQLite file")
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
        raise StoreError(f"{path}: cannot open database: {exc}") from None
    conn.row_factory = aiosqlite.Row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        if version < SCHEMA_VERSION:
            await conn.close()
            raise StoreError(f"{path}: schema version {version} is old; start the bot once")
        return conn
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await _migrate(conn, version)
    return conn


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
        raise StoreError(f"{path}: not a usable SQLite database ({exc}); refusing") from None
    if rows.get("app") != APP_ID:
        raise StoreError(f"{path}: not a predarb database (foreign SQLite file); refusing")
    try:
        return int(rows.get("schema_version", "0"))
    except ValueError:
        raise StoreError(f"{path}: unreadable schema version; refusing") from None


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
    dest = await aiosqlite.connect(str(target))
    try:
        await conn.backup(dest)
    finally:
        await dest.close()
