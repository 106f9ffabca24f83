"""Paper like live: orders meet the book as it is after the simulated latency (the
streamed book when the venue's stream is live), the venues' precision rules, payouts from
real results, and a ledger that survives a restart."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.arbitrage.fees import polymarket_schedule
from predarb.config import Settings
from predarb.domain import (
    Action,
    Contract,
    Level,
    Market,
    OrderBook,
    OrderRequest,
    OrderStatus,
    Pair,
    PairKind,
    TimeInForce,
    Venue,
    World,
)
from predarb.marketdata import BookCache, MarketFeeds
from predarb.modes import Mode, build_market_venues
from predarb.venues.kalshi import KalshiVenue
from predarb.venues.kalshi.ws import KalshiBookStream
from predarb.venues.paper import PaperVenue, check_order
from predarb.venues.paper_journal import PaperJournal, journal_path
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.ws_kalshi import FakeKalshiWs
from tests.marketdata.test_streams import WatchedCache, best_ask
from tests.venues.test_paper import (
    BOOK,
    MARKET,
    NO,
    T0,
    YES,
    FakeTime,
    StaticSource,
    buy,
    levels,
    sell,
)
from tests.venues.test_paper import (
    fresh as fresh_source,
)

STREAM_TICKER = "KXTEST-26-A"
S_YES = Contract(Venue.KALSHI, STREAM_TICKER, "yes")
S_NO = Contract(Venue.KALSHI, STREAM_TICKER, "no")


def moving(source: StaticSource, time: FakeTime, asks: tuple[Level, ...]) -> object:
    async def sleep(seconds: float) -> None:
        await time.sleep(seconds)
        source.asks = asks  # the book moved while the order was in flight

    return sleep


async def test_fills_differ_from_the_prices_seen_when_the_book_moved_in_flight() -> None:
    source, time = fresh_source(), FakeTime()
    seen = (await source.get_order_books([YES]))[YES]
    assert seen.asks[0] == Level(Decimal("0.40"), Decimal(10))
    venue = PaperVenue(
        source,
        balance=Decimal(100),
        latency_s=0.15,
        clock=time.clock,
        sleep=moving(source, time, levels(("0.41", 3), ("0.42", 20))),  # type: ignore[arg-type]
    )
    # The calculator saw 10 at 0.40 and set the limit at 0.42 (its worst level walked).
    result = await venue.place_order(buy("10", "0.42", TimeInForce.IOC))
    assert result.status is OrderStatus.FILLED
    assert [(f.price, f.contracts) for f in result.fills] == [
        (Decimal("0.41"), Decimal(3)),
        (Decimal("0.42"), Decimal(7)),
    ]
    assert result.avg_price == Decimal("4.17") / 10 != seen.asks[0].price
    assert time.sleeps == [0.15]


async def test_while_the_stream_is_live_the_fill_meets_the_streamed_book() -> None:
    source, time = fresh_source(), FakeTime()
    cache = BookCache()
    pair = Pair("p", PairKind.BINARY, "e", (World("y", (YES,)), World("n", (NO,))), 1.0, True)
    cache.set_pairs([pair])
    cache.apply([(await source.get_order_books([YES]))[YES]], 0)
    cache.set_live(Venue.KALSHI, True)

    async def stream_moves(seconds: float) -> None:
        await time.sleep(seconds)
        # The stream says the 0.40 offer is gone; a REST read would still show it.
        cache.apply([OrderBook(YES, BOOK.bids, levels(("0.43", 50)), time.now)], 1)

    venue = PaperVenue(
        source, balance=Decimal(100), latency_s=0.1, clock=time.clock, sleep=stream_moves
    )
    venue.use_books(cache)
    reads = source.book_reads
    killed = await venue.place_order(buy("5", "0.42"))
    assert killed.status is OrderStatus.CANCELED  # FOK: nothing left at or under 0.42
    filled = await venue.place_order(buy("5", "0.43", coid="again"))
    assert filled.status is OrderStatus.FILLED and filled.avg_price == Decimal("0.43")
    assert source.book_reads == reads  # no REST read while the stream is live
    cache.set_live(Venue.KALSHI, False)
    await venue.place_order(buy("1", "0.45", coid="polled"))
    assert source.book_reads == reads + 1  # stream down: the book is read over REST


POLY_YES = Contract(Venue.POLYMARKET, "601", "Yes", "111")
POLY_NO = Contract(Venue.POLYMARKET, "601", "No", "222")
POLY = Market(
    Venue.POLYMARKET,
    "601",
    "e",
    "Will it?",
    (POLY_YES, POLY_NO),
    tick_size=Decimal("0.001"),
    min_order_size=Decimal(5),
    fee=polymarket_schedule(Decimal("0.04")),
)


def order(c: Contract, n: str, price: str, action: Action = Action.BUY) -> OrderRequest:
    return OrderRequest("o", c, action, Decimal(price), Decimal(n), TimeInForce.FOK)


def test_precision_rules_as_the_venues_apply_them() -> None:
    # Polymarket: a market BUY's pUSD (n x p) has at most 2 decimals: 10 x 0.963 = 9.63 is
    # sendable, 7 x 0.963 = 6.741 is not.
    assert check_order(order(POLY_YES, "10", "0.963"), POLY) is None
    refused = check_order(order(POLY_YES, "7", "0.963"), POLY)
    assert refused is not None and refused[0] == "invalid_amounts"
    assert check_order(order(POLY_YES, "4", "0.5"), POLY) == (
        "below_min_order_size",
        "minimum is 5 contracts",
    )
    assert check_order(order(POLY_YES, "10", "0.9635"), POLY) is not None  # off the tick
    # Both venues count in hundredths of a contract.
    assert check_order(order(YES, "2.5", "0.40"), MARKET) is None
    refused = check_order(order(YES, "2.505", "0.40"), MARKET)
    assert refused is not None and refused[0] == "invalid_count"


async def test_positions_are_paid_out_from_the_result() -> None:
    venue = PaperVenue(fresh_source(), balance=Decimal(100), clock=FakeTime().clock)
    await venue.place_order(buy("10", "0.40"))
    before = await venue.get_balance()
    resolution = await venue.get_resolution(YES.market_id)  # the source: YES won
    assert resolution is not None
    assert await venue.get_balance() == before + 10
    assert await venue.get_positions() == []
    await venue.get_resolution(YES.market_id)  # read again: paid once
    assert await venue.get_balance() == before + 10


async def test_the_ledger_survives_a_restart(tmp_path: Path) -> None:
    path = journal_path(tmp_path / "predarb.sqlite3")
    assert path.name == "predarb.paper.sqlite3"
    time = FakeTime()
    first = PaperVenue(
        fresh_source(), balance=Decimal(100), clock=time.clock, journal=PaperJournal(path)
    )
    bought = await first.place_order(buy("15", "0.42", coid="b1"))
    time.now += timedelta(seconds=1)
    sold = await first.place_order(sell("5", "0.37", coid="s1"))
    refused = await first.place_order(buy("1", "1.5", coid="r1"))
    state = (
        await first.get_balance(),
        await first.get_positions(),
        await first.get_fills(),
    )
    # Killed: nothing closed, the next start opens the same file.
    again = PaperVenue(
        fresh_source(), balance=Decimal(100), clock=time.clock, journal=PaperJournal(path)
    )
    assert (await again.get_balance(), await again.get_positions(), await again.get_fills()) == (
        state
    )
    assert state[0] != Decimal(100) and state[1][0].contracts == 10
    for coid, result in (("b1", bought), ("s1", sold), ("r1", refused)):
        assert await again.get_order(coid) == result
    # The same client order id after the restart: answered, not filled a second time.
    assert await again.place_order(buy("15", "0.42", coid="b1")) == bought
    assert await again.get_balance() == state[0]
    # New venue order ids go on from where they were.
    new = await again.place_order(buy("1", "0.45", coid="b2"))
    assert new.venue_order_id not in {bought.venue_order_id, sold.venue_order_id}
    assert new.fills[0].ts >= T0


async def test_paper_with_a_kalshi_key_opens_the_book_stream_and_nothing_else(
    tmp_path: Path,
) -> None:
    """Kalshi's orderbook channel needs a signed connection: with a key configured, the
    paper venue offers the authenticated stream (orders stay simulated); without one,
    none (paper polls REST)."""
    async with FakeKalshi() as rest:
        key_path = tmp_path / "k.pem"
        key_id = rest.new_key(key_path)
        keyed = Settings(
            _env_file=None,
            kalshi_base_url=rest.base_url,
            kalshi_api_key_id=key_id,
            kalshi_private_key_path=key_path,
        )
        venues = build_market_venues(keyed, Mode.PAPER)
        public = build_market_venues(Settings(_env_file=None), Mode.PAPER)
        try:
            paper = venues[Venue.KALSHI]
            assert isinstance(paper, PaperVenue)
            assert isinstance(paper.book_stream(), KalshiBookStream)
            assert isinstance(paper.source, KalshiVenue) and paper.source.has_credentials
            assert public[Venue.KALSHI].book_stream() is None
            assert isinstance(venues[Venue.POLYMARKET], PaperVenue)
        finally:
            for client in (*venues.values(), *public.values()):
                await client.close()
        assert rest.requests == []  # building reads nothing, and no account stream


@pytest.mark.timeout(20)
async def test_paper_feeds_take_the_kalshi_stream_and_fill_against_it(tmp_path: Path) -> None:
    async with FakeKalshi() as rest, FakeKalshiWs(rest) as ws:
        key_id = rest.new_key(tmp_path / "k.pem")
        rest.add_market(STREAM_TICKER)
        rest.set_book(STREAM_TICKER, yes=[("0.40", 10)], no=[("0.55", 5)])
        source = KalshiVenue(rest.base_url, key_id, tmp_path / "k.pem", ws_url=ws.url)
        paper = PaperVenue(source, balance=Decimal(100), latency_s=0.0)
        cache = WatchedCache([S_YES, S_NO])
        paper.use_books(cache)
        feeds = MarketFeeds(cache, {Venue.KALSHI: paper}, poll_interval_s=0.05)
        assert feeds.streaming(Venue.KALSHI)  # PaperVenue.book_stream: the source's
        await feeds.refresh()
        try:
            await cache.until(lambda: Venue.KALSHI in cache.live)
            rest_reads = sum("orderbook" in path for _, path, _ in rest.requests)
            await ws.set_level(STREAM_TICKER, "no", "0.58", "3")  # YES offered at 0.42
            await cache.until(lambda: best_ask(cache, S_YES) == Decimal("0.42"))
            order = OrderRequest(
                "p-1", S_YES, Action.BUY, Decimal("0.42"), Decimal(3), TimeInForce.IOC
            )
            result = await paper.place_order(order)
        finally:
            await feeds.stop()
            await paper.close()
    assert result.status is OrderStatus.FILLED and result.avg_price == Decimal("0.42")
    # The books came from the stream: no REST book read since it went live.
    assert sum("orderbook" in path for _, path, _ in rest.requests) == rest_reads
    assert not rest.exchange.orders  # the order was only simulated
