"""KalshiVenue against the fake Kalshi over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.config import Settings
from predarb.domain import (
    Action,
    Contract,
    MarketStatus,
    OrderRequest,
    OrderStatus,
    TimeInForce,
    Venue,
)
from predarb.matching.matcher import Matcher
from predarb.venues.base import AuthError, OrderStateUnknown, VenueError
from predarb.venues.kalshi import KalshiVenue, RetiredEndpoint
from tests.fakes.kalshi_server import LEGACY_410, FakeKalshi
from tests.matching.builders import poly
from tests.venues.kalshi.conftest import TICKER

D = Decimal
YES = Contract(Venue.KALSHI, TICKER, "yes")
NO = Contract(Venue.KALSHI, TICKER, "no")


def order(
    coid: str,
    contract: Contract,
    action: Action,
    price: str,
    count: str,
    tif: TimeInForce = TimeInForce.FOK,
) -> OrderRequest:
    return OrderRequest(coid, contract, action, D(price), D(count), tif)


def posts(fake: FakeKalshi) -> int:
    return sum(1 for m, p, _ in fake.requests if (m, p) == ("POST", "/portfolio/events/orders"))


async def test_list_markets_pages_events_and_prices_fees_per_series(fake: FakeKalshi) -> None:
    for i in range(230):  # more than one page of 200 events
        fake.add_market(f"KXBIG-26DEC{i:03d}-A")
    fake.add_market("KXBIG-26DEC999-Z", status="closed")
    fake.add_market(
        "KXCHEAP-26DEC31-A",
        price_ranges=[
            {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
            {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
            {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
        ],
    )
    fake.set_series("KXCHEAP", fee_type="quadratic_with_maker_fees", fee_multiplier=0.5)
    venue = KalshiVenue(fake.base_url)
    try:
        markets = await venue.list_markets()
        again = await venue.list_markets()
    finally:
        await venue.close()
    assert len(markets) == 231 and len(again) == 231
    assert "KXBIG-26DEC999-Z" not in {m.market_id for m in markets}
    assert all(m.status is MarketStatus.OPEN for m in markets)
    cheap = next(m for m in markets if m.market_id == "KXCHEAP-26DEC31-A")
    assert (
        cheap.fee is not None
        and cheap.fee.rate == D("0.035")
        and cheap.fee.maker_rate == D("0.00875")
    )
    assert cheap.tick_size == D("0.01") and cheap.series == "KXCHEAP"
    event_pages = [p for m, p, _ in fake.requests if p == "/events"]
    series_calls = [p for m, p, _ in fake.requests if p.startswith("/series/")]
    assert len(event_pages) == 4  # two pages, twice
    # each series and the fee schedule read once: cached
    assert sorted(series_calls) == ["/series/KXBIG", "/series/KXCHEAP", "/series/fee_changes"]


async def test_the_events_title_and_sub_title_reach_the_matcher(fake: FakeKalshi) -> None:
    # The title leaves the window out; the event's sub-title names it (as Kalshi's
    # "Who will visit Iran?" events do), and only with it is the claim the one
    # Polymarket lists.
    fake.add_market(
        "KXVISITIRAN-26JUL01-JVAN", title="Will JD Vance visit Iran?", yes_sub_title="JD Vance"
    )
    fake.set_event(
        "KXVISITIRAN-26JUL01",
        title="Who will visit Iran?",
        sub_title="Before Jul 1, 2026",
        settlement_sources=[{"name": "Reuters", "url": "https://www.reuters.com"}],
    )
    venue = KalshiVenue(fake.base_url)
    try:
        (market,) = await venue.list_markets()
    finally:
        await venue.close()
    assert market.extra["event_title"] == "Who will visit Iran?"
    assert market.extra["event_sub_title"] == "Before Jul 1, 2026"
    assert market.extra["resolution_source"] == "Reuters"
    p = poly("1478018", "Will JD Vance enter Iran by June 30, 2026?", sub="JD Vance")
    (pair,) = Matcher().match([market], [p])
    assert pair.tradable and "window before 2026-07-01" in pair.evidence
    slim = replace(market, extra={k: v for k, v in market.extra.items() if k != "event_sub_title"})
    assert Matcher().match([slim], [p]) == []  # without it, the window is unknown


async def test_order_books_are_depth_on_both_contracts(
    venue: KalshiVenue, fake: FakeKalshi
) -> None:
    books = await venue.get_order_books([YES, NO, Contract(Venue.KALSHI, "KXNOPE-1", "yes")])
    assert set(books) == {YES, NO}
    yes, no = books[YES], books[NO]
    assert [(lv.price, lv.size) for lv in yes.asks] == [(D("0.45"), 5), (D("0.50"), 20)]
    assert [(lv.price, lv.size) for lv in yes.bids] == [(D("0.40"), 10), (D("0.38"), 30)]
    assert [(lv.price, lv.size) for lv in no.asks] == [(D("0.60"), 10), (D("0.62"), 30)]
    assert [(lv.price, lv.size) for lv in no.bids] == [(D("0.55"), 5), (D("0.50"), 20)]
    fake.malformed_next('{"orderbooks": [{"ticker": "' + TICKER + '", "orderbook_fp": {"yes_dol')
    assert await venue.get_order_books([YES]) == {}


@pytest.mark.parametrize(
    ("contract", "action", "price", "count", "side", "yes_price", "avg"),
    [
        (YES, Action.BUY, "0.50", 10, "bid", "0.5000", "0.475"),  # NO bids 0.55×5, 0.50×5
        (NO, Action.BUY, "0.62", 20, "ask", "0.3800", "0.61"),  # YES bids 0.40×10, 0.38×10
    ],
)
async def test_buy_maps_to_the_yes_book(
    venue: KalshiVenue,
    fake: FakeKalshi,
    contract: Contract,
    action: Action,
    price: str,
    count: int,
    side: str,
    yes_price: str,
    avg: str,
) -> None:
    result = await venue.place_order(order("c1", contract, action, price, str(count)))
    assert (result.status, result.filled, result.avg_price) == (OrderStatus.FILLED, count, D(avg))
    sent = fake.order_by_client_id("c1")
    assert sent is not None and (sent["book_side"], sent["yes_price_dollars"]) == (side, yes_price)
    (position,) = await venue.get_positions()
    assert position.contract == contract and position.contracts == count
    fills = await venue.get_fills("c1")
    assert sum(f.contracts for f in fills) == count and {f.contract for f in fills} == {contract}
    assert sum(f.price * f.contracts for f in fills) / count == D(avg)
    assert sum(f.fee for f in fills) == sum(D(f["fee_cost"]) for f in fake.exchange.fills)


async def test_unwinds_are_the_inverse_side(venue: KalshiVenue, fake: FakeKalshi) -> None:
    bought = await venue.place_order(order("b1", YES, Action.BUY, "0.45", "5"))
    assert bought.status is OrderStatus.FILLED
    sold = await venue.place_order(order("s1", YES, Action.SELL, "0.40", "5", TimeInForce.IOC))
    assert (sold.status, sold.avg_price) == (OrderStatus.FILLED, D("0.40"))
    assert fake.order_by_client_id("s1")["book_side"] == "ask"  # type: ignore[index]
    assert await venue.get_positions() == []
    bought_no = await venue.place_order(order("b2", NO, Action.BUY, "0.60", "4"))
    sold_no = await venue.place_order(order("s2", NO, Action.SELL, "0.50", "4"))
    sent = fake.order_by_client_id("s2")
    assert sent is not None and (sent["book_side"], sent["yes_price_dollars"]) == ("bid", "0.5000")
    assert (bought_no.avg_price, sold_no.avg_price) == (D("0.60"), D("0.50"))
    assert await venue.get_positions() == []
    sells = [f for f in await venue.get_fills("s2")]
    assert [(f.contract, f.action, f.price) for f in sells] == [(NO, Action.SELL, D("0.50"))]
    # 5×(0.45−0.40) + 4×(0.60−0.50) lost, plus taker fees
    fees = sum(D(f["fee_cost"]) for f in fake.exchange.fills)
    assert await venue.get_balance() == D(100) - D("0.25") - D("0.40") - fees


async def test_fok_kill_ioc_partial_and_refusals(venue: KalshiVenue, fake: FakeKalshi) -> None:
    killed = await venue.place_order(order("k1", YES, Action.BUY, "0.45", "6"))
    assert (killed.status, killed.error_code) == (
        OrderStatus.CANCELED,
        "fill_or_kill_insufficient_resting_volume",
    )
    assert fake.exchange.fills == []
    partial = await venue.place_order(order("p1", YES, Action.BUY, "0.45", "6", TimeInForce.IOC))
    assert (partial.status, partial.filled, partial.avg_price) == (
        OrderStatus.PARTIAL,
        5,
        D("0.45"),
    )
    # The fill's fee is ceil(0.07×5×0.45×0.55, 0.0001) = 0.0867; the ack only carries the
    # per-contract average to 4 dp (0.0173), so the ack's total is 0.0865.
    assert partial.fee == D("0.0865")
    (state,) = [o for o in [await venue.get_order("p1", partial.venue_order_id)] if o]
    assert state.fee == D("0.0867")
    nothing = await venue.place_order(order("n1", YES, Action.BUY, "0.45", "1", TimeInForce.IOC))
    assert (nothing.status, nothing.filled) == (OrderStatus.CANCELED, 0)
    duplicate = await venue.place_order(order("p1", YES, Action.BUY, "0.50", "1"))
    assert (duplicate.status, duplicate.error_code) == (
        OrderStatus.REJECTED,
        "order_already_exists",
    )
    broke = await venue.place_order(order("x1", NO, Action.BUY, "0.99", "1000", TimeInForce.IOC))
    assert (broke.status, broke.error_code) == (OrderStatus.REJECTED, "insufficient_balance")
    before = posts(fake)
    off_grid = await venue.place_order(order("g1", YES, Action.BUY, "0.505", "1"))
    fractional = await venue.place_order(order("g2", YES, Action.BUY, "0.50", "1.005"))
    assert off_grid.status is OrderStatus.REJECTED and "grid" in off_grid.error
    assert fractional.status is OrderStatus.REJECTED and posts(fake) == before  # never sent


async def test_429_on_order_is_resent_and_a_5xx_is_unknown(
    venue: KalshiVenue, fake: FakeKalshi
) -> None:
    fake.fail_next(429, method="POST", path="/portfolio/events/orders", times=2)
    result = await venue.place_order(order("r1", YES, Action.BUY, "0.45", "1"))
    assert result.status is OrderStatus.FILLED and posts(fake) == 3 and fake.order_posts == 1
    fake.fail_next(503, method="POST", path="/portfolio/events/orders")
    with pytest.raises(OrderStateUnknown):
        await venue.place_order(order("r2", YES, Action.BUY, "0.45", "1"))
    assert await venue.get_order("r2") is None  # it never reached the book


@pytest.mark.parametrize("fault", ["drop", "delay", "garbled"])
async def test_lost_reply_is_resolved_by_lookup_never_by_resending(
    fake: FakeKalshi, key_path: Path, fault: str
) -> None:
    key_id = fake.new_key(key_path)
    fake.add_market(TICKER)
    fake.set_book(TICKER, no=[("0.55", 5)])
    venue = KalshiVenue(fake.base_url, key_id, key_path, timeout_s=0.3)
    if fault == "drop":
        fake.drop_next_order_reply()
    elif fault == "delay":
        fake.delay_next_order_reply(0.6)
    else:
        fake.malformed_next('{"order_id": "abc", "fill_count": 3', method="POST", status=201)
        fake.add_market("KXOTHER-26-A")  # the garbled reply comes from a fault, not the book
    try:
        request = order("lost-1", YES, Action.BUY, "0.45", "3")
        with pytest.raises(OrderStateUnknown):
            await venue.place_order(request)
        found = await venue.get_order("lost-1")
        if fault == "garbled":
            assert found is None
        else:
            assert found is not None and (found.status, found.filled) == (OrderStatus.FILLED, 3)
            assert found.avg_price == D("0.45") and found.fee == D("0.0520")
            by_id = await venue.get_order("lost-1", found.venue_order_id)
            assert by_id == found
        assert posts(fake) == 1
    finally:
        await venue.close()


async def test_resting_order_cancel_and_status(venue: KalshiVenue, fake: FakeKalshi) -> None:
    rest = await venue.place_order(order("g1", YES, Action.BUY, "0.30", "2", TimeInForce.GTC))
    assert rest.status is OrderStatus.OPEN
    assert [o.client_order_id for o in await venue.open_orders()] == ["g1"]
    await venue.cancel_order(rest.venue_order_id)
    await venue.cancel_order(rest.venue_order_id)  # 404 the second time: not an error
    state = await venue.get_order("g1", rest.venue_order_id)
    assert state is not None and state.status is OrderStatus.CANCELED
    assert await venue.open_orders() == []
    assert await venue.get_order("never-sent") is None
    assert await venue.get_order("never-sent", "00000000-0000-0000-0000-000000000000") is None


async def test_settlement_and_resolution(venue: KalshiVenue, fake: FakeKalshi) -> None:
    await venue.place_order(order("b1", NO, Action.BUY, "0.60", "10"))
    assert await venue.get_resolution(TICKER) is None
    balance = await venue.get_balance()
    fake.settle(TICKER, "no")
    resolution = await venue.get_resolution(TICKER)
    assert resolution is not None and resolution.payout(NO) == 1 and resolution.payout(YES) == 0
    assert resolution.settled_at is not None
    (settlement,) = await venue.get_settlements()
    assert (settlement.ticker, settlement.result, settlement.no_count) == (TICKER, "no", 10)
    assert settlement.revenue == 10 and await venue.get_balance() == balance + 10
    fake.add_market("KXSCALAR-26-A")
    fake.settle("KXSCALAR-26-A", "scalar", D("0.35"))
    scalar = await venue.get_resolution("KXSCALAR-26-A")
    assert scalar is not None and scalar.payouts == {"yes": D("0.35"), "no": D("0.65")}


async def test_error_shapes_from_the_wire(venue: KalshiVenue, fake: FakeKalshi) -> None:
    fake.fail_next(410, LEGACY_410, method="POST", path="/portfolio/events/orders")
    with pytest.raises(RetiredEndpoint, match="retired endpoint") as retired:
        await venue.place_order(order("v1", YES, Action.BUY, "0.45", "1"))
    assert retired.value.code == "deprecated_v1_order_endpoint" and retired.value.status == 410
    with pytest.raises(RetiredEndpoint):  # the fake's own legacy path
        await venue._http.write("POST", "/portfolio/orders", {"ticker": TICKER}, order=True)
    with pytest.raises(VenueError, match="Parameter validation failed") as bare:
        await venue._http.get("/markets", {"limit": 1001})
    assert bare.value.status == 400
    fake.fail_next(429, path="/portfolio/balance", times=2)
    fake.fail_next(502, path="/portfolio/balance")
    assert await venue.get_balance() == 100  # reads retry 429 and 5xx with jittered backoff
    assert sum(1 for _, p, _ in fake.requests if p == "/portfolio/balance") == 4


async def test_unknown_key_is_an_auth_error(fake: FakeKalshi, tmp_path: Path) -> None:
    fake.new_key(tmp_path / "registered.pem")
    settings = Settings(
        kalshi_api_key_id="not-registered",
        kalshi_private_key_path=tmp_path / "registered.pem",
        kalshi_base_url=fake.base_url,
    )
    venue = KalshiVenue.from_settings(settings)
    try:
        with pytest.raises(AuthError) as exc:
            await venue.get_balance()
        assert exc.value.status == 401 and "NOT_FOUND" in exc.value.message
    finally:
        await venue.close()


async def test_series_filter_and_a_repeating_cursor_ends_the_walk(fake: FakeKalshi) -> None:
    fake.add_market("KXA-26-X")
    fake.add_market("KXB-26-Y")
    venue = KalshiVenue(fake.base_url, series_tickers=["KXB"])
    try:
        assert [m.market_id for m in await venue.list_markets()] == ["KXB-26-Y"]
        looping = {"markets": [fake.exchange.market("KXA-26-X")], "cursor": "c2FtZQ"}
        fake.fail_next(200, looping, path="/markets", times=5)
        found = await venue.fetch_markets(status="open")
    finally:
        await venue.close()
    assert [m.market_id for m in found] == ["KXA-26-X", "KXA-26-X"]
    assert sum(1 for _, p, _ in fake.requests if p == "/markets") == 2


async def test_connected_venue_sends_orders_with_headers_signed_ahead(
    venue: KalshiVenue, fake: FakeKalshi
) -> None:
    """While connected, the order path's headers are signed in the background: orders
    sent moments apart carry the same (recent) signed timestamp, which the fake accepts."""
    await venue.connect()
    await asyncio.sleep(0)  # the presigner's first turn
    first = await venue.place_order(order("p1", YES, Action.BUY, "0.45", "1"))
    await venue.prepare(second := order("p2", YES, Action.BUY, "0.45", "1"))
    placed = await venue.place_order(second)
    assert (first.status, placed.status) == (OrderStatus.FILLED, OrderStatus.FILLED)
    stamps = fake.signed_timestamps[-2:]
    assert stamps[0] == stamps[1]
    assert 0 <= time.time() * 1000 - int(stamps[0]) < 2000
    await venue.close()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "kalshi-presign"]
