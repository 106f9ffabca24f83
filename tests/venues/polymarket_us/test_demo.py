"""Polymarket US in the demo's simulated world: listed by slug with a long and a short
side, traded through the real engine against simulated Kalshi, settled into the
balance by itself."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from predarb import reports
from predarb.config import Settings
from predarb.domain import Action, ExecutionStatus, OrderRequest, OrderStatus, Venue
from predarb.engine import Engine
from predarb.matching.matcher import Matcher
from predarb.modes import build_demo_venues, demo_settings
from predarb.notify import messages
from predarb.notify.base import FanOut
from predarb.store import Store
from predarb.venues.paper import PaperVenue
from predarb.venues.polymarket_us.intents import LONG, SHORT
from predarb.venues.sim import SimVenue, SimWorld
from predarb.venues.sim.polymarket_us import SimPolymarketUS

D = Decimal


async def test_markets_trade_and_settle_by_themselves() -> None:
    world = SimWorld(3, resolve_after_s=10_000)
    us = SimPolymarketUS(world, balance=D(100))
    markets = await us.list_markets()
    assert markets and all(m.venue is Venue.POLYMARKET_US for m in markets)
    market = next(m for m in markets if m.market_id.startswith("nba-"))
    assert [c.token_id for c in market.contracts] == [LONG, SHORT]
    short = market.contracts[1]
    book = await us.get_order_book(short)
    assert book is not None and book.asks
    ask = book.asks[0]
    result = await us.place_order(OrderRequest("d-1", short, Action.BUY, ask.price, D(2)))
    assert result.status is OrderStatus.FILLED
    assert result.fee == (D("0.003") * 2 * ask.price).quantize(D("0.01"))
    paid_before = await us.get_balance()
    key = next(ev.key for ev in world.events if ev.key == market.market_id)
    world.resolve_now(key)
    resolution = await us.get_resolution(market.market_id)
    assert resolution is not None
    assert await us.get_balance() == paid_before + 2 * resolution.payout(short)
    assert await us.get_positions() == []


async def test_the_demo_trades_kalshi_against_polymarket_us(store: Store, tmp_path: Path) -> None:
    world = SimWorld(7, n_games=14, resolve_after_s=10_000, step_s=0.2, respawn=True)
    venues = {
        Venue.KALSHI: PaperVenue(
            SimVenue(world, Venue.KALSHI), balance=D(5000), latency_s=0, clock=world.now
        ),
        Venue.POLYMARKET_US: PaperVenue(
            SimPolymarketUS(world), balance=D(5000), latency_s=0, clock=world.now
        ),
    }
    settings, _ = demo_settings(Settings(predarb_db_path=tmp_path / "unused.sqlite3"))
    settings = settings.model_copy(update={"executor_cooldown_s": 0.0})
    engine = Engine(
        settings, store, venues, FanOut([]), mode="demo", matcher=Matcher().match, clock=world.now
    )
    await engine.start()
    done = 0
    try:
        for _ in range(300):
            world.step()
            for opp in await engine.scan():
                if {leg.contract.venue for leg in opp.legs} != {Venue.KALSHI, Venue.POLYMARKET_US}:
                    continue
                if (await engine.check(opp)).approved:
                    placement = await engine.execute(opp)
                    done += placement.status is ExecutionStatus.SUCCESS
            if done >= 2:
                break
        # The dashboard and Telegram show it as a venue, with its balance.
        status = await reports.status(store, world.now())
        assert Venue.POLYMARKET_US in status.balances
        assert "polymarket_us $" in messages.status_text(status, world.now())
    finally:
        await engine.shutdown()
    assert done >= 2


def test_the_demo_builds_the_polymarkets_chosen() -> None:
    assert set(build_demo_venues(1, polymarkets=(Venue.POLYMARKET_US,))) == {
        Venue.KALSHI,
        Venue.POLYMARKET_US,
    }
    both = build_demo_venues(1, polymarkets=(Venue.POLYMARKET, Venue.POLYMARKET_US))
    assert set(both) == set(Venue)
