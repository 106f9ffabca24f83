"""The venue streams against fake WebSocket servers: books kept from snapshot + deltas,
and a disconnect, a sequence gap or a silent stream each lead to a REST resync and a
fresh subscription."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from predarb.domain import Contract, OrderBook, Venue
from predarb.marketdata import BookCache, BookStream
from predarb.venues.kalshi.client import KalshiVenue
from predarb.venues.polymarket.client import PolymarketVenue
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.fakes.ws_kalshi import FakeKalshiWs
from tests.fakes.ws_polymarket import FakePolymarketWs

pytestmark = pytest.mark.timeout(20)
TICKER = "KXTEST-26-A"
KYES = Contract(Venue.KALSHI, TICKER, "yes")
KNO = Contract(Venue.KALSHI, TICKER, "no")


class WatchedCache(BookCache):
    """A BookCache that lets a test await a condition on it."""

    def __init__(self, contracts: Iterable[Contract]) -> None:
        super().__init__()
        self._index = {c: () for c in contracts}
        self.events: list[str] = []
        self._cond = asyncio.Condition()

    def _poke(self, what: str) -> None:
        self.events.append(what)

        async def notify() -> None:
            async with self._cond:
                self._cond.notify_all()

        asyncio.get_running_loop().create_task(notify())

    def apply(self, books: Iterable[OrderBook], received_ns: int) -> None:
        super().apply(books, received_ns)
        self._poke("apply")

    def invalidate(self, contracts: Iterable[Contract], reason: str) -> None:
        super().invalidate(contracts, reason)
        self._poke("invalidate")

    def set_live(self, venue: Venue, live: bool) -> None:
        super().set_live(venue, live)
        self._poke(f"live={live}")

    async def until(self, check: Callable[[], bool]) -> None:
        async with self._cond:
            await self._cond.wait_for(check)


@dataclass
class Running:
    stream: BookStream
    cache: WatchedCache
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def running(stream: BookStream, contracts: list[Contract]) -> AsyncIterator[Running]:
    cache = WatchedCache(contracts)
    task = asyncio.create_task(stream.run(contracts, cache))
    try:
        yield Running(stream, cache, task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def best_ask(cache: BookCache, c: Contract) -> Decimal | None:
    book = cache.books.get(c)
    return book.asks[0].price if book and book.asks else None


# --- Kalshi ------------------------------------------------------------------------------


KalshiRig = tuple[FakeKalshi, FakeKalshiWs, KalshiVenue]


@contextlib.asynccontextmanager
async def kalshi_rig(tmp_path: Path, **ws_options: Any) -> AsyncIterator[KalshiRig]:
    """REST and WebSocket fakes on one market (YES bid 0.40×10, NO bid 0.55×5) and a
    signed venue on them."""
    async with FakeKalshi() as rest, FakeKalshiWs(rest, **ws_options) as ws:
        key_id = rest.new_key(tmp_path / "k.pem")
        rest.add_market(TICKER)
        rest.set_book(TICKER, yes=[("0.40", 10)], no=[("0.55", 5)])
        venue = KalshiVenue(rest.base_url, key_id, tmp_path / "k.pem", ws_url=ws.url)
        try:
            yield rest, ws, venue
        finally:
            await venue.close()


@pytest.fixture
async def kalshi(tmp_path: Path) -> AsyncIterator[KalshiRig]:
    async with kalshi_rig(tmp_path) as rig:
        yield rig


async def test_kalshi_stream_keeps_the_book_from_snapshot_and_deltas(
    kalshi: tuple[FakeKalshi, FakeKalshiWs, KalshiVenue],
) -> None:
    _, ws, venue = kalshi
    stream = venue.book_stream()
    assert stream is not None
    async with running(stream, [KYES, KNO]) as r:
        await r.cache.until(lambda: Venue.KALSHI in r.cache.live)
        assert best_ask(r.cache, KYES) == Decimal("0.45")
        await ws.set_level(TICKER, "no", "0.58", "3")
        await r.cache.until(lambda: best_ask(r.cache, KYES) == Decimal("0.42"))
        assert best_ask(r.cache, KNO) == Decimal("0.60")
        assert stream.resyncs == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("price_form", ["flag", "flipped", "yes_only"])
async def test_kalshi_stream_reads_the_yes_price_form_before_and_after_the_flag_goes(
    tmp_path: Path, price_form: str
) -> None:
    """Subscribed with ``use_yes_price: true``, the stream gets the YES-price form while
    the flag is honoured, after its default flips and once it is removed."""
    async with kalshi_rig(tmp_path, price_form=price_form) as (_, ws, venue):
        stream = venue.book_stream()
        assert stream is not None
        async with running(stream, [KYES, KNO]) as r:
            await r.cache.until(lambda: Venue.KALSHI in r.cache.live)
            assert ws.subscribe_params[0]["use_yes_price"] is True
            assert best_ask(r.cache, KYES) == Decimal("0.45")
            await ws.set_level(TICKER, "no", "0.58", "3")  # sent at 0.42 on the YES scale
            await r.cache.until(lambda: best_ask(r.cache, KYES) == Decimal("0.42"))
            await ws.set_level(TICKER, "no", "0.58", "0")
            await r.cache.until(lambda: best_ask(r.cache, KYES) == Decimal("0.45"))
            assert best_ask(r.cache, KNO) == Decimal("0.60")
            assert stream.resyncs == 0  # type: ignore[attr-defined]


def _uncrossed_either_way(rest: FakeKalshi) -> None:
    """YES bids 0.30 and NO bids 0.40: sent NO-leg, the NO level at 0.40 also reads as a
    valid YES-price book (a NO bid at 0.60), which would show YES asks at 0.40."""
    rest.set_book(TICKER, yes=[("0.30", 10)], no=[("0.40", 5)])


async def test_kalshi_stream_reads_an_uncrossed_no_leg_snapshot_as_no_leg(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A venue that ignores ``use_yes_price``: the snapshot is checked against the REST
    book, found NO-leg, and the stream read as such (said once, however often it
    reconnects)."""
    async with kalshi_rig(tmp_path, price_form="no_leg") as (rest, ws, venue):
        _uncrossed_either_way(rest)
        stream = venue.book_stream()
        assert stream is not None
        async with running(stream, [KYES, KNO]) as r:
            await r.cache.until(lambda: Venue.KALSHI in r.cache.live)
            assert best_ask(r.cache, KYES) == Decimal("0.60")
            assert best_ask(r.cache, KNO) == Decimal("0.70")
            await ws.set_level(TICKER, "no", "0.45", "3")  # a NO-leg delta
            await r.cache.until(lambda: best_ask(r.cache, KYES) == Decimal("0.55"))
            assert stream.resyncs == 0  # type: ignore[attr-defined]
            await ws.disconnect()
            await ws.wait_subscriptions(2)
            await ws.set_level(TICKER, "no", "0.45", "0")
            await r.cache.until(lambda: best_ask(r.cache, KYES) == Decimal("0.60"))
    told = [m for m in caplog.messages if "NO-leg form" in m]
    assert len(told) == 1


