"""The position manager's repository: every write and read of trading state.

One ``Store`` wraps one aiosqlite connection. Writes that must be durable before an
order leaves the process (the write-ahead of an execution and its orders) commit
before returning. Money crosses this edge as ``Decimal`` and is kept as integer
micro-dollars.

A store opened for writing holds the database's lock (``store.lock``) until it is
closed: one bot per database. Once its file was deleted or replaced under it and a
rescue copy taken (``rescue``), the copy is brought up to date again at ``close``: the
connection goes on writing into the lost file, and what it wrote after the first copy
(fills, settlements, events) must not be lost with it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import aiosqlite

from predarb.store.db import backup, open_database
from predarb.store.execution_reads import ExecutionReads
from predarb.store.executions import AlreadySettled, ExecutionWrites
from predarb.store.lock import DatabaseLock
from predarb.store.redemptions import RedemptionTables
from predarb.store.state import SERIES_BLOCKS_KEY

__all__ = ["SERIES_BLOCKS_KEY", "AlreadySettled", "Store"]

log = logging.getLogger(__name__)


class Store(ExecutionWrites, ExecutionReads, RedemptionTables):
    """The whole repository: ``StateTables`` (bot state, event log, pairs, outbox),
    ``ExecutionWrites`` and ``ExecutionReads``, on one ``StoreConnection``."""

    _checkpointer: aiosqlite.Connection | None = None
    path: Path | None = None
    lock: DatabaseLock | None = None  # held by a store opened for writing
    _inode: tuple[int, int] | None = None  # (device, inode) of the file opened
    _rescue: Path | None = None  # the copy of a lost file, kept up to date
    _rescued_changes = 0  # this connection's row changes when it was last copied

    @classmethod
    async def open(cls, path: Path, *, readonly: bool = False) -> Store:
        """Open the database; for writing, only after taking its lock (``DatabaseInUse``
        names the process holding it), so two bots, or two migrations, never meet."""
        lock = None if readonly else DatabaseLock.acquire(path)
        try:
            store = cls(await open_database(path, readonly=readonly))
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        store.path, store.lock = path, lock
        if lock is not None:
            st = path.stat()
            store._inode = (st.st_dev, st.st_ino)
        return store

    def file_intact(self) -> bool:
        """Whether the database file (and its lock file) is still the one opened: a file
        deleted or replaced under a running bot would let the next start forget every
        position, and let a second bot lock a new file."""
        if self.path is None or self.lock is None:
            return True
        try:
            st = self.path.stat()
        except OSError:
            return False
        return self.lock.intact() and self._inode == (st.st_dev, st.st_ino)

    async def close(self) -> None:
        try:
            if self._rescue is not None:
                try:
                    await self.refresh_rescue()
                except Exception as exc:
                    log.error(
                        "the rescue copy %s was not brought up to date: %s",
                        self._rescue,
                        exc,
                        extra={"code": "database_gone"},
                    )
                self._rescue = None  # a second close copies nothing
            if self._checkpointer is not None:
                await self._checkpointer.close()
                self._checkpointer = None
            await self.conn.close()  # the last connection out checkpoints the WAL
        finally:
            if self.lock is not None:
                self.lock.release()
                self.lock = None

    async def checkpoint_in_background(self) -> None:
        """From now on ``checkpoint()`` copies the WAL into the database, on a connection
        (and thread) of its own, instead of whichever commit crosses SQLite's threshold:
        that copy ends in an fsync of several milliseconds, which must not land on the
        write-ahead of an order. Whoever calls this must call ``checkpoint()`` regularly."""
        if self._checkpointer is not None:
            return
        path = str((await self._rows("PRAGMA database_list"))[0][2])
        if not path:  # an in-memory database has no WAL
            return
        self._checkpointer = await aiosqlite.connect(path, isolation_level=None)
        await self.conn.execute("PRAGMA wal_autocheckpoint = 0")

    async def checkpoint(self) -> int:
        """A passive checkpoint (never waits for, nor blocks, readers or the writer);
        the WAL pages still to copy (0 when it caught up), or -1 when not enabled."""
        if self._checkpointer is None:
            return -1
        async with self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)") as cur:
            row = await cur.fetchone()
        return -1 if row is None else int(row[1]) - int(row[2])

    async def backup(self, target: Path) -> None:
        await backup(self.conn, target)

    async def rescue(self, target: Path) -> None:
        """Copy what the database holds to ``target`` (its file was deleted or replaced:
        only this connection still reaches it); ``refresh_rescue`` and ``close`` copy
        it there again, with whatever was written since."""
        changes = self.conn.total_changes
        await self.backup(target)
        self._rescue, self._rescued_changes = target, changes

    async def refresh_rescue(self) -> bool:
        """Bring the rescue copy up to date if anything was written since it was made;
        whether it was. The new copy is made beside the old one and renamed over it, so
        a copy that fails half way leaves the previous one whole."""
        target = self._rescue
        changes = self.conn.total_changes
        if target is None or changes == self._rescued_changes:
            return False
        fresh = target.with_name(target.name + ".new")
        fresh.unlink(missing_ok=True)
        await self.backup(fresh)
        fresh.replace(target)
        self._rescued_changes = changes
        return True
