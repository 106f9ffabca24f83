"""Each outcome of a two-leg execution, against the Kalshi and Polymarket fakes over
loopback HTTP, with the real adapters, the real placer and a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.domain import ExecutionStatus, OrderStatus, TimeInForce, Venue
from predarb.execution import placer as placer_module
from predarb.execution.hedging import HedgePolicy
from predarb.execution.partial import leg_holdings, resolve_partial
from predarb.execution.placer import Placer
from predarb.store import Store
from predarb.store.records import ExecutionRecord
from predarb.venues.base import VenueClient
from tests.execution.world import (
    POLY_ADDRESS,
    Fakes,
    fee_of,
    make_venues,
    opportunity,
    running_fakes,
)

POLICY = HedgePolicy(max_loss_per_contract=Decimal("0.01"), unwind_steps=3)


@pytest.fixture(autouse=True)
def fast_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placer_module, "LOOKUP_DELAY_S", 0.0)


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[Fakes]:
    async with running_fakes(tmp_path) as f:
        yield f


@pytest.fixture
async def venues(fakes: Fakes) -> AsyncIterator[dict[Venue, VenueClient]]:
    v = make_venues(fakes.cfg)
    yield v
    for client in v.values():
        await client.close()


async def _trade(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes, tif: TimeInForce = TimeInForce.FOK
) -> ExecutionRecord:
    placer = Placer(store, venues, mode="live", clock=_clock, tif=tif)
    placement = await placer.execute(opportunity(fakes.cfg))
    if placement.status is ExecutionStatus.PARTIAL:
        outcome = await resolve_partial(
            placer, placement.execution_id, POLICY, fee_of, first_fill_ns=placement.first_fill_ns
        )
        assert outcome.status is not ExecutionStatus.PARTIAL
    record = await store.execution(placement.execution_id)
    assert record is not None
    return record


def _clock() -> datetime:
    return datetime.now(UTC)


def _by_role(record: ExecutionRecord, role: str) -> list[str]:
    return [
        f"{o.venue.value}:{o.action}:{o.filled}@{o.avg_price}"
        for o in record.orders
        if o.role == role
    ]


async def _fills(store: Store, execution_id: str) -> Decimal:
    rows = await store.query(
        "SELECT contracts, action FROM fills WHERE execution_id = ?", (execution_id,)
    )
    return sum((Decimal(r[0]) * (1 if r[1] == "buy" else -1) for r in rows), Decimal(0))


async def test_both_legs_fill(store: Store, venues: dict[Venue, VenueClient], fakes: Fakes) -> None:
    record = await _trade(store, venues, fakes)
    assert record.status is ExecutionStatus.SUCCESS
    assert all(o.status is OrderStatus.FILLED for o in record.orders)
    assert await _fills(store, record.id) == Decimal(10)  # every fill of both legs stored
    assert len(fakes.kalshi_orders()) == 1 and len(fakes.poly_orders()) == 1


async def test_b_killed_then_hedged(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    fakes.books(p_asks=[("0.56", "20")])  # the NO ask moved one cent: the FOK dies
    record = await _trade(store, venues, fakes)
    assert record.status is ExecutionStatus.HEDGED
    hedge = [o for o in record.orders if o.role == "hedge"]
    assert len(hedge) == 1 and hedge[0].venue is Venue.POLYMARKET
    assert hedge[0].filled == Decimal(5) and hedge[0].price == Decimal("0.56")
    assert record.unhedged_ms is not None and record.unhedged_ms >= 0
    assert fakes.poly_posts() == 2  # the killed leg and the hedge; nothing resent


async def test_b_unhedgeable_so_a_unwound(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    # Completing at 0.70 would lose far more than a cent a contract: sell YES back.
    fakes.books(p_asks=[("0.70", "20")], k_bids=[("0.38", "3"), ("0.37", "10")])
    record = await _trade(store, venues, fakes)
    assert record.status is ExecutionStatus.UNWOUND, record.note
    unwind = [o for o in record.orders if o.role == "unwind"]
    assert [o.venue for o in unwind] == [Venue.KALSHI]
    assert unwind[0].action == "sell" and unwind[0].filled == Decimal(5)
    assert unwind[0].price == Decimal("0.37")  # the bid that sells all five
    assert not [o for o in record.orders if o.role == "hedge"]
    assert await _fills(store, record.id) == Decimal(0)  # flat again
    assert record.unhedged_ms is not None


async def test_nothing_to_sell_into_is_exposed(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    fakes.books(p_asks=[("0.90", "20")], k_bids=[])
    record = await _trade(store, venues, fakes)
    assert record.status is ExecutionStatus.EXPOSED
    assert "no bid" in record.note and "budget" in record.note
    assert record.unhedged_ms is None


async def test_a_fills_partly_handled_on_the_filled_quantity(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    # IOC legs: YES has 3 at 0.40; NO has nothing at 0.55 but plenty at 0.56.
    fakes.books(k_asks=[("0.40", "3"), ("0.45", "20")], p_asks=[("0.56", "20")])
    record = await _trade(store, venues, fakes, TimeInForce.IOC)
    assert record.status is ExecutionStatus.HEDGED, record.note
    legs = {o.venue: o for o in record.orders if o.role == "leg"}
    assert legs[Venue.KALSHI].filled == Decimal(3)
    assert legs[Venue.POLYMARKET].filled == Decimal(0)
    hedge = [o for o in record.orders if o.role == "hedge"]
    assert [(o.venue, o.contracts) for o in hedge] == [(Venue.POLYMARKET, Decimal(3))]


async def test_reply_lost_but_order_exists(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    fakes.kalshi.drop_next_order_reply()
    record = await _trade(store, venues, fakes)
    assert record.status is ExecutionStatus.SUCCESS
    assert len(fakes.kalshi_orders()) == 1  # looked up by client order id, not resent
    kalshi = next(o for o in record.orders if o.venue is Venue.KALSHI)
    assert kalshi.status is OrderStatus.FILLED and kalshi.venue_order_id
    assert await _fills(store, record.id) == Decimal(10)


async def test_poly_reply_lost_but_order_exists(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    fakes.poly.drop_next("POST", "/order")
    record = await _trade(store, venues, fakes)
    assert record.status is ExecutionStatus.SUCCESS
    poly = next(o for o in record.orders if o.venue is Venue.POLYMARKET)
    assert fakes.poly_orders() == [poly.venue_order_id]  # the hash, from the lost reply
    assert await _fills(store, record.id) == Decimal(10)


async def test_reply_lost_and_order_never_arrived(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    # A 503 before the order reached the book: the reply is unclear, the order absent.
    fakes.kalshi.fail_next(503, method="POST", path="/portfolio/events/orders")
    record = await _trade(store, venues, fakes)
    lost = next(o for o in record.orders if o.role == "leg" and o.venue is Venue.KALSHI)
    # Not found yet is not "never arrived": no hedge buys that leg while its fate is
    # unknown (tests/execution/test_late_order.py follows it to the end).
    assert lost.status is OrderStatus.UNKNOWN and lost.error_code == "not_found_yet"
    assert record.status is ExecutionStatus.EXPOSED, record.note
    assert fakes.kalshi_orders() == []


async def test_surplus_shares_are_recorded_on_a_success(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    # The NO FOK BUY of 5 at 0.55 spends 2.75: 2 @ 0.50 and 3.181818 @ 0.55.
    fakes.books(p_asks=[("0.50", "2"), ("0.55", "20")])
    record = await _trade(store, venues, fakes)
    assert record.status is ExecutionStatus.SUCCESS
    poly = next(o for o in record.orders if o.venue is Venue.POLYMARKET)
    assert (poly.contracts, poly.filled) == (Decimal(5), Decimal("5.181818"))
    key = fakes.cfg.p_no.key
    assert record.note == f"surplus shares from better prices: 0.181818 of {key}"
    assert await _fills(store, record.id) == Decimal("10.181818")  # every share stored
    assert fakes.poly.wallet(POLY_ADDRESS).positions[fakes.cfg.poly_no_token] == Decimal("5.181818")


async def test_a_hedge_after_a_surplus_fill_buys_only_the_missing_cover(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    """IOC legs: YES fills 3 of 5; NO fills 5 plus 0.181818 surplus shares. The hedge
    buys the 2 YES the cover misses (not 2.181818), nothing is sold back, and the
    surplus stays held and noted."""
    fakes.books(k_asks=[("0.40", "3"), ("0.45", "20")], p_asks=[("0.50", "2"), ("0.55", "20")])
    record = await _trade(store, venues, fakes, TimeInForce.IOC)
    assert record.status is ExecutionStatus.HEDGED, record.note
    legs = {o.venue: o for o in record.orders if o.role == "leg"}
    assert (legs[Venue.KALSHI].filled, legs[Venue.POLYMARKET].filled) == (
        Decimal(3),
        Decimal("5.181818"),
    )
    hedge = [o for o in record.orders if o.role == "hedge"]
    assert [(o.venue, o.contracts, o.filled) for o in hedge] == [
        (Venue.KALSHI, Decimal(2), Decimal(2))
    ]
    assert not [o for o in record.orders if o.role == "unwind"]
    assert [leg.held for leg in leg_holdings(record)] == [Decimal(5), Decimal(5)]
    assert "0.181818 of " + fakes.cfg.p_no.key in record.note
    assert "(kept, not covered)" in record.note
    assert fakes.poly.wallet(POLY_ADDRESS).positions[fakes.cfg.poly_no_token] == Decimal("5.181818")
