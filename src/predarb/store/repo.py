"""The position manager's repository: every write and read of trading state.

One ``Store`` wraps one aiosqlite connection. Writes that must be durable before an
order leaves the process (the write-ahead of an execution and its orders) commit
before returning. Money crosses this edge as ``Decimal`` and is kept as integer
micro-dollars.
"""

from __future__ import annotations

from pathlib import Path

from predarb.store.db import backup, open_database
from predarb.store.execution_reads import ExecutionReads
from predarb.store.executions import AlreadySettled, ExecutionWrites
from predarb.store.state import SERIES_BLOCKS_KEY

__all__ = ["SERIES_BLOCKS_KEY", "AlreadySettled", "Store"]


class Store(ExecutionWrites, ExecutionReads):
    """The whole repository: ``StateTables`` (bot state, event log, pairs, outbox),
    ``ExecutionWrites`` and ``ExecutionReads``, on one ``StoreConnection``."""

    @classmethod
    async def open(cls, path: Path, *, readonly: bool = False) -> Store:
        return cls(await open_database(path, readonly=readonly))

    async def close(self) -> None:
        await self.conn.close()

    async def backup(self, target: Path) -> None:
        await backup(self.conn, target)
