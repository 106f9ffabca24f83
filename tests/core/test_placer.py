"""The placer: legs sent together, write-ahead, three outcomes, lost replies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from predarb.domain import ExecutionStatus, OrderStatus, Venue
from predarb.execution import placer as placer_module
from predarb.execution.placer import Placer
from predarb.store import Store
from tests.core.builders import opportunity
from tests.fakes.scripted_venue import (
    FILL,
    KILL,
    LOST_BUT_FILLED,
    LOST_NEVER_ARRIVED,
    ScriptedVenue,
)


def _clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(autouse=True)
def fast_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placer_module, "LOOKUP_DELAY_S", 0.0)


def _venues(k: list[str], p: list[str], delay: float = 0.0) -> dict[Venue, ScriptedVenue]:
    return {
        Venue.KALSHI: ScriptedVenue(Venue.KALSHI, list(k), delay_s=delay),
        Venue.POLYMARKET: ScriptedVenue(Venue.POLYMARKET, list(p), delay_s=delay),
    }


async def _run(store: Store, venues: dict[Venue, ScriptedVenue]) -> tuple[str, ExecutionStatus]:
    placer = Placer(store, venues, mode="demo", clock=_clock)
    placement = await placer.execute(opportunity())
    return placement.execution_id, placement.status


async def test_both_legs_fill_success(store: Store) -> None:
    venues = _venues([FILL], [FILL])
    ex_id, status = await _run(store, venues)
    assert status is ExecutionStatus.SUCCESS
    record = await store.execution(ex_id)
    assert record is not None and record.status is ExecutionStatus.SUCCESS
    assert [o.status for o in record.orders] == [OrderStatus.FILLED, OrderStatus.FILLED]
    assert all(o.filled == Decimal(5) for o in record.orders)
    assert len(await store.holdings(ex_id)) == 2
    # Each venue got exactly the leg for it, as a buy at the calculator's price.
    assert [o.price for o in venues[Venue.KALSHI].placed] == [Decimal("0.40")]
    assert [o.price for o in venues[Venue.POLYMARKET].placed] == [Decimal("0.55")]


async def test_one_leg_killed_is_partial(store: Store) -> None:
    ex_id, status = await _run(store, _venues([FILL], [KILL]))
    assert status is ExecutionStatus.PARTIAL
    record = await store.execution(ex_id)
    assert record is not None
    by_venue = {o.venue: o for o in record.orders}
    assert by_venue[Venue.KALSHI].status is OrderStatus.FILLED
    assert by_venue[Venue.POLYMARKET].status is OrderStatus.CANCELED
    assert by_venue[Venue.POLYMARKET].error_code == "fill_or_kill_insufficient_resting_volume"


async def test_both_killed_is_failed(store: Store) -> None:
    ex_id, status = await _run(store, _venues([KILL], [KILL]))
    assert status is ExecutionStatus.FAILED
    assert await store.holdings(ex_id) == []


async def test_lost_reply_is_looked_up_not_resent(store: Store) -> None:
    venues = _venues([LOST_BUT_FILLED], [FILL])
    ex_id, status = await _run(store, venues)
    assert status is ExecutionStatus.SUCCESS
    kalshi = venues[Venue.KALSHI]
    assert len(kalshi.placed) == 1  # never sent twice
    assert kalshi.lookups == [kalshi.placed[0].client_order_id]
    record = await store.execution(ex_id)
    assert record is not None and all(o.status is OrderStatus.FILLED for o in record.orders)


async def test_lost_order_not_found_yet_stays_unknown_not_resent(store: Store) -> None:
    venues = _venues([LOST_NEVER_ARRIVED], [FILL])
    ex_id, status = await _run(store, venues)
    assert status is ExecutionStatus.PARTIAL
    kalshi = venues[Venue.KALSHI]
    assert len(kalshi.placed) == 1
    assert len(kalshi.lookups) == placer_module.LOOKUP_ATTEMPTS
    record = await store.execution(ex_id)
    assert record is not None
    lost = next(o for o in record.orders if o.venue is Venue.KALSHI)
    # Not found soon after proves nothing (it may arrive late): unknown, never resent.
    assert lost.status is OrderStatus.UNKNOWN and lost.error_code == "not_found_yet"


async def test_orders_are_written_before_they_are_sent(store: Store) -> None:
    seen: list[int] = []

    class Spy(ScriptedVenue):
        async def place_order(self, order):  # type: ignore[no-untyped-def]
            rows = await store.query(
                "SELECT COUNT(*) FROM orders WHERE client_order_id = ?", (order.client_order_id,)
            )
            seen.append(int(rows[0][0]))
            return await super().place_order(order)

    venues = {
        Venue.KALSHI: Spy(Venue.KALSHI, [FILL]),
        Venue.POLYMARKET: Spy(Venue.POLYMARKET, [FILL]),
    }
    await _run(store, venues)  # type: ignore[arg-type]
    assert seen == [1, 1]


async def test_legs_leave_together(store: Store) -> None:
    venues = _venues([FILL], [FILL], delay=0.2)
    placer = Placer(store, venues, mode="demo", clock=_clock)
    placement = await placer.execute(opportunity())
    # Sent concurrently: the second leg did not wait for the first one's 0.2 s reply.
    assert placement.leg_skew_ns < 100_000_000
