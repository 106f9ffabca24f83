"""The shared aiosqlite connection of a ``Store`` and its transactions.

Every write holds the connection's lock (``transaction()``, or one statement alone): one
writer at a time, so that a transaction is never joined by another task's statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import aiosqlite

_IN_TRANSACTION: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "predarb_store_transaction", default=False
)


class StoreConnection:
    """The connection every part of the ``Store`` writes and reads through."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One writer at a time on the shared connection, so that a transaction is never
        joined by another task's statements. Nested use joins the open transaction."""
        if _IN_TRANSACTION.get():
            yield
            return
        async with self._lock:
            token = _IN_TRANSACTION.set(True)
            try:
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
        if _IN_TRANSACTION.get():
            await self.conn.execute(sql, params)
            return
        async with self._lock:
            await self.conn.execute(sql, params)

    async def _write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction():
            await self.conn.executemany(sql, rows)

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """A read-only query, for the reports module."""
        return await self._rows(sql, params)
