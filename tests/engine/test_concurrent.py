"""Executions side by side: many arbitrages open at once against venues with little
money, answering orders after random delays and killing some of them (a leg or a
hedge), so that hedges and unwinds run beside the other executions; the live loop
(``run``) trades them concurrently. Whatever the seed, no venue is overdrawn,
EXECUTOR_MAX_EXPOSURE, the daily trade count, EXECUTOR_MAX_IN_FLIGHT, each venue's
order rate (hedges and unwinds included), the daily one-legged limit and the daily
loss limit hold, and no event gets two executions at once, nor a second one after one
that bought anything (two pairs share each event here).

The daily loss limit holds as it does one execution at a time: an execution starts
only while today's loss plus all that the executions in flight pay stays below the
limit, so were every one of them lost, the day could pass the limit by one execution
at most. Today's loss is a settled execution of earlier today, a few dollars under the
limit.

Randomized with fixed seeds: each seed draws balances, limits, book sizes, order
delays and which orders are killed, so a failure is replayed by its seed."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from predarb import engine as engine_module
from predarb import reports
from predarb.domain import (
    Action,
    ExecutionStatus,
    Fill,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Venue,
)
from predarb.execution.hedging import HedgePolicy
from predarb.execution.recovery import recover
from predarb.store import Store
from predarb.store.records import ExecutionRecord
from tests.core.builders import opportunity
from tests.engine.rig import BookVenue, Market2, book, rig
from tests.engine.test_rearm import until
from tests.fakes.scripted_venue import KILL

PAIRS = 12
RUN_S = 1.5
ONE_LEGGED = (ExecutionStatus.HEDGED, ExecutionStatus.UNWOUND, ExecutionStatus.EXPOSED)


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


async def seed_loss(store: Store) -> Decimal:
    """An execution of earlier today, settled with neither leg paid (a resolution gone
    wrong): today's realized loss."""
    opp = opportunity(event="Earlier today", pair_id="pair-earlier")
    now = datetime.now(UTC)
    orders = [
        (OrderRequest(f"seed-{n}", leg.contract, Action.BUY, leg.price, leg.contracts), leg.world)
        for n, leg in enumerate(opp.legs)
    ]
    await store.create_execution("seed", opp, "paper", orders, now)
    for (order, _), leg in zip(orders, opp.legs, strict=True):
        cid = order.client_order_id
        fill = Fill(
            f"f-{cid}", cid, leg.contract, Action.BUY, leg.price, leg.contracts, leg.fee, now
        )
        result = OrderResult(
            cid, OrderStatus.FILLED, f"v-{cid}", leg.contracts, leg.price, leg.fee, (fill,)
        )
        await store.record_result("seed", result, now)
    await store.set_status("seed", ExecutionStatus.SUCCESS, now)
    lines = [(h, Decimal(0), False) for h in await store.holdings("seed")]
    return -await store.record_settlement("seed", lines, "neither leg paid", now)


def most_at_risk(executions: list[ExecutionRecord]) -> Decimal:
    """The most that executions in flight together paid at any execution's start,
    less the largest of them: what the day's loss limit saw when the last of them
    was approved (in flight: created, not yet finished, by the store's times)."""
    worst = Decimal(0)
    for e in executions:
        flying = [
            x.expected_cost + x.expected_fees
            for x in executions
            if x.created_at <= e.created_at
            and (x.finished_at is None or x.finished_at > e.created_at)
        ]
        worst = max(worst, sum(flying, Decimal(0)) - max(flying))
    return worst


@pytest.mark.parametrize("seed", range(6))
async def test_concurrent_executions_never_pass_a_limit(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    max_in_flight = rng.randint(2, 5)
    max_trades = rng.randint(4, 9)
    max_exposure = Decimal(rng.randint(25, 70))
    max_one_legged = rng.randint(1, 4)
    rate = (rng.randint(3, 6), 0.5)  # orders per half second, on each venue
    loss = await seed_loss(store)
    max_loss = loss + rng.randint(1, 15)  # a few dollars left before the limit
    r = rig(
        store,
        PAIRS,
        market=SharedEvent,
        predarb_poll_interval_s=0.05,
        executor_max_in_flight=max_in_flight,
        executor_max_daily_trades=max_trades,
        executor_max_exposure=max_exposure,
        executor_max_daily_loss=max_loss,
        executor_daily_partial_limit=max_one_legged,
        executor_hedge_budget_cents=Decimal(5),
    )
    r.kalshi.balance = Decimal(rng.randint(8, 30))
    r.poly.balance = Decimal(rng.randint(8, 30))
    in_flight_seen: list[int] = []
    legs = {m.k_yes for m in r.markets} | {m.p_no for m in r.markets}

    def delayed(venue: BookVenue) -> None:
        def on_place(order: OrderRequest) -> None:
            in_flight_seen.append(len(r.engine.state.reservations))
            venue.delay_s = rng.uniform(0.0, 0.08)  # read by this order, before any await
            # The first execution is one-legged (its first leg killed, the other filled),
            # then any order to buy may be killed.
            sent = len(r.kalshi.placed) + len(r.poly.placed)
            killed = sent == 0 or (sent > 1 and rng.random() < 0.3)
            if order.action is Action.BUY and killed:
                venue.script.insert(0, KILL)  # one leg (or a hedge) not filled
                if order.contract in legs and rng.random() < 0.5:
                    # ...and its price moved up: a hedge costs more than the leg did
                    up = order.price + Decimal(rng.randint(1, 4)) / 100
                    venue.books[order.contract] = book(
                        order.contract, str(up), bid=str(up - 5 / Decimal(100))
                    )

        venue.on_place = on_place

    delayed(r.kalshi)
    delayed(r.poly)
    for venue in (Venue.KALSHI, Venue.POLYMARKET):
        r.engine.state.set_order_rate(venue, *rate)
    await r.engine.start()
    for m in r.markets:
        r.arm(m, size=str(rng.randint(5, 20)), bids=True)
    try:
        await r.engine.run(duration_s=RUN_S)  # returns once the executions in flight end
    finally:
        await r.engine.shutdown()

    everything = await store.executions()
    executions = [e for e in everything if e.id != "seed"]
    assert executions, "nothing traded: the test would prove nothing"
    assert any(e.status in ONE_LEGGED for e in executions)  # hedges or unwinds ran
    assert r.kalshi.overdrafts == [] and r.poly.overdrafts == []
    assert r.kalshi.balance >= 0 and r.poly.balance >= 0
    by_event: dict[str, list[ExecutionRecord]] = {}
    for e in sorted(everything, key=lambda e: e.created_at):
        by_event.setdefault(e.event, []).append(e)
    for event, runs in by_event.items():
        # Never two at once on an event, and a second only after one that bought nothing.
        for before, after in itertools.pairwise(runs):
            assert before.status is ExecutionStatus.FAILED, (event, before.status)
            assert before.finished_at is not None and before.finished_at <= after.created_at
    assert len(everything) <= max_trades
    _, exposure = await reports.open_exposure(store)
    assert exposure <= max_exposure
    assert max(in_flight_seen) <= max_in_flight
    for venue in (r.kalshi, r.poly):
        # Slots are taken at the approval, a few ms before the send: a window a little
        # narrower than the budget's must hold no more orders than it allows.
        assert most_in_window(venue.sent_at, rate[1] - 0.05) <= rate[0]
    day = reports.day_start(datetime.now(UTC))
    assert await store.one_legged_count(day) <= max_one_legged
    assert loss + most_at_risk(executions) < max_loss
    assert not r.engine.in_flight and r.engine.state.reservations == {}
    assert r.engine.state.holds == {}


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
