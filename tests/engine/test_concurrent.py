"""Executions side by side: many arbitrages open at once against venues with little
money, answering orders after random delays; the live loop (``run``) trades them
concurrently. Whatever the seed, no venue is overdrawn, EXECUTOR_MAX_EXPOSURE, the
daily trade count, EXECUTOR_MAX_IN_FLIGHT and each venue's order rate hold, and no
event gets two executions (two pairs share each event here).

Randomized with fixed seeds: each seed draws balances, limits, book sizes and order
delays, so a failure is replayed by its seed."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from decimal import Decimal

import pytest

from predarb import engine as engine_module
from predarb import reports
from predarb.domain import ExecutionStatus, OrderRequest, Venue
from predarb.execution.hedging import HedgePolicy
from predarb.execution.recovery import recover
from predarb.store import Store
from tests.engine.rig import BookVenue, Market2, rig
from tests.engine.test_rearm import until

PAIRS = 12
RUN_S = 1.5


class SharedEvent(Market2):
    """Pairs 2k and 2k+1 are two markets of one event."""

    @property
    def event(self) -> str:
        return f"Event {self.index // 2}"


def most_in_window(times: list[float], width: float) -> int:
    """The most of ``times`` within any window of ``width`` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.parametrize("seed", range(6))
async def test_concurrent_executions_never_pass_a_limit(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    max_in_flight = rng.randint(2, 5)
    max_trades = rng.randint(3, 8)
    max_exposure = Decimal(rng.randint(25, 70))
    rate = (rng.randint(3, 6), 0.5)  # orders per half second, on each venue
    r = rig(
        store,
        PAIRS,
        market=SharedEvent,
        predarb_poll_interval_s=0.05,
        executor_max_in_flight=max_in_flight,
        executor_max_daily_trades=max_trades,
        executor_max_exposure=max_exposure,
    )
    r.kalshi.balance = Decimal(rng.randint(8, 30))
    r.poly.balance = Decimal(rng.randint(8, 30))
    in_flight_seen: list[int] = []

    def delayed(venue: BookVenue) -> None:
        def on_place(order: OrderRequest) -> None:
            in_flight_seen.append(len(r.engine.state.reservations))
            venue.delay_s = rng.uniform(0.0, 0.08)  # read by this order, before any await

        venue.on_place = on_place

    delayed(r.kalshi)
    delayed(r.poly)
    for venue in (Venue.KALSHI, Venue.POLYMARKET):
        r.engine.state.set_order_rate(venue, *rate)
    await r.engine.start()
    for m in r.markets:
        r.arm(m, size=str(rng.randint(5, 20)))
    try:
        await r.engine.run(duration_s=RUN_S)  # returns once the executions in flight end
    finally:
        await r.engine.shutdown()

    executions = await store.executions()
    assert executions, "nothing traded: the test would prove nothing"
    assert r.kalshi.overdrafts == [] and r.poly.overdrafts == []
    assert r.kalshi.balance >= 0 and r.poly.balance >= 0
    per_event = Counter(e.event for e in executions)
    assert max(per_event.values()) == 1, per_event
    assert len(executions) <= max_trades
    _, exposure = await reports.open_exposure(store)
    assert exposure <= max_exposure
    assert max(in_flight_seen) <= max_in_flight
    for venue in (r.kalshi, r.poly):
        # Slots are taken at the approval, a few ms before the send: a window a little
        # narrower than the budget's must hold no more orders than it allows.
        assert most_in_window(venue.sent_at, rate[1] - 0.05) <= rate[0]
    assert not r.engine.in_flight and r.engine.state.reservations == {}


async def test_executions_on_different_events_run_side_by_side(store: Store) -> None:
    """Four arbitrages at once, the venues holding every answer back: all four
    executions' orders are sent before any is answered."""
    r = rig(store, 4)
    gate = asyncio.Event()
    r.kalshi.gate = r.poly.gate = gate
    await r.engine.start()
    for m in r.markets:
        r.arm(m)
    try:
        await r.engine.tick()
        await until(lambda: len(r.kalshi.sent_at) + len(r.poly.sent_at) == 8)
        assert len(r.engine.in_flight) == 4
        assert await store.executions(statuses=[ExecutionStatus.SUCCESS]) == []
        gate.set()
        await asyncio.wait_for(r.engine.drain(), 10)
    finally:
        await r.engine.shutdown()
    assert {o.contract for o in r.kalshi.placed} == {m.k_yes for m in r.markets}
    assert {e.status.value for e in await store.executions()} == {"success"}


async def test_recovery_finds_every_execution_cut_off_in_flight(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three executions whose orders filled but were never answered when the bot
    stopped (the grace for executions in flight run out): the next start's recovery
    looks every one of them up and finishes it."""
    monkeypatch.setattr(engine_module, "EXECUTION_GRACE_S", 0.0)
    r = rig(store, 3)
    r.kalshi.gate = r.poly.gate = asyncio.Event()  # never opened
    await r.engine.start()
    for m in r.markets:
        r.arm(m)
    await r.engine.tick()
    await until(lambda: len(r.kalshi.sent_at) + len(r.poly.sent_at) == 6)
    await r.engine.shutdown()
    unfinished = await store.executions(statuses=[ExecutionStatus.PENDING])
    assert len(unfinished) == 3 and not r.engine.in_flight
    r.kalshi.gate = r.poly.gate = None
    report = await recover(r.engine.placer, HedgePolicy.from_settings(r.engine.settings))
    assert report.finished == {e.id: ExecutionStatus.SUCCESS for e in unfinished}
