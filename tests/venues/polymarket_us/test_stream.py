"""Polymarket US books over the signed markets WebSocket, against the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from predarb.domain import Venue
from predarb.venues.polymarket_us import PolymarketUSVenue
from tests.fakes.polymarket_us_server import FakePolymarketUS
from tests.fakes.ws_polymarket_us import FakePolymarketUSWs
from tests.marketdata.test_streams import best_ask, running
from tests.venues.polymarket_us.conftest import SLUG

D = Decimal


@pytest.fixture
async def streamed(
    fake: FakePolymarketUS,
) -> AsyncIterator[tuple[FakePolymarketUSWs, PolymarketUSVenue]]:
    key_id, secret = fake.new_key()
    fake.add_market(SLUG, "Lakers vs Celtics", long_label="Lakers", short_label="Celtics")
    fake.set_book(SLUG, bids=[("0.40", 10)], offers=[("0.45", 5)])
    async with FakePolymarketUSWs(fake) as ws:
        venue = PolymarketUSVenue(fake.url, fake.url, key_id, secret, ws_url=ws.url)
        yield ws, venue
        await venue.close()


async def test_the_stream_keeps_both_sides_books(
    streamed: tuple[FakePolymarketUSWs, PolymarketUSVenue],
) -> None:
    ws, venue = streamed
    [market] = await venue.list_markets()
    long_c, short_c = market.contracts
    stream = venue.book_stream()
    assert stream is not None
    async with running(stream, [long_c, short_c]) as r:
        await r.cache.until(lambda: Venue.POLYMARKET_US in r.cache.live)
        assert (best_ask(r.cache, long_c), best_ask(r.cache, short_c)) == (D("0.45"), D("0.60"))
        await ws.heartbeat()
        await ws.set_book(SLUG, bids=[("0.42", 10)], offers=[("0.44", 5)])
        await r.cache.until(lambda: best_ask(r.cache, short_c) == D("0.58"))
        assert best_ask(r.cache, long_c) == D("0.44")
        assert stream.resyncs == 0  # type: ignore[attr-defined]
    assert ws.refused == 0


@pytest.mark.parametrize("fault", ["disconnect", "error", "stale"])
async def test_a_broken_stream_resyncs_from_rest_and_subscribes_again(
    streamed: tuple[FakePolymarketUSWs, PolymarketUSVenue], fault: str
) -> None:
    ws, venue = streamed
    [market] = await venue.list_markets()
    stream = venue.book_stream(stale_after_s=0.3 if fault == "stale" else 30)
    assert stream is not None
    async with running(stream, list(market.contracts)) as r:
        await ws.wait_subscriptions(1)
        await r.cache.until(lambda: Venue.POLYMARKET_US in r.cache.live)
        if fault == "disconnect":
            await ws.disconnect()
        elif fault == "error":
            await ws.send_error("subscription dropped")
        else:
            ws.silent = True
        await ws.wait_subscriptions(2)
        assert stream.resyncs >= 1  # type: ignore[attr-defined]


async def test_pings_keep_a_quiet_stream_from_being_dropped_as_idle(
    fake: FakePolymarketUS,
) -> None:
    """The exchange drops a socket it hears nothing from (after about an hour; here
    0.3 s): the client's pings keep a stream with no book changes open."""
    key_id, secret = fake.new_key()
    fake.add_market(SLUG, "Lakers vs Celtics", long_label="Lakers", short_label="Celtics")
    fake.set_book(SLUG, bids=[("0.40", 10)], offers=[("0.45", 5)])
    async with FakePolymarketUSWs(fake, idle_timeout_s=0.3) as ws:
        venue = PolymarketUSVenue(fake.url, fake.url, key_id, secret, ws_url=ws.url)
        [market] = await venue.list_markets()
        stream = venue.book_stream(ping_interval_s=0.05)
        assert stream is not None
        async with running(stream, list(market.contracts)) as r:
            await ws.wait_subscriptions(1)
            await ws.wait_pings(12)  # well past the idle timeout, pinged all along
            assert Venue.POLYMARKET_US in r.cache.live
            assert ws.connections == 1 and stream.resyncs == 0  # type: ignore[attr-defined]
            assert ws.close_codes == []
        await venue.close()

    # Without pings the same quiet stream is dropped: the fake's idle timer is real.
    async with FakePolymarketUSWs(fake, idle_timeout_s=0.3) as ws:
        venue = PolymarketUSVenue(fake.url, fake.url, key_id, secret, ws_url=ws.url)
        await venue.list_markets()
        stream = venue.book_stream(ping_interval_s=3600)
        assert stream is not None
        async with running(stream, list(market.contracts)):
            await ws.wait_closed(1)
            assert ws.pings == 0
        await venue.close()


async def test_no_key_no_stream(fake: FakePolymarketUS) -> None:
    venue = PolymarketUSVenue(fake.url, fake.url)
    assert venue.book_stream() is None
    await venue.close()


async def test_an_unsigned_upgrade_is_refused(fake: FakePolymarketUS) -> None:
    _, secret = fake.new_key()
    fake.add_market(SLUG)
    async with FakePolymarketUSWs(fake) as ws:
        venue = PolymarketUSVenue(fake.url, fake.url, "not-a-key", secret, ws_url=ws.url)
        [market] = await venue.list_markets()
        stream = venue.book_stream(max_backoff_s=0.05)
        assert stream is not None
        async with running(stream, list(market.contracts)) as r:
            await r.cache.until(lambda: stream.resyncs >= 2)  # type: ignore[attr-defined]
        await venue.close()
    assert ws.refused >= 2 and ws.subscriptions == 0
