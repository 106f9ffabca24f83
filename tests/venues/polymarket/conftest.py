"""Shared fixtures: a running fake Polymarket with one seeded market and a venue client
for a fixed test wallet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from eth_account import Account

from predarb.venues.polymarket import PolymarketVenue
from tests.fakes.polymarket_server import FakeMarket, FakePolymarket

# Well-known throwaway keys (never funded anywhere real).
KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
OTHER_KEY = "0x" + "22" * 32
ADDRESS = Account.from_key(KEY).address


@dataclass
class Env:
    fake: FakePolymarket
    venue: PolymarketVenue
    market: FakeMarket
    creds: tuple[str, str, str]

    @property
    def yes(self) -> str:
        return self.market.tokens["Yes"]

    @property
    def no(self) -> str:
        return self.market.tokens["No"]


@pytest.fixture
async def fake() -> AsyncIterator[FakePolymarket]:
    async with FakePolymarket() as server:
        yield server


@pytest.fixture
async def env(fake: FakePolymarket) -> AsyncIterator[Env]:
    market = fake.add_market("501", question="Will it rain?", tick="0.01", fee_rate="0.04")
    fake.set_book(
        market.tokens["Yes"],
        bids=[("0.40", "50"), ("0.39", "100")],
        asks=[("0.45", "10"), ("0.46", "20"), ("0.50", "100")],
    )
    fake.set_book(market.tokens["No"], bids=[("0.54", "30")], asks=[("0.56", "40")])
    creds = fake.register_wallet(ADDRESS, balance="100")
    venue = PolymarketVenue(
        fake.clob_url, fake.gamma_url, private_key=KEY, api_creds=creds, max_backoff_s=0.01
    )
    yield Env(fake, venue, market, creds)
    await venue.close()
