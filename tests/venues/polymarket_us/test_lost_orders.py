"""Orders whose answer was lost, found again on the fake exchange over loopback HTTP:
after a restart (by the lookup key recorded before sending), resting among the open
orders, and never confused with a trade that is not the order's."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from predarb.domain import Action, Contract, OrderRequest, OrderStatus, TimeInForce
from predarb.venues.base import OrderStateUnknown, VenueError
from predarb.venues.polymarket_us import PolymarketUSVenue
from predarb.venues.polymarket_us.lookup import Lookup
from predarb.venues.polymarket_us.orders import FeeMismatch
from tests.fakes.polymarket_us_server import FakePolymarketUS
from tests.venues.polymarket_us.conftest import SLUG

D = Decimal
Restart = Callable[[], PolymarketUSVenue]


async def _sides(venue: PolymarketUSVenue) -> tuple[Contract, Contract]:
    market = await venue.market(SLUG)
    return market.contracts[0], market.contracts[1]


async def _lost(venue: PolymarketUSVenue, fake: FakePolymarketUS, order: OrderRequest) -> str:
    """Send ``order`` the way the placer does (prepare, record, send) with its answer
    lost; returns what the placer records as its venue id."""
    recorded = await venue.prepare(order)
    fake.drop_next_order_reply()
    with pytest.raises(OrderStateUnknown) as lost:
        await venue.place_order(order)
    assert lost.value.venue_order_id.startswith("lookup:")  # type: ignore[attr-defined]
    return recorded


async def test_a_lost_answer_is_found_after_a_restart_by_the_key_recorded_before_sending(
    restart: Restart, fake: FakePolymarketUS
) -> None:
    venue = restart()
    _, short_c = await _sides(venue)
    order = OrderRequest("c-lost", short_c, Action.BUY, D("0.60"), D(10))
    recorded = await _lost(venue, fake, order)
    key = Lookup.parse(recorded)
    assert key is not None and key.slug == SLUG and key.long_price == D("0.40")
    assert key.quantity == 10 and key.tif is TimeInForce.FOK

    after = restart()  # nothing in memory: only what the store recorded
    found = await after.get_order("c-lost", recorded)
    assert found is not None and found.status is OrderStatus.FILLED
    assert (found.filled, found.avg_price) == (10, D("0.60"))
    assert [(f.contract, f.price, f.contracts) for f in found.fills] == [(short_c, D("0.60"), 10)]
    assert fake.order_posts == 1


async def test_with_nothing_to_look_by_the_answer_is_cannot_tell_never_not_found(
    restart: Restart, fake: FakePolymarketUS
) -> None:
    venue = restart()
    long_c, _ = await _sides(venue)
    await _lost(venue, fake, OrderRequest("c-x", long_c, Action.BUY, D("0.45"), D(5)))
    after = restart()
    for recorded in ("", "c-x"):  # no key recorded (prepare failed, an older row)
        with pytest.raises(VenueError) as told:
            await after.get_order("c-x", recorded)
        assert told.value.code == "cannot_tell"


async def test_an_order_left_resting_is_found_among_the_open_orders_and_cancelled(
    restart: Restart, fake: FakePolymarketUS
) -> None:
    venue = restart()
    long_c, _ = await _sides(venue)
    # Someone's resting order on the same market: another quantity, not ours.
    other = {
        "marketSlug": SLUG,
        "intent": "ORDER_INTENT_BUY_LONG",
        "type": "ORDER_TYPE_LIMIT",
        "price": {"value": "0.45", "currency": "USD"},
        "quantity": 3,
        "tif": "TIME_IN_FORCE_IMMEDIATE_OR_CANCEL",
    }
    foreign, _ = fake.exchange.place(other, fake.clock(), rest=True)
    order = OrderRequest("c-rest", long_c, Action.BUY, D("0.45"), D(5), TimeInForce.IOC)
    fake.rest_next_order()
    recorded = await _lost(venue, fake, order)

    after = restart()
    found = await after.get_order("c-rest", recorded)
    assert found is not None and found.status is OrderStatus.OPEN
    assert found.venue_order_id not in ("", foreign.id)
    await after.cancel_order(found.venue_order_id)
    done = await after.get_order("c-rest", found.venue_order_id)
    assert done is not None and done.status is OrderStatus.CANCELED and done.filled == 0
    assert fake.exchange.orders[foreign.id].state == "ORDER_STATE_NEW"  # left alone
    assert fake.order_posts == 1


async def test_a_manual_trade_on_the_same_market_is_never_taken_for_the_order(
    restart: Restart, fake: FakePolymarketUS
) -> None:
    """A trade says neither its order nor its direction: one the order could not have
    made (before it left, past its limit, on another market, busted) is never its."""
    venue = restart()
    long_c, _ = await _sides(venue)
    fake.add_market("other-market", "Other")
    fake.manual_trade(SLUG, "0.45", 50, ago_s=60)  # at our price, a minute before we sent
    # A FOK for 50 the book cannot fill: killed, no trade of its own.
    order = OrderRequest("c-k", long_c, Action.BUY, D("0.45"), D(50))
    recorded = await _lost(venue, fake, order)
    fake.manual_trade(SLUG, "0.55", 50)  # a buy over our limit of 0.45
    fake.manual_trade("other-market", "0.40", 50)
    busted = fake.manual_trade(SLUG, "0.44", 50)
    fake.exchange.busted.add(busted)
    assert await restart().get_order("c-k", recorded) is None  # no trace: nothing claimed


async def test_a_trade_alike_beside_the_order_makes_it_cannot_tell(
    restart: Restart, fake: FakePolymarketUS
) -> None:
    venue = restart()
    long_c, _ = await _sides(venue)
    order = OrderRequest("c-two", long_c, Action.BUY, D("0.50"), D(10))
    recorded = await _lost(venue, fake, order)  # filled: 5 @ 0.45 and 5 @ 0.50
    fake.manual_trade(SLUG, "0.48", 4)  # a buy the order's limit allows, just after
    with pytest.raises(VenueError) as told:
        await restart().get_order("c-two", recorded)
    assert told.value.code == "cannot_tell"


async def test_the_trades_are_read_page_by_page_back_to_when_the_order_left(
    restart: Restart, fake: FakePolymarketUS
) -> None:
    venue = restart()
    _, short_c = await _sides(venue)
    recorded = await _lost(venue, fake, OrderRequest("c-p", short_c, Action.BUY, D("0.60"), D(10)))
    for _ in range(130):  # later trades under its limit: the order's is on the second page
        fake.manual_trade(SLUG, "0.35", 1)
    found = await restart().get_order("c-p", recorded)
    assert found is not None and found.status is OrderStatus.FILLED and found.filled == 10
    cursors = [p for m, p, _ in fake.requests if p == "/v1/portfolio/activities"]
    assert len(cursors) >= 2


async def test_a_commission_read_by_id_is_checked_too(
    restart: Restart, fake: FakePolymarketUS, mismatches: list[FeeMismatch]
) -> None:
    venue = restart()
    long_c, _ = await _sides(venue)
    fake.exchange.fee_skew = D("0.01")
    done = await venue.place_order(OrderRequest("c-f", long_c, Action.BUY, D("0.50"), D(10)))
    assert len(mismatches) == 2  # each fill of the answer
    mismatches.clear()

    again = await restart().get_order("c-f", done.venue_order_id)  # after a restart
    assert again is not None and again.status is OrderStatus.FILLED
    assert [(f.price, f.contracts) for f in again.fills] == [(D("0.45"), 5), (D("0.50"), 5)]
    [m] = mismatches
    # 0.003 × 5 × 0.45 -> 0.01 and 0.003 × 5 × 0.50 -> 0.01 (half to even); two cents more.
    assert (m.expected, m.reported, m.contracts) == (D("0.02"), D("0.04"), D(10))
