from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from predarb.venues.kalshi import KalshiVenue
from tests.fakes.kalshi_server import FakeKalshi

TICKER = "KXTEST-26DEC31-A"


@pytest.fixture
async def fake() -> AsyncIterator[FakeKalshi]:
    async with FakeKalshi() as server:
        yield server


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "kalshi.pem"


@pytest.fixture
async def venue(fake: FakeKalshi, key_path: Path) -> AsyncIterator[KalshiVenue]:
    """A signed venue on a seeded market: YES bids 0.40×10, NO bids 0.55×5 and 0.50×20
    (so YES asks 0.45×5 then 0.50×20), $100 cash."""
    key_id = fake.new_key(key_path)
    fake.add_market(TICKER)
    fake.set_book(TICKER, yes=[("0.40", 10), ("0.38", 30)], no=[("0.50", 20), ("0.55", 5)])
    fake.exchange.balance = fake.exchange.balance.__class__("100")
    client = KalshiVenue(fake.base_url, key_id, key_path, timeout_s=2, max_backoff_s=0.05)
    yield client
    await client.close()
