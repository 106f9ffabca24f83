"""Settlement against fake venues: YES, NO, void, the venues disagreeing, an outage,
a failing position, a failed and an unwound execution."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest

from predarb import reports
from predarb.domain import ExecutionStatus, Resolution, Venue
from predarb.notify.base import Alert, AlertKind
from predarb.settlement import Settler
from predarb.store import Store
from predarb.venues.base import VenueUnavailable
from tests.core.builders import T0
from tests.fakes.scripted_venue import ScriptedVenue
from tests.settlement.month import GenExecution, GenFill, write

D = Decimal
HALF = D("0.5")


@dataclass
class Flaky(ScriptedVenue):
    """Resolution lookups fail ``outages`` times first (the venue is down)."""

    outages: int = 0
    asked: list[str] = field(default_factory=list)

    async def get_resolution(self, market_id: str) -> Resolution | None:
        self.asked.append(market_id)
        if self.outages:
            self.outages -= 1
            raise VenueUnavailable(self.venue, "503 service unavailable")
        return await super().get_resolution(market_id)


@dataclass
class World:
    store: Store
    kalshi: Flaky
    poly: Flaky
    alerts: list[Alert]
    settler: Settler

    def resolve(self, n: int, kalshi_yes: D | None, poly_no: D | None) -> None:
        """None: void (Kalshi names no payout; Polymarket pays 50/50)."""
        k, p = f"KXS{n % 7}-M{n:05d}", f"P{n:05d}"
        if kalshi_yes is None:
            self.kalshi.resolutions[k] = Resolution(k, {}, void=True)
        else:
            self.kalshi.resolutions[k] = Resolution(k, {"yes": kalshi_yes, "no": 1 - kalshi_yes})
        no = HALF if poly_no is None else poly_no
        tok = f"tok-{n:05d}"
        self.poly.resolutions[p] = Resolution(p, {"Yes": 1 - no, "No": no, tok: no})


@pytest.fixture
async def world(store: Store) -> AsyncIterator[World]:
    kalshi, poly = Flaky(Venue.KALSHI), Flaky(Venue.POLYMARKET)
    alerts: list[Alert] = []

    async def collect(alert: Alert) -> None:
        alerts.append(alert)

    venues = {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly}
    clock = lambda: T0 + timedelta(days=1)  # noqa: E731
    yield World(store, kalshi, poly, alerts, Settler(store, venues, collect, clock))


async def _arb(store: Store, n: int, status: ExecutionStatus = ExecutionStatus.SUCCESS) -> None:
    """Buy 10 Kalshi YES at 0.40 (fee 0.07) and 10 Polymarket No at 0.55 (fee 0.05)."""
    from predarb.domain import Action, Contract

    k = Contract(Venue.KALSHI, f"KXS{n % 7}-M{n:05d}", "yes")
    p = Contract(Venue.POLYMARKET, f"P{n:05d}", "No", f"tok-{n:05d}")
    gen = GenExecution(f"ex-{n:05d}", status, T0, D("0.38"))
    if status is not ExecutionStatus.FAILED:
        gen.fills.append(GenFill(k, Action.BUY, D("0.40"), D(10), D("0.07"), T0))
    if status is ExecutionStatus.SUCCESS:
        gen.fills.append(GenFill(p, Action.BUY, D("0.55"), D(10), D("0.05"), T0))
    if status is ExecutionStatus.UNWOUND:
        gen.fills.append(GenFill(k, Action.SELL, D("0.37"), D(10), D("0.06"), T0))
    await write(store, gen)


async def _pnl(store: Store, n: int) -> tuple[D | None, str]:
    ex = await store.execution(f"ex-{n:05d}")
    assert ex is not None
    return ex.realized_pnl, ex.resolution


COST = D("4.00") + D("5.50") + D("0.07") + D("0.05")  # both legs and their fees


async def test_yes_and_no_settle_with_the_actual_pnl(world: World) -> None:
    await _arb(world.store, 1)
    await _arb(world.store, 2)
    world.resolve(1, D(1), D(0))  # YES: the Kalshi leg pays
    world.resolve(2, D(0), D(1))  # NO: the Polymarket leg pays
    result = await world.settler.settle_once()
    assert (result.settled, result.pending, result.errors) == (2, 0, 0)
    assert await _pnl(world.store, 1) == (D(10) - COST, "won: kalshi yes")
    assert await _pnl(world.store, 2) == (D(10) - COST, "won: polymarket No")
    assert [a.kind for a in world.alerts] == [AlertKind.SETTLED, AlertKind.SETTLED]
    assert "P&amp;L $0.38" in world.alerts[0].html
    # A second run settles nothing twice.
    assert (await world.settler.settle_once()).settled == 0
    assert len(world.alerts) == 2


async def test_void_refunds_each_venue_its_own_way(world: World) -> None:
    await _arb(world.store, 3)
    world.resolve(3, None, None)
    result = await world.settler.settle_once()
    assert result.voided == 1
    # Kalshi refunds the cost (4.00), Polymarket pays 0.5 a share (5.00); fees are lost.
    pnl, text = await _pnl(world.store, 3)
    assert pnl == D("4.00") + D("5.00") - COST
    assert text.startswith("voided")
    (alert,) = world.alerts
    assert alert.kind is AlertKind.SETTLED and "<b>VOIDED</b>" in alert.html
    assert "refunded $9.00" in alert.html


async def test_venues_disagreeing_is_recorded_alerted_and_blocks_the_series(
    world: World,
) -> None:
    store = world.store
    now = T0 + timedelta(days=1)
    same_series = {"pair_id": "pair-ex-00004", "kind": "binary", "tradable": True}
    await store.save_pairs(
        [
            {**same_series, "confidence": 1.0, "series": ["KXS4", "nba"], "event": "a"},
            {
                "pair_id": "other",
                "kind": "binary",
                "tradable": True,
                "confidence": 1.0,
                "series": ["kxs4"],
                "event": "b",
            },
            {
                "pair_id": "unrelated",
                "kind": "binary",
                "tradable": True,
                "confidence": 1.0,
                "series": ["KXS5"],
                "event": "c",
            },
        ],
        T0,
    )
    await _arb(store, 4)
    world.resolve(4, D(1), D(1))  # both legs win: the venues disagreed
    result = await world.settler.settle_once()
    assert result.mismatched == 1
    pnl, text = await _pnl(store, 4)
    assert pnl == D(20) - COST
    assert text.startswith("MISMATCH")
    (alert,) = world.alerts
    assert alert.kind is AlertKind.MISMATCH and alert.urgent
    assert "RESOLUTION MISMATCH" in alert.html and "series KXS4, nba" in alert.html
    (event,) = await store.events("resolution_mismatch")
    assert event["pair_id"] == "pair-ex-00004" and event["series"] == ["KXS4", "nba"]
    assert {leg["payout_per_contract"] for leg in event["legs"]} == {"1"}
    blocks = await store.pair_blocks(now)
    assert set(blocks) == {"pair-ex-00004", "other"}  # the pair and its series
    assert json.loads(await store.get_state("blocked_series")).keys() == {"kxs4", "nba"}


async def test_one_venue_voiding_alone_is_a_mismatch(world: World) -> None:
    await _arb(world.store, 5)
    k = "KXS5-M00005"
    world.kalshi.resolutions[k] = Resolution(k, {}, void=True)
    world.poly.resolutions["P00005"] = Resolution("P00005", {"Yes": D(0), "No": D(1)})
    result = await world.settler.settle_once()
    assert result.mismatched == 1
    pnl, _ = await _pnl(world.store, 5)
    assert pnl == D("4.00") + D(10) - COST
    # With no stored pair, the series comes from the Kalshi ticker.
    assert set(await world.store.blocked_series(T0)) == {"kxs5"}


async def test_an_outage_defers_and_nothing_settles_twice(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await _arb(world.store, 6)
    await _arb(world.store, 7)
    world.resolve(6, D(1), D(0))
    world.resolve(7, D(1), D(0))
    world.kalshi.outages = 1  # the first lookup fails: one execution deferred
    with caplog.at_level(logging.WARNING, logger="predarb.settlement"):
        first = await world.settler.settle_once()
    assert (first.settled, first.errors) == (1, 1)
    assert "deferred" in caplog.text and "503" in caplog.text
    second = await world.settler.settle_once()
    assert second.settled == 1
    third = await world.settler.settle_once()
    assert third.settled == 0
    rows = await world.store.query("SELECT COUNT(*) FROM settlements")
    assert rows[0][0] == 4  # two legs each, once
    assert len([a for a in world.alerts if a.kind is AlertKind.SETTLED]) == 2


async def test_a_failing_position_is_logged_and_the_others_settle(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await _arb(world.store, 8)
    await _arb(world.store, 9)
    world.resolve(9, D(0), D(1))
    # A resolution that names neither of the held sides cannot be priced.
    world.kalshi.resolutions["KXS1-M00008"] = Resolution("KXS1-M00008", {"maybe": D(1)})
    world.poly.resolutions["P00008"] = Resolution("P00008", {"No": D(1)})
    with caplog.at_level(logging.ERROR, logger="predarb.settlement"):
        result = await world.settler.settle_once()
    assert (result.settled, result.errors) == (1, 1)
    assert "settlement of ex-00008 failed" in caplog.text
    assert (await _pnl(world.store, 8))[0] is None
    assert (await _pnl(world.store, 9))[0] == D(10) - COST


async def test_pending_failed_and_unwound(world: World) -> None:
    await _arb(world.store, 10)  # its markets never resolve here
    await _arb(world.store, 11, ExecutionStatus.FAILED)
    await _arb(world.store, 12, ExecutionStatus.UNWOUND)
    result = await world.settler.settle_once()
    assert (result.settled, result.pending) == (2, 1)
    assert await _pnl(world.store, 11) == (D(0), "nothing filled")
    flat = D("3.70") - D("4.00") - D("0.07") - D("0.06")
    assert await _pnl(world.store, 12) == (flat, "closed flat")
    assert len(world.alerts) == 1 and "closed flat" in world.alerts[0].html  # not the failed one
    report = await reports.pnl(world.store, T0 + timedelta(days=1))
    # The failed execution is not a trade: not counted, not in the win rate.
    assert (report.all_time.settled, report.all_time.wins, report.all_time.losses) == (1, 0, 1)
    assert report.all_time.realized == flat
