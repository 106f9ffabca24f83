"""Kalshi's lifecycle channel reaching what the engine prices: an event fee override
announced over the WebSocket replaces the engine's market, so ``Market.fee_at`` (and
the fee the hedger and the calculator use) follows it from that moment; a settlement
marks the market settled. Real engine, adapter, loopback fakes and SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

from predarb.config import Settings
from predarb.domain import Contract, MarketStatus, Venue
from predarb.engine import Engine
from predarb.notify.console import ConsoleNotifier
from predarb.store import Store
from predarb.venues.kalshi import KalshiVenue
from tests.execution.test_shards import _pair
from tests.execution.world import TICKER, make_venues, running_fakes
from tests.fakes.ws_kalshi import FakeKalshiWs

K_YES = Contract(Venue.KALSHI, TICKER, "yes")


async def test_a_fee_override_and_a_settlement_reach_the_engines_markets(
    store: Store, tmp_path: Path
) -> None:
    async with running_fakes(tmp_path) as fakes, FakeKalshiWs(fakes.kalshi) as ws:
        cfg = fakes.cfg
        venues = make_venues(cfg)
        await venues[Venue.KALSHI].close()
        kalshi = KalshiVenue(
            cfg.kalshi_url,
            cfg.kalshi_key_id,
            Path(cfg.kalshi_key_path),
            max_backoff_s=0.01,
            ws_url=ws.url,
            user_stream=True,
        )
        venues[Venue.KALSHI] = kalshi
        settings = Settings(_env_file=None, executor_max_bet=Decimal(10))
        engine = Engine(
            settings, store, venues, ConsoleNotifier(StringIO()), mode="live", pairs=[_pair(fakes)]
        )
        try:
            await engine._remember_markets()
            await kalshi.connect()
            stream = kalshi.account_stream
            assert stream is not None
            await asyncio.wait_for(stream.subscribed.wait(), 10)
            before = engine._fee_of(K_YES)
            assert before is not None and before.rate == Decimal("0.07")

            await ws.account.event_fee_update(TICKER.rsplit("-", 1)[0], "quadratic", 3)
            await stream.wait_received(1)
            now = datetime.now(UTC)
            fee = engine.markets[K_YES].fee_at(now)
            assert fee is not None and fee.rate == Decimal("0.21")
            assert engine._fee_of(K_YES) == fee

            await ws.account.settle(TICKER, "yes")
            await stream.wait_received(2)
            assert engine.markets[K_YES].status is MarketStatus.SETTLED
        finally:
            await engine.shutdown()
