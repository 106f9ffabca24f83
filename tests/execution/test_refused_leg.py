"""A Polymarket leg the venue would refuse for its amounts' precision is refused by the
adapter before anything leaves, and then no leg is sent: the Kalshi leg never reaches
Kalshi. Against both fakes over loopback, with the real adapters, placer and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from predarb.domain import Contract, ExecutionStatus, Leg, OrderStatus, Venue
from predarb.execution.placer import NOT_SENT, Placer
from predarb.store import Store
from tests.execution.world import Fakes, make_venues, opportunity, running_fakes


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
