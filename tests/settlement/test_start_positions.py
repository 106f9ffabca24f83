"""At a live start, before any trade, the venues' positions are compared with the
database's (issue 16): a bot started on a new database while the venues hold what an
earlier one bought is told, in one message listing each contract, and trades nothing
until the user sends /start. Real Kalshi and Polymarket clients against the fake
venues over loopback, a real SQLite file per database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from predarb.app import post_trade
from predarb.config import Settings
from predarb.domain import ExecutionStatus
from predarb.engine import Engine
from predarb.events import HALT_POSITIONS
from predarb.notify.base import AlertKind
from predarb.store import Store
from tests.execution.world import Fakes, make_venues, opportunity, running_fakes
from tests.settlement.test_engine_jobs import Collect


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[Fakes]:
    async with running_fakes(tmp_path) as f:
        yield f


def _engine(store: Store, fakes: Fakes) -> tuple[Engine, Collect]:
    notifier = Collect()
    engine = Engine(
        Settings(_env_file=None, executor_enabled=True),
        store,
        make_venues(fakes.cfg),
        notifier,
        mode="live",
    )
    post_trade(engine)
    return engine, notifier


async def _trade_once(path: Path, fakes: Fakes) -> None:
    """A first bot on ``path`` buys 5 contracts a side, then stops."""
    store = await Store.open(path)
    try:
        engine, _ = _engine(store, fakes)
        await engine.control.load(True)
        placement = await engine.execute(opportunity(fakes.cfg))
        assert placement.status is ExecutionStatus.SUCCESS
        await engine.shutdown()
    finally:
        await store.close()


def _mismatches(notifier: Collect) -> list[str]:
    return [
        a.plain
        for a in notifier.alerts
        if a.kind is AlertKind.MISMATCH and "POSITIONS DIFFER" in a.plain
    ]


async def test_a_new_database_under_held_positions_trades_nothing_until_start(
    tmp_path: Path, fakes: Fakes
) -> None:
    await _trade_once(tmp_path / "old.sqlite3", fakes)
    # The old database is gone: a new one knows nothing of the 5 + 5 contracts held.
    store = await Store.open(tmp_path / "new.sqlite3")
    engine, notifier = _engine(store, fakes)
    try:
        await engine.start()

        (told,) = _mismatches(notifier)
        assert "POSITIONS DIFFER AT START: 2 contract(s)" in told
        assert "kalshi KXSAFE-26DEC31-A (YES minus NO): database 0, venue 5" in told
        assert "database 0, venue 5, difference 5" in told.splitlines()[2]
        assert "send /start" in told
        assert not engine.control.enabled
        refused = await engine.check(opportunity(fakes.cfg))
        assert not refused.approved and refused.code == "kill_switch"
        assert "positions differ" in refused.reason
        (event,) = await store.events("positions_mismatch")
        assert len(event["differences"]) == 2

        # The periodic reconciliation does not tell the same differences again.
        await engine.reconciler.reconcile_once()
        await engine.reconciler.reconcile_once()
        assert len(_mismatches(notifier)) == 1

        # The user has looked: /start trades again.
        assert await engine.control.start() is None
        assert (await engine.check(opportunity(fakes.cfg))).code != "kill_switch"
    finally:
        await engine.shutdown()
        await store.close()


async def test_the_same_database_again_starts_without_a_word(tmp_path: Path, fakes: Fakes) -> None:
    path = tmp_path / "bot.sqlite3"
    await _trade_once(path, fakes)
    store = await Store.open(path)
    engine, notifier = _engine(store, fakes)
    try:
        await engine.start()
        assert _mismatches(notifier) == []
        assert engine.control.enabled and HALT_POSITIONS not in engine.state.halts
        assert await store.events("positions_mismatch") == []
    finally:
        await engine.shutdown()
        await store.close()


async def test_positions_that_cannot_be_read_at_start_hold_trades_until_they_are(
    store: Store, fakes: Fakes
) -> None:
    fakes.kalshi.fail_next(503, method="GET", path="/portfolio/positions", times=50)
    engine, notifier = _engine(store, fakes)
    try:
        await engine.start()
        assert "kalshi" in engine.state.halts[HALT_POSITIONS]
        refused = await engine.check(opportunity(fakes.cfg))
        assert not refused.approved and refused.code == "kill_switch"
        assert any("NO TRADING YET" in a.plain for a in notifier.alerts)

        fakes.kalshi.faults.clear()
        await engine.start_positions.check()  # the job, run again
        assert HALT_POSITIONS not in engine.state.halts
        assert engine.control.enabled and _mismatches(notifier) == []
        assert (await engine.check(opportunity(fakes.cfg))).code != "kill_switch"
    finally:
        await engine.shutdown()
