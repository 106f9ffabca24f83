"""One bot per database: an exclusive lock held for the life of the process that writes.

The lock is ``flock`` on a file beside the database (``<database>.lock``), taken before
the database is opened (so the migration of a fresh file is never raced) and held until
the store is closed or the process dies: the kernel releases it with the last open
descriptor, even after a ``SIGKILL``, so a crash never leaves a stale lock behind. The
holder writes its pid and start time into the file, so that a second start can say who
holds it. The file itself is never deleted: removing it while another process waits on
it would let two processes lock two different files.

``flock`` locks belong to the open file, not to the process: a second ``acquire`` in the
same process is refused too, as it must be (two stores writing one database).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from predarb.store.db import StoreError


class DatabaseInUse(StoreError):
    """Another predarb holds the database; the message names it (pid, since when)."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@dataclass
class DatabaseLock:
    path: Path
    fd: int
    inode: tuple[int, int]  # (device, inode) of the lock file when it was taken

    @classmethod
    def acquire(cls, database: Path, *, now: datetime | None = None) -> DatabaseLock:
        """Lock ``database`` for this process, or raise ``DatabaseInUse`` naming the
        holder. Never waits."""
        path = lock_path(database)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(
                f"PREDARB_DB_PATH: cannot create the lock file {path}: {exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # The holder writes its pid right after it locks: a start racing ours may
            # not have written it yet, so look again for a moment before saying so.
            record = _read(fd)
            for _ in range(20):
                if record.get("pid"):
                    break
                time.sleep(0.025)
                record = _read(fd)
            holder = _describe(record)
            os.close(fd)
            raise DatabaseInUse(
                f"PREDARB_DB_PATH: {database} is in use by another predarb ({holder});"
                " stop it first, or give this one its own PREDARB_DB_PATH"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"PREDARB_DB_PATH: cannot lock {path}: {exc}") from None
        since = (now or datetime.now(UTC)).astimezone(UTC)
        record = {"pid": os.getpid(), "since": since.strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        st = os.fstat(fd)
        return cls(path, fd, (st.st_dev, st.st_ino))

    def intact(self) -> bool:
        """Whether the lock file is still the one locked (not deleted nor replaced):
        otherwise a second process could lock a new file beside the same database."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.inode

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)  # closing the last descriptor releases the flock
        self.fd = -1


def _read(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(record: dict[str, object]) -> str:
    if not record.get("pid"):
        return "a process that is starting now"
    return f"pid {record['pid']}, since {record.get('since', 'an unknown time')}"
