"""The shared aiosqlite connection of a ``Store`` and its transactions.

Every write holds the connection's lock (``transaction()``, or one statement alone): one
writer at a time, so that a transaction is never joined by another task's statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import aiosqlite

_IN_TRANSACTION: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "predarb_store_transaction", default=False
)
# The statements of a batched transaction, kept until it ends (None: not batching).
Statement = tuple[str, Sequence[Any] | list[Sequence[Any]], bool]  # sql, params, many
_BATCH: contextvars.ContextVar[list[Statement] | None] = contextvars.ContextVar(
    "predarb_store_batch", default=None
)


def _run_batch(conn: sqlite3.Connection, statements: list[Statement]) -> None:
    """On the connection's own thread: the whole transaction, or none of it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, params, many in statements:
            if many:
                conn.executemany(sql, params)
            else:
                conn.execute(sql, params)
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back by itself (a full disk)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class StoreConnection:
    """The connection every part of the ``Store`` writes and reads through."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def transaction(self, *, batch: bool = False) -> AsyncIterator[None]:
        """One writer at a time on the shared connection, so that a transaction is never
        joined by another task's statements. Nested use joins the open transaction.

        ``batch``: writes only (nothing inside may read what it wrote), kept until the
        end and run on the database's thread in one go. Each statement of an ordinary
        transaction is a round trip to that thread (about 0.15 ms); the write-ahead of
        an execution is on the hot path, where eight of them were most of a
        millisecond."""
        if _IN_TRANSACTION.get():
            yield
            return
        async with self._lock:
            token = _IN_TRANSACTION.set(True)
            try:
                if batch:
                    statements: list[Statement] = []
                    batch_token = _BATCH.set(statements)
                    try:
                        yield
                    finally:
                        _BATCH.reset(batch_token)
                    # aiosqlite runs no function of ours on its thread by a public call.
                    await self.conn._execute(  # type: ignore[no-untyped-call]
                        _run_batch, self.conn._conn, statements
                    )
                    return
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    # SQLite may already have rolled back by itself (a full disk, say):
                    # a second ROLLBACK would hide the error that matters.
                    if self.conn.in_transaction:
                        await self.conn.execute("ROLLBACK")
                    raise
                await self.conn.execute("COMMIT")
            finally:
                _IN_TRANSACTION.reset(token)

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement: inside a transaction it joins it; alone it is atomic by itself
        (autocommit), and only has to wait until no other task holds a transaction."""
        if (batch := _BATCH.get()) is not None:
            batch.append((sql, params, False))
            return
        if _IN_TRANSACTION.get():
            await self.conn.execute(sql, params)
            return
        async with self._lock:
            await self.conn.execute(sql, params)

    async def _write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if (batch := _BATCH.get()) is not None:
            batch.append((sql, list(rows), True))
            return
        async with self.transaction():
            await self.conn.executemany(sql, rows)

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        if _BATCH.get() is not None:
            raise RuntimeError("a read inside a batched transaction would not see its writes")
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """A read-only query, for the reports module."""
        return await self._rows(sql, params)
