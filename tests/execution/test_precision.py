"""Polymarket's market-order precision at the execution level, against the fakes over
loopback with the real adapters, placer and SQLite: a leg the venue would refuse is
refused by the adapter before anything leaves, and then no leg is sent (the Kalshi leg
never reaches Kalshi); an unwind SELL on a fine tick is priced so the venue takes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from predarb.arbitrage import precision
from predarb.domain import (
    Action,
    Contract,
    ExecutionStatus,
    Leg,
    OrderRequest,
    OrderStatus,
    TimeInForce,
    Venue,
)
from predarb.execution.hedging import LegHolding, Unwind, plan_unwind
from predarb.execution.placer import NOT_SENT, Placer, new_client_order_id
from predarb.store import Store
from tests.execution.world import POLY_ADDRESS, Fakes, make_venues, opportunity, running_fakes


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[Fakes]:
    async with running_fakes(tmp_path) as f:
        yield f


async def test_a_leg_refused_for_precision_sends_no_leg_at_all(store: Store, fakes: Fakes) -> None:
    # A 0.001-tick market at 0.955: 7 × 0.955 = 6.685 pUSD, three decimals, which the
    # CLOB refuses for a FOK; the adapter says so at preparing.
    fine = fakes.poly.add_market("950", tick="0.001", fee_rate="0", min_size="1")
    fakes.poly.set_book(fine.tokens["No"], asks=[("0.955", "100")])
    poly = Contract(Venue.POLYMARKET, "950", "No", fine.tokens["No"])
    base = opportunity(fakes.cfg, "7")
    kalshi_leg = base.legs[0]
    poly_leg = Leg(poly, "no", D("0.955"), D(7), D("6.685"), D(0))
    opp = replace(base, legs=(kalshi_leg, poly_leg))
    venues = make_venues(fakes.cfg)
    try:
        placer = Placer(store, venues, mode="live", clock=lambda: datetime.now(UTC))
        placement = await placer.execute(opp)
    finally:
        for client in venues.values():
            await client.close()
    assert placement.status is ExecutionStatus.FAILED
    assert fakes.kalshi_orders() == []  # the Kalshi leg never reached Kalshi
    assert not [r for r in fakes.kalshi.requests if r[0] == "POST" and "orders" in r[1]]
    assert fakes.poly_posts() == 0 and fakes.poly_orders() == []
    record = await store.execution(placement.execution_id)
    assert record is not None and record.status is ExecutionStatus.FAILED
    by_venue = {o.venue: o for o in record.orders}
    assert (by_venue[Venue.POLYMARKET].status, by_venue[Venue.POLYMARKET].error_code) == (
        OrderStatus.REJECTED,
        "amount_precision",
    )
    assert (by_venue[Venue.KALSHI].status, by_venue[Venue.KALSHI].error_code) == (
        OrderStatus.CANCELED,
        NOT_SENT,
    )
    assert all(o.filled == 0 for o in record.orders)
    assert record.note.startswith("nothing sent: amount_precision:")
    assert "6.685" in record.note  # the reason, with the amount the venue would refuse


async def test_an_unwind_sell_on_a_fine_tick_is_priced_so_the_venue_takes_it(
    fakes: Fakes,
) -> None:
    """Selling back 5.17 shares into a 0.963 bid on a 0.001 tick: 5.17 × 0.963 = 4.97871
    pUSD has five decimals, which a FAK SELL may not have. The ladder's rung is lowered
    to 0.960 (4.9632), the adapter signs it, and the fake fills it at the bid."""
    fine = fakes.poly.add_market("951", tick="0.001", fee_rate="0", min_size="1")
    token = fine.tokens["Yes"]
    fakes.poly.set_book(token, bids=[("0.963", "10")])
    fakes.poly.wallet(POLY_ADDRESS).positions[token] = D("5.17")
    poly = Contract(Venue.POLYMARKET, "951", "Yes", token)
    k_yes = fakes.cfg.k_yes
    venues = make_venues(fakes.cfg)
    try:
        books = await venues[Venue.POLYMARKET].get_order_books([poly])
        legs = [LegHolding(0, k_yes, "no", D(0)), LegHolding(1, poly, "yes", D("5.17"))]
        plan = plan_unwind(legs, books, 0)
        assert isinstance(plan, Unwind)
        (o,) = plan.orders
        assert (o.action, o.price, o.contracts) == (Action.SELL, D("0.960"), D("5.17"))
        assert precision.refusal(Action.SELL, D("5.17"), D("0.963"), D("0.001")) is not None
        assert precision.refusal(o.action, o.contracts, o.price, D("0.001")) is None
        order = OrderRequest(
            new_client_order_id(), o.contract, o.action, o.price, o.contracts, TimeInForce.IOC
        )
        await venues[Venue.POLYMARKET].prepare(order)  # raises if the venue would refuse it
        result = await venues[Venue.POLYMARKET].place_order(order)
    finally:
        for client in venues.values():
            await client.close()
    assert (result.status, result.filled, result.avg_price) == (
        OrderStatus.FILLED,
        D("5.17"),
        D("0.963"),
    )
    assert fakes.poly.wallet(POLY_ADDRESS).positions[token] == 0
