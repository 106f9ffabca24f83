"""The Polymarket US adapter against the fake exchange over loopback HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from predarb.domain import Action, MarketStatus, OrderRequest, OrderStatus, TimeInForce, Venue
from predarb.venues.base import OrderRejected, OrderStateUnknown
from predarb.venues.polymarket_us import PolymarketUSVenue
from predarb.venues.polymarket_us.orders import FeeMismatch
from tests.fakes.polymarket_us_server import FakePolymarketUS
from tests.venues.polymarket_us.conftest import SLUG

D = Decimal


async def _contracts(venue: PolymarketUSVenue):  # type: ignore[no-untyped-def]
    [market] = [m for m in await venue.list_markets() if m.market_id == SLUG]
    return market, market.contracts[0], market.contracts[1]


async def test_markets_have_a_long_and_a_short_contract_with_fees_ticks_and_lots(
    venue: PolymarketUSVenue, fake: FakePolymarketUS
) -> None:
    fake.add_market("closed-one", status="MARKET_STATUS_CLOSED")
    market, long_c, short_c = await _contracts(venue)
    assert [m.market_id for m in await venue.list_markets()] == [SLUG]
    assert (long_c.side, long_c.token_id, short_c.side, short_c.token_id) == (
        "Lakers",
        "long",
        "Celtics",
        "short",
    )
    assert market.venue is Venue.POLYMARKET_US and market.status is MarketStatus.OPEN
    assert market.fee is not None and market.fee.rate == D("0.003")
    assert (market.tick_size, market.min_order_size) == (D("0.01"), D(1))


async def test_the_short_book_mirrors_the_long_book(venue: PolymarketUSVenue) -> None:
    _, long_c, short_c = await _contracts(venue)
    books = await venue.get_order_books([long_c, short_c])
    assert [(lv.price, lv.size) for lv in books[long_c].asks] == [(D("0.45"), 5), (D("0.50"), 20)]
    assert [(lv.price, lv.size) for lv in books[long_c].bids] == [(D("0.40"), 10), (D("0.38"), 30)]
    assert [(lv.price, lv.size) for lv in books[short_c].asks] == [(D("0.60"), 10), (D("0.62"), 30)]
    assert [(lv.price, lv.size) for lv in books[short_c].bids] == [(D("0.55"), 5), (D("0.50"), 20)]


async def test_a_no_leg_is_sent_at_the_long_side_price(
    venue: PolymarketUSVenue, fake: FakePolymarketUS, mismatches: list[FeeMismatch]
) -> None:
    _, _, short_c = await _contracts(venue)
    result = await venue.place_order(OrderRequest("c-1", short_c, Action.BUY, D("0.60"), D(10)))
    body = fake.order_bodies[-1]
    assert (body["intent"], body["price"]["value"], body["quantity"]) == (
        "ORDER_INTENT_BUY_SHORT",
        "0.40",
        10,
    )
    assert body["tif"] == "TIME_IN_FORCE_FILL_OR_KILL" and body["synchronousExecution"] is True
    assert result.status is OrderStatus.FILLED and result.filled == 10
    assert result.avg_price == D("0.60")  # the NO price paid, not the long side's 0.40
    # 0.003 × 10 × 0.60 = 0.018 -> 0.02; the reported commission agrees.
    assert result.fee == D("0.02") and mismatches == []
    assert fake.exchange.balance == D("100") - D("6.00") - D("0.02")
    [position] = await venue.get_positions()
    assert (position.contract, position.contracts) == (short_c, D(10))


async def test_fok_is_killed_and_ioc_fills_what_it_can(
    venue: PolymarketUSVenue, fake: FakePolymarketUS
) -> None:
    _, long_c, _ = await _contracts(venue)
    killed = await venue.place_order(OrderRequest("c-fok", long_c, Action.BUY, D("0.45"), D(6)))
    assert killed.status is OrderStatus.CANCELED and killed.filled == 0
    ioc = OrderRequest("c-ioc", long_c, Action.BUY, D("0.45"), D(6), TimeInForce.IOC)
    part = await venue.place_order(ioc)
    assert part.status is OrderStatus.PARTIAL and part.filled == 5
    assert part.avg_price == D("0.45")


@pytest.mark.parametrize(
    ("price", "contracts", "why"),
    [(D("0.455"), D(5), "grid"), (D("0.45"), D("2.5"), "whole"), (D("0.45"), D(0), "multiple")],
)
async def test_off_tick_prices_and_bad_lots_are_refused_before_sending(
    venue: PolymarketUSVenue, fake: FakePolymarketUS, price: Decimal, contracts: Decimal, why: str
) -> None:
    _, long_c, _ = await _contracts(venue)
    order = OrderRequest("c-bad", long_c, Action.BUY, price, contracts)
    with pytest.raises(OrderRejected, match=why):
        await venue.prepare(order)
    assert (await venue.place_order(order)).status is OrderStatus.REJECTED
    assert fake.order_posts == 0


async def test_a_lot_of_ten_is_enforced(venue: PolymarketUSVenue, fake: FakePolymarketUS) -> None:
    fake.add_market("lots", "Lots", min_qty="10", tick="0.05")
    fake.set_book("lots", offers=[("0.50", 100)])
    market = await venue.market("lots")
    order = OrderRequest("c-lot", market.contracts[0], Action.BUY, D("0.50"), D(15))
    with pytest.raises(OrderRejected):
        await venue.prepare(order)
    ok = await venue.place_order(
        OrderRequest("c-lot2", market.contracts[0], Action.BUY, D("0.50"), D(20))
    )
    assert ok.status is OrderStatus.FILLED


async def test_a_commission_other_than_the_coefficients_is_reported(
    venue: PolymarketUSVenue, fake: FakePolymarketUS, mismatches: list[FeeMismatch]
) -> None:
    _, long_c, _ = await _contracts(venue)
    fake.exchange.fee_skew = D("0.01")
    await venue.place_order(OrderRequest("c-fee", long_c, Action.BUY, D("0.45"), D(5)))
    [m] = mismatches
    assert (m.expected, m.reported) == (D("0.01"), D("0.02"))  # 0.003 × 5 × 0.45 = 0.00675
    assert "fee mismatch" in m.describe()


async def test_a_lost_answer_is_found_without_a_second_order(
    venue: PolymarketUSVenue, fake: FakePolymarketUS
) -> None:
    _, _, short_c = await _contracts(venue)
    order = OrderRequest("c-lost", short_c, Action.BUY, D("0.60"), D(10))
    fake.drop_next_order_reply()
    with pytest.raises(OrderStateUnknown):
        await venue.place_order(order)
    found = await venue.get_order("c-lost")
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled == 10 and found.avg_price == D("0.60")
    assert [f.price for f in found.fills] == [D("0.60")]
    assert fake.order_posts == 1


async def test_a_lost_answer_of_a_killed_order_is_not_found(
    venue: PolymarketUSVenue, fake: FakePolymarketUS
) -> None:
    _, long_c, _ = await _contracts(venue)
    fake.drop_next_order_reply()
    with pytest.raises(OrderStateUnknown):
        await venue.place_order(OrderRequest("c-k", long_c, Action.BUY, D("0.45"), D(50)))
    assert await venue.get_order("c-k") is None
    assert fake.order_posts == 1


async def test_settlement_credits_the_payout(
    venue: PolymarketUSVenue, fake: FakePolymarketUS
) -> None:
    _, _, short_c = await _contracts(venue)
    await venue.place_order(OrderRequest("c-s", short_c, Action.BUY, D("0.60"), D(10)))
    assert await venue.get_resolution(SLUG) is None
    before = await venue.get_balance()
    fake.settle(SLUG, "0")  # the Celtics win: the short side pays $1
    resolution = await venue.get_resolution(SLUG)
    assert resolution is not None
    assert resolution.payout(short_c) == 1 and resolution.payouts["Lakers"] == 0
    assert await venue.get_balance() == before + 10
    assert await venue.get_positions() == []


async def test_order_lookup_and_cancel_by_venue_id(
    venue: PolymarketUSVenue, fake: FakePolymarketUS
) -> None:
    _, long_c, _ = await _contracts(venue)
    done = await venue.place_order(OrderRequest("c-id", long_c, Action.BUY, D("0.45"), D(5)))
    again = await venue.get_order("someone-else", done.venue_order_id)
    assert again is not None and again.status is OrderStatus.FILLED and again.filled == 5
    await venue.cancel_order(done.venue_order_id)  # already done: not an error
    await venue.cancel_order("ord-unknown")
    assert await venue.open_orders() == []


async def test_market_data_needs_no_key(fake: FakePolymarketUS) -> None:
    fake.add_market(SLUG, "Lakers vs Celtics")
    fake.set_book(SLUG, offers=[("0.45", 5)])
    public = PolymarketUSVenue(fake.url, fake.url)
    try:
        [market] = await public.list_markets()
        assert await public.get_order_books(list(market.contracts))
        assert await public.health()
    finally:
        await public.close()
    assert not any(signed for _, _, signed in fake.requests)


def test_positions_are_reconciled_per_market_as_long_minus_short() -> None:
    from predarb.reconcile import position_key

    a_long = position_key(Venue.POLYMARKET_US, "a", "Lakers", "long")
    b_long = position_key(Venue.POLYMARKET_US, "b", "Yes", "long")
    a_short = position_key(Venue.POLYMARKET_US, "a", "Celtics", "short")
    assert a_long[0] != b_long[0]
    assert a_long[0] == a_short[0] and (a_long[1], a_short[1]) == (1, -1)


async def test_an_open_markets_settlement_value_is_not_trusted(
    venue: PolymarketUSVenue, fake: FakePolymarketUS
) -> None:
    fake.exchange.markets[SLUG].settlement = D(0)  # answered, though still trading
    assert await venue.get_resolution(SLUG) is None


def test_the_order_body_has_the_sdks_shape() -> None:
    """Every field we send is one of the SDK's ``CreateOrderParams`` with its type:
    ``maxBlockTime`` is a string (docs.polymarket.us: "maximum block time in
    seconds"), sent as whole seconds."""
    from typing import get_args, get_origin, get_type_hints

    from polymarket_us.types import CreateOrderParams

    from predarb.domain import Contract
    from predarb.venues.polymarket_us.orders import order_body

    hints = get_type_hints(CreateOrderParams)
    contract = Contract(Venue.POLYMARKET_US, SLUG, "Celtics", "short")
    order = OrderRequest("c-1", contract, Action.BUY, D("0.45"), D(10), TimeInForce.IOC)
    body = order_body(order, 5)
    for key, value in body.items():
        assert key in hints, key
        hint = hints[key]
        if str(get_origin(hint)) == "typing.Literal":
            assert value in get_args(hint), (key, value)
        elif hint == int | float:
            assert isinstance(value, int)
        elif hint in (str, bool):
            assert isinstance(value, hint), (key, value, hint)
        else:  # an Amount: {"value", "currency"}
            assert set(value) == set(get_type_hints(hint)), (key, value)
    assert body["maxBlockTime"] == "5" and body["synchronousExecution"] is True
    assert order_body(order, 2.9)["maxBlockTime"] == "2"  # whole seconds, never more
