"""``/unwind``'s sell-back of an open position, against the Kalshi and Polymarket fakes
over loopback with the real adapters, placer and SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from predarb.domain import ExecutionStatus, Venue
from predarb.execution import placer as placer_module
from predarb.execution.hedging import HedgePolicy
from predarb.execution.manual_unwind import refusal, unwind_execution
from predarb.execution.placer import Placer
from predarb.store import Store
from predarb.venues.base import VenueClient
from tests.execution.world import Fakes, make_venues, opportunity, running_fakes


@pytest.fixture(autouse=True)
def fast_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placer_module, "LOOKUP_DELAY_S", 0.0)


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[Fakes]:
    async with running_fakes(tmp_path) as f:
        yield f


@pytest.fixture
async def placer(store: Store, fakes: Fakes) -> AsyncIterator[Placer]:
    venues: dict[Venue, VenueClient] = make_venues(fakes.cfg)
    yield Placer(store, venues, mode="live", clock=lambda: datetime.now(UTC))
    for client in venues.values():
        await client.close()


async def test_a_leg_without_bids_is_left_held_and_the_execution_exposed(
    store: Store, fakes: Fakes, placer: Placer
) -> None:
    placement = await placer.execute(opportunity(fakes.cfg))
    assert placement.status is ExecutionStatus.SUCCESS
    fakes.books(p_bids=())  # nobody buys the Polymarket leg back
    result = await unwind_execution(placer, placement.execution_id, HedgePolicy(unwind_steps=2))
    assert not result.done
    assert result.text.startswith("Not all sold back (no bid to sell the filled leg into)")
    assert "polymarket" in result.text and "5" in result.text
    record = await store.execution(placement.execution_id)
    assert record is not None and record.status is ExecutionStatus.EXPOSED
    sold = [o for o in record.orders if o.role == "unwind"]
    assert {o.venue for o in sold} == {Venue.KALSHI} and sold[0].filled == 5


async def test_nothing_is_sent_for_what_cannot_be_unwound(
    store: Store, fakes: Fakes, placer: Placer
) -> None:
    assert refusal(None) == "no such execution"
    placement = await placer.execute(opportunity(fakes.cfg))
    posts = fakes.poly_posts()
    fakes.books()
    await unwind_execution(placer, placement.execution_id, HedgePolicy())
    again = await unwind_execution(placer, placement.execution_id, HedgePolicy())
    assert again.text == "Not unwound: it holds nothing."
    assert fakes.poly_posts() == posts + 1  # one sell, none for the second request
