"""The safety net: tasks restart after a crash, a crash loop trips the kill switch,
a full database pauses trading (with an alert) until it can be written again, and a
stopping engine starts no new execution."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest

from predarb.app import post_trade
from predarb.config import Settings
from predarb.domain import ExecutionStatus, OrderRequest, OrderResult, Venue
from predarb.engine import Engine
from predarb.notify.base import AlertKind
from predarb.notify.console import ConsoleNotifier
from predarb.safety import Supervisor
from predarb.store import Store
from tests.core.builders import T0, opportunity
from tests.fakes.scripted_venue import ScriptedVenue
from tests.hardening.chaos_rig import fill_disk, free_disk


async def test_a_crashing_task_restarts_and_a_crash_loop_is_reported_once() -> None:
    loops: list[tuple[str, str]] = []
    runs = 0
    done = asyncio.Event()

    async def on_loop(name: str, exc: BaseException) -> None:
        loops.append((name, str(exc)))

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 6:
            raise RuntimeError(f"boom {runs}")
        done.set()

    supervisor = Supervisor(on_loop, max_crashes=3, window_s=60, base_backoff_s=0.001)
    supervisor.spawn("flaky", flaky)
    await asyncio.wait_for(done.wait(), timeout=5)
    await supervisor.stop()
    assert runs == 6 and supervisor.total_crashes == 5
    assert loops == [("flaky", "boom 3")]


async def test_a_guarded_job_never_raises_and_is_waited_for_at_stop() -> None:
    finished = asyncio.Event()

    async def slow() -> None:
        await asyncio.sleep(0.05)
        finished.set()

    async def broken() -> None:
        raise ValueError("bad")

    async def never(name: str, exc: BaseException) -> None:
        raise AssertionError("no crash loop expected")

    supervisor = Supervisor(never, max_crashes=5)
    await supervisor.guarded("broken", broken)()
    task = asyncio.create_task(supervisor.guarded("slow", slow)())
    await asyncio.sleep(0)
    await supervisor.stop(grace_s=5)
    assert finished.is_set() and task.done()
    assert supervisor.total_crashes == 1


async def test_a_guarded_job_cancelled_by_the_shutdown_ends_quietly() -> None:
    started = asyncio.Event()

    async def endless() -> None:
        started.set()
        await asyncio.Event().wait()

    async def never(name: str, exc: BaseException) -> None:
        raise AssertionError("no crash loop expected")

    supervisor = Supervisor(never)
    task = asyncio.create_task(supervisor.guarded("settlement", endless)())
    await started.wait()
    task.cancel()
    await task  # ends without an exception: the scheduler has no traceback to log
    assert supervisor.total_crashes == 0 and not supervisor.running


@pytest.fixture
async def engine(store: Store) -> AsyncIterator[tuple[Engine, ConsoleNotifier]]:
    settings = Settings(_env_file=None, executor_max_bet=Decimal(10), executor_cooldown_s=1)
    venues = {
        Venue.KALSHI: ScriptedVenue(Venue.KALSHI),
        Venue.POLYMARKET: ScriptedVenue(Venue.POLYMARKET),
    }
    clock = iter(T0 + timedelta(milliseconds=n) for n in range(10**6))
    console = ConsoleNotifier(StringIO())
    eng = Engine(settings, store, venues, console, mode="paper", clock=lambda: next(clock))
    post_trade(eng)
    await eng.control.load(True)
    await eng.refresh_balances()
    yield eng, console


async def test_a_crash_loop_trips_the_kill_switch_with_an_alert(
    engine: tuple[Engine, ConsoleNotifier],
) -> None:
    eng, console = engine
    for n in range(eng.safety.supervisor.max_crashes):
        await eng.safety.crashed("settlement", RuntimeError(f"bug {n}"))
    assert not eng.control.enabled
    assert "crash loop in settlement" in eng.control.reason
    assert [a.kind for a in console.sent] == [AlertKind.KILL_SWITCH]
    decision = await eng.check(opportunity())
    assert not decision.approved


async def test_a_full_database_pauses_trading_until_it_can_be_written(
    engine: tuple[Engine, ConsoleNotifier], store: Store
) -> None:
    eng, console = engine
    kalshi = eng.venues[Venue.KALSHI]
    assert isinstance(kalshi, ScriptedVenue)
    eng.safety.storage_probe_s = 0
    await fill_disk(store)

    opp = opportunity(event="On a full disk")
    assert (await eng.check(opp)).approved
    with pytest.raises(sqlite3.Error):
        await eng.execute(opp)
    assert kalshi.placed == []  # the write-ahead failed: nothing was sent
    assert eng.control.enabled  # not a kill switch: nothing is at risk
    assert [a.kind for a in console.sent] == [AlertKind.KILL_SWITCH]
    assert "DATABASE FULL" in console.sent[0].plain
    decision = await eng.check(opportunity(event="Still full"))
    assert not decision.approved and "database not writable" in decision.reason

    await eng.safety.watch()  # still full: stays paused
    assert eng.safety.storage_error
    await free_disk(store)
    await eng.safety.watch()
    assert not eng.safety.storage_error
    assert "writable again" in console.sent[-1].plain
    placement = await eng.execute(opportunity(event="Disk freed"))
    assert placement.status is ExecutionStatus.SUCCESS


async def test_a_stopping_engine_starts_no_new_execution(
    engine: tuple[Engine, ConsoleNotifier],
) -> None:
    eng, _ = engine
    assert (await eng.check(opportunity())).approved
    eng.stop()
    decision = await eng.check(opportunity())
    assert not decision.approved and "shutting down" in decision.reason


class BuggyVenue(ScriptedVenue):
    """An adapter with a bug: the order reaches the venue, then the adapter raises."""

    async def place_order(self, order: OrderRequest) -> OrderResult:
        await super().place_order(order)
        raise RuntimeError("adapter bug after sending")


async def test_an_execution_that_dies_after_sending_trips_the_kill_switch_naming_it(
    store: Store,
) -> None:
    settings = Settings(_env_file=None, executor_max_bet=Decimal(10))
    venues = {
        Venue.KALSHI: BuggyVenue(Venue.KALSHI),
        Venue.POLYMARKET: BuggyVenue(Venue.POLYMARKET),
    }
    console = ConsoleNotifier(StringIO())
    eng = Engine(settings, store, venues, console, mode="paper", clock=lambda: T0)
    post_trade(eng)
    await eng.control.load(True)
    with pytest.raises(RuntimeError):
        await eng.execute(opportunity(event="Sent then lost"))
    pending = [e for e in await store.executions() if not e.status.final]
    assert len(pending) == 1
    assert not eng.control.enabled
    assert [a.kind for a in console.sent] == [AlertKind.KILL_SWITCH]
    assert pending[0].id in console.sent[0].plain and "Sent then lost" in console.sent[0].plain
