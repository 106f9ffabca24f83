from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from predarb.venues.polymarket_us import PolymarketUSVenue
from predarb.venues.polymarket_us.orders import FeeMismatch
from tests.fakes.polymarket_us_server import FakePolymarketUS

SLUG = "nba-lal-bos-2026-12-25"


@pytest.fixture
async def fake() -> AsyncIterator[FakePolymarketUS]:
    async with FakePolymarketUS() as server:
        yield server


@pytest.fixture
def mismatches() -> list[FeeMismatch]:
    return []


@pytest.fixture
async def restart(
    fake: FakePolymarketUS, mismatches: list[FeeMismatch]
) -> AsyncIterator[Callable[[], PolymarketUSVenue]]:
    """Makes signed venues on one market: long (Lakers) bids 0.40×10, 0.38×30; offers
    0.45×5, 0.50×20 (so NO asks 0.60×10, 0.62×30); $100 cash; fee coefficient 0.003.
    Each call is a new client with nothing in memory, as after a restart."""
    key_id, secret = fake.new_key()
    fake.add_market(SLUG, "Lakers vs Celtics", long_label="Lakers", short_label="Celtics")
    fake.set_book(SLUG, bids=[("0.40", 10), ("0.38", 30)], offers=[("0.45", 5), ("0.50", 20)])
    fake.exchange.balance = Decimal("100")
    made: list[PolymarketUSVenue] = []

    def make() -> PolymarketUSVenue:
        client = PolymarketUSVenue(
            fake.url,
            fake.url,
            key_id,
            secret,
            timeout_s=2,
            max_backoff_s=0.05,
            on_fee_mismatch=mismatches.append,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def venue(restart: Callable[[], PolymarketUSVenue]) -> PolymarketUSVenue:
    return restart()
