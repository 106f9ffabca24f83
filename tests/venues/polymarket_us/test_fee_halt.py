"""A commission other than the fee coefficient's stops trading on Polymarket US alone
(the issue: "stops trading on that venue until it is understood"), announced, and
lifted by /start; found on an order's answer and on a lookup by id alike."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from predarb.app import halt_on_fee_mismatch, post_trade
from predarb.config import Settings
from predarb.domain import Action, OrderRequest, Venue
from predarb.engine import Engine
from predarb.notify import messages
from predarb.notify.base import AlertKind
from predarb.store import Store
from predarb.venues.base import VenueClient
from predarb.venues.polymarket_us import PolymarketUSVenue
from tests.fakes.polymarket_us_server import FakePolymarketUS
from tests.fakes.scripted_venue import ScriptedVenue
from tests.settlement.test_engine_jobs import Collect
from tests.venues.polymarket_us.conftest import SLUG

D = Decimal


def _engine(store: Store, us: PolymarketUSVenue) -> tuple[Engine, Collect]:
    venues: dict[Venue, VenueClient] = {
        Venue.KALSHI: ScriptedVenue(Venue.KALSHI),
        Venue.POLYMARKET: ScriptedVenue(Venue.POLYMARKET),
        Venue.POLYMARKET_US: us,
    }
    notifier = Collect()
    engine = Engine(Settings(_env_file=None), store, venues, notifier, mode="live")
    post_trade(engine)
    halt_on_fee_mismatch(venues, engine.control)
    return engine, notifier


def _up(engine: Engine) -> dict[Venue, bool]:
    return dict(engine.state.build(engine.clock()).venues_up)


async def test_a_fee_mismatch_halts_polymarket_us_alone_until_start(
    venue: PolymarketUSVenue, fake: FakePolymarketUS, store: Store
) -> None:
    engine, notifier = _engine(store, venue)
    try:
        await engine.control.load(True)
        market = await venue.market(SLUG)
        fake.exchange.fee_skew = D("0.05")
        order = OrderRequest("c-1", market.contracts[0], Action.BUY, D("0.45"), D(5))
        await venue.place_order(order)
        await engine.bus.drain()

        assert engine.state.halt_reason() == "" and engine.control.enabled  # not all trading
        assert _up(engine) == {
            Venue.KALSHI: True,
            Venue.POLYMARKET: True,
            Venue.POLYMARKET_US: False,  # risk refuses what needs it: "venue down"
        }
        [alert] = [a for a in notifier.alerts if "HALTED" in a.plain]
        assert alert.kind is AlertKind.KILL_SWITCH  # never muted
        assert "POLYMARKET_US HALTED" in alert.plain and "fee mismatch" in alert.plain
        assert SLUG in alert.plain and "/start" in alert.plain

        # A restart keeps the venue halted.
        again, _ = _engine(store, venue)
        try:
            await again.control.load(True)
            assert not _up(again)[Venue.POLYMARKET_US] and _up(again)[Venue.KALSHI]
        finally:
            await again.shutdown()

        # Trading is on: /start lifts the venue's halt (what Telegram and the dashboard do).
        resumed = await engine.control.resume_venues()
        await engine.bus.drain()
        assert resumed == [Venue.POLYMARKET_US] and all(_up(engine).values())
        assert "resumed" in notifier.alerts[-1].plain
        assert "polymarket_us resumed" in messages.start_reply(None, True, resumed)
        assert await store.events("venue_resumed")
        third, _ = _engine(store, venue)
        try:
            await third.control.load(True)
            assert all(_up(third).values())  # lifted for good
        finally:
            await third.shutdown()
    finally:
        await engine.shutdown()


async def test_start_turning_trading_on_lifts_a_venue_halt_too(
    venue: PolymarketUSVenue, store: Store
) -> None:
    engine, _ = _engine(store, venue)
    try:
        await engine.control.load(False)
        engine.control.halt_venue(Venue.POLYMARKET_US, "fee mismatch")
        assert await engine.control.start() is None
        assert engine.state.venue_halts == {} and all(_up(engine).values())
    finally:
        await engine.shutdown()


async def test_a_mismatch_found_on_a_lookup_by_id_halts_the_venue_too(
    restart: Callable[[], PolymarketUSVenue], fake: FakePolymarketUS, store: Store
) -> None:
    first = restart()
    market = await first.market(SLUG)
    done = await first.place_order(
        OrderRequest("c-2", market.contracts[0], Action.BUY, D("0.45"), D(5))
    )
    fake.exchange.fee_skew = D("0.05")  # the commission the exchange shows now differs
    fake.exchange.orders[done.venue_order_id].commission += D("0.05")
    after = restart()  # a restart: the order is read by its id
    engine, _ = _engine(store, after)
    try:
        found = await after.get_order("c-2", done.venue_order_id)
        assert found is not None and found.fee == D("0.06")
        assert not _up(engine)[Venue.POLYMARKET_US]
        assert "fee mismatch" in engine.state.venue_halts[Venue.POLYMARKET_US]
    finally:
        await engine.shutdown()
