"""The safety net under every background task: an unexpected exception is logged with
its task's name, the task starts again after a backoff, and the bot keeps running.
Too many crashes within a window is a crash loop: ``on_crash_loop`` is called once
per loop (the engine trips the kill switch and alerts), and restarts go on at the
longest backoff so the bot stays alive and answers commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any, ParamSpec

from predarb import reports
from predarb.control import Control
from predarb.domain import Opportunity, Venue
from predarb.events import HALT_DATABASE, HALT_STOPPING, HALT_STORAGE
from predarb.store import Store
from predarb.trading_state import TradingState
from predarb.venues.base import VenueClient
from predarb.venues.breaker import CircuitBreaker, GuardedVenue, OnDown, OnUp

log = logging.getLogger(__name__)
P = ParamSpec("P")

OnCrashLoop = Callable[[str, BaseException], Awaitable[None]]
# Told of every crash first; True means a known condition handled elsewhere (a full
# disk), which is not counted towards a crash loop.
OnCrash = Callable[[str, BaseException], Awaitable[bool]]
# After the database file was lost, its rescue copy is brought up to date this often
# (when anything was written), besides once more when the store closes.
RESCUE_REFRESH_S = 60.0


class Supervisor:
    def __init__(
        self,
        on_crash_loop: OnCrashLoop,
        *,
        on_crash: OnCrash | None = None,
        max_crashes: int = 5,
        window_s: float = 300.0,
        base_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.on_crash_loop = on_crash_loop
        self.on_crash = on_crash
        self.max_crashes = max_crashes
        self.window_s = window_s
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.crashes: deque[float] = deque()
        self.total_crashes = 0
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.running: set[asyncio.Task[object]] = set()  # guarded jobs under way
        self._looping = False

    @property
    def in_crash_loop(self) -> bool:
        return self._looping

    async def crashed(self, name: str, exc: BaseException) -> None:
        """Record one unexpected exception of task ``name`` (already caught)."""
        self.total_crashes += 1
        handled = False
        if self.on_crash is not None:
            try:
                handled = await self.on_crash(name, exc)
            except Exception:
                log.exception("crash handler failed", extra={"task": name})
        if handled:
            log.warning(
                "task %s failed: %s: %s", name, type(exc).__name__, exc, extra={"task": name}
            )
            return
        now = self.clock()
        self.crashes.append(now)
        while self.crashes and self.crashes[0] < now - self.window_s:
            self.crashes.popleft()
        log.error(
            "task %s crashed (%d in the last %.0f s): %s: %s",
            name,
            len(self.crashes),
            self.window_s,
            type(exc).__name__,
            exc,
            exc_info=exc,
            extra={"code": "task_crashed", "task": name},
        )
        if len(self.crashes) < self.max_crashes:
            self._looping = False
            return
        if self._looping:
            return
        self._looping = True
        try:
            await self.on_crash_loop(name, exc)
        except Exception:
            log.exception("crash loop handler failed", extra={"task": name})

    def guarded(
        self, name: str, job: Callable[P, Awaitable[object]]
    ) -> Callable[P, Coroutine[Any, Any, None]]:
        """``job`` as a one-shot callable that never raises (for scheduled jobs)."""

        async def run(*args: P.args, **kwargs: P.kwargs) -> None:
            task = asyncio.current_task()
            if task is not None:
                self.running.add(task)
            try:
                await job(*args, **kwargs)
            except Exception as exc:
                await self.crashed(name, exc)
            except asyncio.CancelledError:
                # Only a shutdown cancels a scheduled job: not a crash, and not for the
                # scheduler to log as one (with a traceback).
                log.info("job %s stopped by the shutdown", name, extra={"task": name})
            finally:
                if task is not None:
                    self.running.discard(task)

        return run

    def spawn(self, name: str, loop: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run ``loop`` as task ``name``, started again whenever it raises. A return
        ends the task."""
        task = asyncio.create_task(self._keep_running(name, loop), name=name)
        self.tasks[name] = task
        return task

    async def _keep_running(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        backoff = self.base_backoff_s
        while True:
            started = self.clock()
            try:
                await loop()
                return
            except Exception as exc:
                await self.crashed(name, exc)
            # A task that ran well for a while starts again quickly.
            if self.clock() - started > self.window_s:
                backoff = self.base_backoff_s
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    async def stop(self, grace_s: float = 0.0) -> None:
        """Let guarded jobs under way finish (up to ``grace_s``), then cancel them and
        every spawned task, and wait for each to end."""
        if self.running and grace_s > 0:
            await asyncio.wait(list(self.running), timeout=grace_s)
        tasks = [*self.tasks.values(), *(t for t in self.running if not t.done())]
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is SQLite failing for want of space."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            if code == sqlite3.SQLITE_FULL or "full" in str(exc).lower():
                return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class EngineSafety:
    """The engine's faults in one place, each reported into the ``TradingState``: venue
    breakers (down and back), the supervisor of the scheduled jobs and the scan loop (a
    crash loop trips the kill switch), a database that cannot be written (the storage
    halt, until a probe write succeeds) and an execution that did not finish."""

    def __init__(
        self,
        store: Store,
        state: TradingState,
        control: Control,
        clock: Callable[[], datetime],
        *,
        storage_probe_s: float = 5.0,
    ) -> None:
        self.store = store
        self.state = state
        self.control = control
        self.clock = clock
        self.supervisor = Supervisor(self._crash_loop, on_crash=self._on_crash)
        self.guarded: dict[Venue, GuardedVenue] = {}
        self.storage_probe_s = storage_probe_s
        self._storage_checked = 0.0
        self._rescued_at = 0.0

    @property
    def storage_error(self) -> str:
        return self.state.halts.get(HALT_STORAGE, "")

    def guard(self, venues: Mapping[Venue, VenueClient]) -> dict[Venue, VenueClient]:
        """Each venue behind its circuit breaker."""
        out: dict[Venue, VenueClient] = {}
        for venue, client in venues.items():
            breaker = CircuitBreaker(
                venue.value, on_down=self._down_handler(venue), on_up=self._up_handler(venue)
            )
            self.guarded[venue] = GuardedVenue(client, breaker)
            out[venue] = self.guarded[venue]
        return out

    def halt_reason(self) -> str:
        """Why no new execution may start now, beyond the kill switch."""
        return self.state.halt_reason()

    def job(
        self, name: str, job: Callable[[], Awaitable[object]]
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        return self.supervisor.guarded(name, job)

    async def crashed(self, name: str, exc: BaseException) -> None:
        await self.supervisor.crashed(name, exc)

    async def watch(self) -> None:
        """One round of probes: venues that are down, a database that was full, and
        the database file still being the one opened."""
        await self._check_database_file()
        for venue in self.guarded.values():
            await venue.probe()
        if self.storage_error:
            await self._probe_storage()

    async def stop(self, grace_s: float = 15.0) -> None:  # within systemd's TimeoutStopSec
        await self.state.halt(HALT_STOPPING, "shutting down")
        await self.supervisor.stop(grace_s)

    # -- venues ----------------------------------------------------------------

    def _down_handler(self, venue: Venue) -> OnDown:
        async def down(reason: str) -> None:
            await self.state.venue_down(venue, reason)
            await self._note_health(venue, "down")

        return down

    def _up_handler(self, venue: Venue) -> OnUp:
        async def up(_down_for_s: float) -> None:
            await self.state.venue_back(venue)
            await self._note_health(venue, "up")

        return up

    async def _note_health(self, venue: Venue, state: str) -> None:
        try:
            await self.store.set_state(reports.HEALTH_PREFIX + venue.value, state, self.clock())
        except Exception as exc:
            await self._on_crash("venue health", exc)

    # -- crashes and the database ------------------------------------------------

    async def _on_crash(self, name: str, exc: BaseException) -> bool:
        if not is_disk_full(exc):
            return False
        if not self.storage_error:
            self._storage_checked = time.monotonic()
            log.warning("a write failed in %s: disk full", name, extra={"code": "storage_down"})
            await self.state.halt(HALT_STORAGE, "database not writable (disk full)")
        return True

    async def _check_database_file(self) -> None:
        """A database file deleted (or replaced) under the bot goes unnoticed by SQLite,
        which keeps writing to the file it opened: every position would be forgotten at
        the next start. New executions stop (for good: the file opened cannot come
        back) and the chat is told once. What is written after the rescue copy still
        goes only to the lost file: the copy is brought up to date every
        ``RESCUE_REFRESH_S`` and when the store closes."""
        if HALT_DATABASE in self.state.halts:
            await self._refresh_rescue()
            return
        if self.store.file_intact():
            return
        path = self.store.path
        log.error(
            "the database file %s was deleted or replaced", path, extra={"code": "database_gone"}
        )
        reason = f"database file {path} deleted or replaced while running"
        # The connection still reads the file it opened: a copy keeps every position.
        rescue = None if path is None else path.with_name(f"{path.name}.rescued-{os.getpid()}")
        try:
            if rescue is not None:
                await self.store.rescue(rescue)
        except Exception as exc:
            log.error("the database could not be saved: %s", exc, extra={"code": "database_gone"})
        else:
            self._rescued_at = time.monotonic()
            reason += f"; what it held is saved in {rescue} (kept up to date until shutdown)"
        await self.state.halt(HALT_DATABASE, reason)

    async def _refresh_rescue(self) -> None:
        if time.monotonic() - self._rescued_at < RESCUE_REFRESH_S:
            return
        self._rescued_at = time.monotonic()
        try:
            await self.store.refresh_rescue()
        except Exception as exc:
            log.error(
                "the rescue copy was not brought up to date: %s",
                exc,
                extra={"code": "database_gone"},
            )

    async def _probe_storage(self) -> None:
        if time.monotonic() - self._storage_checked < self.storage_probe_s:
            return
        self._storage_checked = time.monotonic()
        try:
            # An append to the event log, the table that grows most, proves there is room.
            await self.store.log_event("storage_probe", self.clock())
        except Exception as exc:
            log.warning("database still not writable: %s", exc, extra={"code": "storage_down"})
            return
        log.warning("database writable again", extra={"code": "storage_up"})
        await self.state.halt(HALT_STORAGE, "")

    async def _crash_loop(self, name: str, exc: BaseException) -> None:
        await self.stop_trading(f"crash loop in {name}: {type(exc).__name__}")

    async def stop_trading(self, reason: str) -> None:
        """The kill switch, even when the database cannot record it."""
        await self.control.trip(reason)

    async def execution_failed(self, opp: Opportunity, exc: BaseException) -> None:
        """An execution raised before it was classified. If its write-ahead is in the
        database its orders may be live: a human is needed, so the kill switch trips."""
        log.error(
            "execution did not finish: %s: %s",
            type(exc).__name__,
            exc,
            extra={"event": opp.event, "pair": opp.pair_id, "code": "execution_unfinished"},
        )
        await self._on_crash("execution", exc)
        try:
            pending = [
                e
                for e in await self.store.executions(unsettled=True)
                if e.event == opp.event and not e.status.final
            ]
        except Exception:
            log.exception("cannot tell whether orders went out", extra={"event": opp.event})
            pending = []
            unknown = True
        else:
            unknown = False
        if pending or unknown:
            ids = ", ".join(e.id for e in pending) or "unknown"
            await self.stop_trading(
                f"execution on {opp.event} did not finish ({type(exc).__name__});"
                f" orders may be live: check executions {ids}"
            )