class AsksSeen(WatchedCache):
    def __init__(self, contracts: Iterable[Contract]) -> None:
        super().__init__(contracts)
        self.asks: list[Decimal | None] = []  # the YES best ask of every book applied

    def apply(self, books: Iterable[OrderBook], received_ns: int) -> None:
        books = list(books)
        self.asks += [b.asks[0].price if b.asks else None for b in books if b.contract == KYES]
        super().apply(books, received_ns)


async def test_a_snapshot_whose_form_cannot_be_told_is_resynced_not_guessed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No REST book to compare with (the read failed) and a snapshot valid in either
    form: the stream resyncs from REST (said once) and tries again, and no book of the
    wrong form is ever priced."""
    async with kalshi_rig(tmp_path, price_form="no_leg") as (rest, ws, venue):
        _uncrossed_either_way(rest)
        rest.fail_next(503, path="/markets/orderbooks", times=4)  # every retry of one read
        stream = venue.book_stream()
        assert stream is not None
        cache = AsksSeen([KYES, KNO])
        task = asyncio.create_task(stream.run([KYES, KNO], cache))
        try:
            await cache.until(lambda: Venue.KALSHI in cache.live)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert stream.resyncs == 1 and ws.subscriptions == 2  # type: ignore[attr-defined]
        assert cache.asks and set(cache.asks) == {Decimal("0.60")}
    assert len([m for m in caplog.messages if "price form in doubt" in m]) == 1


# Kalshi pings every 10 s; here every 0.1 s, and the stream is stale after 1 s without a
# frame or a ping (30 s at Kalshi). 60 pings stand for 10 minutes of a quiet book.
FAST_PING_S = 0.1
FAST_STALE_S = 1.0


@pytest.fixture
async def kalshi_pinging(tmp_path: Path) -> AsyncIterator[KalshiRig]:
    async with kalshi_rig(tmp_path, ping_interval_s=FAST_PING_S) as rig:
        yield rig


async def test_kalshi_quiet_book_with_pings_stays_connected_for_minutes(
    kalshi_pinging: tuple[FakeKalshi, FakeKalshiWs, KalshiVenue],
) -> None:
    """No data frame at all after the snapshot, only pings: never stale, never
    reconnected, and every ping answered."""
    _, ws, venue = kalshi_pinging
    stream = venue.book_stream(stale_after_s=FAST_STALE_S)
    assert stream is not None
    async with running(stream, [KYES, KNO]) as r:
        await r.cache.until(lambda: Venue.KALSHI in r.cache.live)
        sent = ws.sent
        await ws.wait_pings(60)
        assert ws.sent == sent  # nothing but pings
        assert stream.resyncs == 0 and ws.connections == 1  # type: ignore[attr-defined]
        assert Venue.KALSHI in r.cache.live
        await ws.set_level(TICKER, "yes", "0.41", "2")  # and the book still streams
        await r.cache.until(lambda: best_ask(r.cache, KNO) == Decimal("0.59"))


async def test_kalshi_stream_whose_pings_stop_is_resynced(
    kalshi_pinging: tuple[FakeKalshi, FakeKalshiWs, KalshiVenue],
) -> None:
    rest, ws, venue = kalshi_pinging
    stream = venue.book_stream(stale_after_s=FAST_STALE_S)
    assert stream is not None
    async with running(stream, [KYES, KNO]) as r:
        await r.cache.until(lambda: Venue.KALSHI in r.cache.live)
        await ws.wait_pings(3)
        before = len(rest.requests)
        ws.pinging = False
        await ws.wait_subscriptions(2)  # detected, resynced over REST, reconnected
        ws.pinging = True
        assert stream.resyncs >= 1  # type: ignore[attr-defined]
        assert any("/markets/orderbooks" in path for _, path, _ in rest.requests[before:])
        assert "live=False" in r.cache.events
        await r.cache.until(lambda: Venue.KALSHI in r.cache.live)


async def test_kalshi_needs_a_key_for_its_stream(tmp_path: Path) -> None:
    venue = KalshiVenue("http://127.0.0.1:9/trade-api/v2")
    assert venue.book_stream() is None
    await venue.close()


@pytest.mark.parametrize("fault", ["disconnect", "gap", "stale"])
async def test_kalshi_resyncs_from_rest_and_resubscribes(
    kalshi: tuple[FakeKalshi, FakeKalshiWs, KalshiVenue], fault: str
) -> None:
    rest, ws, venue = kalshi
    stream = venue.book_stream(stale_after_s=0.3 if fault == "stale" else 30)
    assert stream is not None
    async with running(stream, [KYES, KNO]) as r:
        await ws.wait_subscriptions(1)
        await r.cache.until(lambda: Venue.KALSHI in r.cache.live)
        before = len(rest.requests)
        if fault == "disconnect":
            rest.set_book(TICKER, yes=[("0.40", 10)], no=[("0.57", 5)])  # changed unseen
            await ws.disconnect()
        elif fault == "gap":
            ws.skip_seq()
            await ws.set_level(TICKER, "no", "0.57", "5")
        else:
            ws.silent = True
            await ws.set_level(TICKER, "no", "0.57", "5")
        await ws.wait_subscriptions(2)
        await r.cache.until(lambda: best_ask(r.cache, KYES) == Decimal("0.43"))
        assert stream.resyncs == 1  # type: ignore[attr-defined]
        assert any("/markets/orderbooks" in path for _, path, _ in rest.requests[before:])
        ws.silent = False
        await r.cache.until(lambda: Venue.KALSHI in r.cache.live)
        await ws.set_level(TICKER, "yes", "0.41", "2")  # the new subscription streams
        await r.cache.until(lambda: best_ask(r.cache, KNO) == Decimal("0.59"))


async def test_kalshi_refused_upgrade_falls_back_to_rest_books(tmp_path: Path) -> None:
    async with FakeKalshi() as rest, FakeKalshiWs(rest) as ws:
        rest.new_key(tmp_path / "k.pem")
        rest.add_market(TICKER)
        rest.set_book(TICKER, yes=[("0.40", 10)], no=[("0.55", 5)])
        other = FakeKalshi()  # a key the fakes do not know
        unknown = other.new_key(tmp_path / "other.pem")
        venue = KalshiVenue(rest.base_url, unknown, tmp_path / "other.pem", ws_url=ws.url)
        stream = venue.book_stream()
        assert stream is not None
        async with running(stream, [KYES, KNO]) as r:
            # Market data is public: REST still serves the books.
            await r.cache.until(lambda: best_ask(r.cache, KYES) == Decimal("0.45"))
            assert ws.connections == 0 and stream.resyncs >= 1  # type: ignore[attr-defined]
            assert Venue.KALSHI not in r.cache.live
        await venue.close()


# --- Polymarket --------------------------------------------------------------------------


@pytest.fixture
async def poly() -> AsyncIterator[
    tuple[FakePolymarket, FakePolymarketWs, PolymarketVenue, Contract]
]:
    async with FakePolymarket() as rest, FakePolymarketWs(rest) as ws:
        m = rest.add_market("m1")
        token = m.tokens["Yes"]
        rest.set_book(token, bids=[("0.40", "100")], asks=[("0.45", "20"), ("0.47", "30")])
        venue = PolymarketVenue(rest.clob_url, rest.gamma_url, ws_url=ws.url)
        yield rest, ws, venue, Contract(Venue.POLYMARKET, "m1", "Yes", token)
        await venue.close()


async def test_polymarket_stream_keeps_the_book_and_pings(
    poly: tuple[FakePolymarket, FakePolymarketWs, PolymarketVenue, Contract],
) -> None:
    _, ws, venue, yes = poly
    stream = venue.book_stream(ping_interval_s=0.05)
    async with running(stream, [yes]) as r:
        await r.cache.until(lambda: Venue.POLYMARKET in r.cache.live)
        assert best_ask(r.cache, yes) == Decimal("0.45")
        await ws.set_level(yes.token_id, "SELL", "0.44", "5")
        await r.cache.until(lambda: best_ask(r.cache, yes) == Decimal("0.44"))
        await ws.set_level(yes.token_id, "SELL", "0.44", "0")
        await r.cache.until(lambda: best_ask(r.cache, yes) == Decimal("0.45"))
        await ws.wait_pings(2)
        assert stream.resyncs == 0


@pytest.mark.parametrize("fault", ["disconnect", "gap", "stale"])
async def test_polymarket_resyncs_from_rest_and_resubscribes(
    poly: tuple[FakePolymarket, FakePolymarketWs, PolymarketVenue, Contract], fault: str
) -> None:
    rest, ws, venue, yes = poly
    stream = venue.book_stream(stale_after_s=0.3 if fault == "stale" else 30, ping_interval_s=10)
    async with running(stream, [yes]) as r:
        await r.cache.until(lambda: Venue.POLYMARKET in r.cache.live)
        before = len(rest.requests)
        if fault == "disconnect":
            rest.set_book(yes.token_id, bids=[("0.40", "100")], asks=[("0.43", "9")])
            await ws.disconnect()
        elif fault == "gap":
            ws.wrong_best_next()
            await ws.set_level(yes.token_id, "SELL", "0.43", "9")
        else:
            ws.silent = True
            await ws.set_level(yes.token_id, "SELL", "0.43", "9")
        await ws.wait_subscriptions(2)
        await r.cache.until(lambda: best_ask(r.cache, yes) == Decimal("0.43"))
        assert stream.resyncs == 1
        assert any(path == "/books" for _, path in rest.requests[before:])
        ws.silent = False
        await ws.set_level(yes.token_id, "SELL", "0.42", "1")
        await r.cache.until(lambda: best_ask(r.cache, yes) == Decimal("0.42"))


async def test_stopped_streams_close_normally(
    kalshi: tuple[FakeKalshi, FakeKalshiWs, KalshiVenue],
    poly: tuple[FakePolymarket, FakePolymarketWs, PolymarketVenue, Contract],
) -> None:
    """A stop is a normal closure (1000) for the venue, not an internal error (1011)."""
    _, kalshi_ws, kalshi_venue = kalshi
    _, poly_ws, poly_venue, yes = poly
    cases: list[tuple[FakeKalshiWs | FakePolymarketWs, BookStream | None, list[Contract]]] = [
        (kalshi_ws, kalshi_venue.book_stream(), [KYES, KNO]),
        (poly_ws, poly_venue.book_stream(), [yes]),
    ]
    for ws, stream, watched in cases:
        assert stream is not None
        async with running(stream, watched) as r:
            await r.cache.until(lambda: stream.venue in r.cache.live)  # noqa: B023
        await ws.wait_closed(1)
        assert ws.close_codes == [1000]
