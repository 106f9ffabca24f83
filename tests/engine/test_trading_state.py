"""One owner of "may we trade": the hot path and ``check`` see the same state (kill
switch, safety halts, venues, cooldowns, reservations), and every change is announced.

Issue 16 finding 8: the hot path rebuilt the risk snapshot from the kill switch alone,
so after a stop signal (or under a full disk) the next opportunity of the same scan was
approved. These tests drive ``tick()``, as the live loop does."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from predarb.domain import Opportunity, Venue
from predarb.events import (
    BalanceChanged,
    Event,
    KillSwitchChanged,
    KillSwitchTripped,
    TradingHalted,
    TradingResumed,
    VenueBack,
    VenueDown,
)
from predarb.reservations import OrderBudget
from predarb.store import Store
from tests.core.builders import opportunity
from tests.engine.rig import D, Rig, rig


async def ready(r: Rig) -> None:
    """What ``start()`` does before trading, without its scheduler."""
    await r.engine.control.load(True)
    await r.engine.refresh_balances()
    await r.engine._remember_markets()


def fresh(event: str = "Test event") -> Opportunity:
    return replace(opportunity(event=event), quote_ts=datetime.now(UTC))


async def rejections(store: Store) -> list[tuple[str, str, str]]:
    rows = await store.query("SELECT event, code, reason FROM rejections ORDER BY rowid")
    return [(str(a), str(b), str(c)) for a, b, c in rows]


class StopAfterFirstDecision:
    """A stop signal that arrives during the scan, once the first opportunity is
    decided (the executions then run side by side: it cannot wait for an order)."""

    def __init__(self, r: Rig) -> None:
        self.r = r
        self.decided_n = 0

    def priced(self, pairs: object, found: object, now: object) -> None:
        return None

    def decided(self, opp: Opportunity, decision: object) -> None:
        self.decided_n += 1
        if self.decided_n == 1:
            self.r.engine.stop()


async def test_a_stop_signal_during_a_scan_approves_nothing_after_it(store: Store) -> None:
    r = rig(store, 3)
    await ready(r)
    for m in r.markets:
        r.arm(m)
    r.engine.watcher = StopAfterFirstDecision(r)
    await r.engine.tick()
    await r.engine.drain()
    assert len(r.kalshi.placed) == 1 and len(r.poly.placed) == 1
    refused = await rejections(store)
    assert len(refused) == 2
    assert all(code == "kill_switch" and "shutting down" in why for _, code, why in refused)


async def test_a_full_disk_refuses_on_the_hot_path(store: Store) -> None:
    r = rig(store, 1)
    await ready(r)
    r.arm(r.markets[0])
    await r.engine.safety.crashed(
        "settlement", sqlite3.OperationalError("database or disk is full")
    )
    await r.engine.tick()
    assert r.kalshi.placed == [] and r.poly.placed == []
    assert "DATABASE FULL" in r.console.sent[-1].plain
    assert r.engine.stats.last_rejection == {"pair-0": "kill_switch"}


async def test_check_and_the_hot_path_see_the_same_refusal(store: Store) -> None:
    r = rig(store, 1)
    await ready(r)
    opp = fresh()
    assert (await r.engine.check(opp)).approved
    assert (await r.engine._quick_check(opp)).approved
    r.engine.stop()
    for decision in (await r.engine.check(opp), await r.engine._quick_check(opp)):
        assert not decision.approved and "shutting down" in decision.reason


async def test_every_change_of_the_state_is_announced(store: Store) -> None:
    r = rig(store, 1)
    seen: list[Event] = []
    r.engine.bus.subscribe(seen.append)
    state = r.engine.state
    await ready(r)
    await r.engine.control.stop("by hand")
    await r.engine.control.start()
    await r.engine.trip("daily loss")
    await state.venue_down(Venue.KALSHI, "timeouts")
    await state.venue_down(Venue.KALSHI, "timeouts")  # no change: not announced again
    await state.venue_back(Venue.KALSHI)
    await state.halt("storage", "database not writable (disk full)")
    await state.halt("storage", "")
    kinds = [type(e) for e in seen if not isinstance(e, BalanceChanged)]
    assert kinds == [
        KillSwitchChanged,  # loaded: on
        KillSwitchChanged,  # /stop
        KillSwitchChanged,  # /start
        KillSwitchChanged,  # tripped: off...
        KillSwitchTripped,  # ...and a human should look
        VenueDown,
        VenueBack,
        TradingHalted,
        TradingResumed,
    ]
    assert [e.balance for e in seen if isinstance(e, BalanceChanged)] == [D(1000), D(1000)]


async def test_a_reservation_counts_as_spent_until_settled(store: Store) -> None:
    r = rig(store, 1)
    await ready(r)
    state = r.engine.state
    opp = fresh("Reserved")
    before = await state.snapshot(0)
    reservation = state.reserve(opp)
    held = state.build(before.now)
    assert held.in_flight_events == {"Reserved"} and held.in_flight == 1
    assert held.trades_today == before.trades_today + 1
    assert held.open_exposure == before.open_exposure + opp.cost + opp.fees
    k_leg = opp.legs[0]
    assert held.balances[Venue.KALSHI] == D(1000) - k_leg.cost - k_leg.fee
    assert not r.engine.risk.check(opp, held).approved  # the same event: in flight
    until = before.now + timedelta(seconds=30)
    await state.settle(reservation, {Venue.KALSHI: D(2)}, cooldown_until=until)
    after = state.build(before.now)
    assert after.in_flight_events == frozenset() and after.balances[Venue.KALSHI] == D(998)
    assert after.cooldown_until == {"Reserved": until}
    # A balance read that started before the spending is dropped: it may not show it.
    assert not await state.set_balance(Venue.KALSHI, D(1000), epoch=0)
    assert state.balances[Venue.KALSHI] == D(998)


async def test_an_order_waiting_for_a_slot_comes_before_new_executions() -> None:
    """A hedge waiting for a slot counts as taken: when the slot frees, risk sees none
    free (a new execution would be refused), and the hedge gets it."""
    now = [0.0]
    budget = OrderBudget(1, 0.05, clock=lambda: now[0])
    budget.take(1)  # an execution's leg
    hedge = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0)
    assert budget.free() == -1 and not hedge.done()
    now[0] = 0.05  # the leg's slot frees
    assert budget.free() == 0
    await asyncio.wait_for(hedge, 5)
    assert budget.free() == 0 and budget.freed()
