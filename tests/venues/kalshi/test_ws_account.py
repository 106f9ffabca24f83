"""The account and lifecycle channels over a real loopback WebSocket: ``user_orders``
and ``fill`` news of our orders (a lost reply found by id, a waiter woken as soon as the
order is done), and ``market_lifecycle_v2``: a new market's shard used for its orders,
an ``event_fee_update`` priced by ``Market.fee_at`` and charged by the fake from that
moment, determination and settlement; and ``fee_waiver_expiration_time``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predarb.arbitrage.fees import taker_fee
from predarb.domain import (
    Action,
    Contract,
    Market,
    MarketStatus,
    OrderRequest,
    OrderStatus,
    TimeInForce,
    Venue,
)
from predarb.execution.placer import resolve_unknown
from predarb.marketdata import StreamGap
from predarb.venues.base import OrderStateUnknown
from predarb.venues.kalshi import KalshiVenue
from predarb.venues.kalshi.ws_account import (
    EventFeeNews,
    EventNews,
    MarketNews,
    parse_account_frame,
)
from tests.fakes.kalshi_exchange import rfc3339
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.ws_kalshi import FakeKalshiWs

pytestmark = pytest.mark.timeout(30)
D = Decimal
TICKER = "KXTEST-26DEC31-A"
EVENT = "KXTEST-26DEC31"
YES = Contract(Venue.KALSHI, TICKER, "yes")


@dataclass
class Rig:
    rest: FakeKalshi
    ws: FakeKalshiWs
    venue: KalshiVenue
    told: list[tuple[str, list[Market]]] = field(default_factory=list)
    expected: int = 0  # news items the test's actions have caused so far

    async def news(self, n: int) -> None:
        """Until the adapter has had the ``n`` news items of the last action."""
        stream = self.venue.account_stream
        assert stream is not None
        self.expected += n
        await stream.wait_received(self.expected)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with FakeKalshi() as rest, FakeKalshiWs(rest, ping_interval_s=0.5) as ws:
        key_id = rest.new_key(tmp_path / "k.pem")
        rest.add_market(TICKER)
        rest.set_book(TICKER, yes=[("0.40", 10)], no=[("0.55", 5), ("0.50", 20)])
        rest.exchange.balance = D(100)
        venue = KalshiVenue(
            rest.base_url, key_id, tmp_path / "k.pem", ws_url=ws.url, user_stream=True
        )
        r = Rig(rest, ws, venue)
        venue.watch_markets(lambda kind, ms: r.told.append((kind, list(ms))))
        await venue.connect()
        assert venue.account_stream is not None
        await asyncio.wait_for(venue.account_stream.subscribed.wait(), 10)
        try:
            yield r
        finally:
            await venue.close()


def buy(coid: str, price: str = "0.45", count: str = "3", ticker: str = TICKER) -> OrderRequest:
    contract = Contract(Venue.KALSHI, ticker, "yes")
    return OrderRequest(coid, contract, Action.BUY, D(price), D(count), TimeInForce.FOK)


async def test_one_subscription_to_the_three_channels(rig: Rig) -> None:
    (params,) = rig.ws.subscribe_params
    assert params == {"channels": ["fill", "user_orders", "market_lifecycle_v2"]}
    for channel in ("fill", "user_orders", "market_lifecycle_v2"):
        assert rig.ws.account.subscribed(channel) == 1


async def test_order_and_fill_news_reach_the_adapter(rig: Rig) -> None:
    waiting = asyncio.create_task(rig.venue.wait_order_news("c-1", "", 60))
    result = await rig.venue.place_order(buy("c-1"))
    assert result.status is OrderStatus.FILLED
    assert await waiting  # woken by the news, long before 60 s
    await rig.news(2)  # the fill and the user_order
    news = rig.venue.news
    assert news.venue_ids["c-1"] == result.venue_order_id
    assert news.status[result.venue_order_id] == "executed"
    (fill,) = news.fills[result.venue_order_id].values()
    rest_fill = rig.rest.exchange.fills[-1]
    assert fill.price == D("0.45") and fill.contracts == 3
    assert fill.fee == D(rest_fill["fee_cost"]) == D("0.0520")
    assert fill.contract == YES and fill.fill_id == rest_fill["trade_id"]


async def test_a_lost_reply_is_looked_up_by_the_id_the_stream_gave(rig: Rig) -> None:
    rig.rest.drop_next_order_reply()
    with pytest.raises(OrderStateUnknown):
        await rig.venue.place_order(buy("lost-1"))
    await rig.news(2)
    before = len(rig.rest.requests)
    found = await resolve_unknown(rig.venue, buy("lost-1"))
    assert (found.status, found.filled) == (OrderStatus.FILLED, 3)
    paths = [p for _, p, _ in rig.rest.requests[before:]]
    assert paths == [f"/portfolio/orders/{found.venue_order_id}"]  # no scan of every order


async def test_a_market_created_on_shard_3_takes_its_orders_there(rig: Rig) -> None:
    ticker = "KXATPMATCH-26DEC31-B"
    await rig.ws.account.create_market(ticker, exchange_index=3)
    await rig.news(1)
    rig.rest.set_book(ticker, no=[("0.55", 5)])
    rig.rest.exchange.balances[3] = D(10)
    before = len(rig.rest.requests)
    result = await rig.venue.place_order(buy("c-3", ticker=ticker))
    assert result.status is OrderStatus.FILLED
    # The order named shard 3 and needed no read of the market first.
    assert [p for _, p, _ in rig.rest.requests[before:]] == ["/portfolio/events/orders"]
    (order,) = [o for o in rig.rest.exchange.orders.values() if o.client_order_id == "c-3"]
    assert order.exchange_index == 3


async def test_an_event_fee_update_is_priced_and_charged_from_that_moment(rig: Rig) -> None:
    (market,) = await rig.venue.fetch_markets(tickers=[TICKER])
    before = market.fee_at(datetime.now(UTC))
    assert before is not None and before.rate == D("0.07")
    await rig.ws.account.event_fee_update(EVENT, "quadratic", 2)
    await rig.news(1)
    ((kind, (changed,)),) = rig.told
    assert kind == "fee" and changed.market_id == TICKER
    fee = changed.fee_at(datetime.now(UTC))
    assert fee is not None and fee.rate == D("0.14")
    await rig.venue.place_order(buy("c-fee"))
    await rig.news(2)  # its fill and user_order
    charged = D(rig.rest.exchange.fills[-1]["fee_cost"])
    assert charged == taker_fee(fee, D(3), D("0.45")) == D("0.1040")
    # Cleared: the series fee again, for what prices and for what is charged.
    await rig.ws.account.event_fee_update(EVENT, None, None)
    await rig.news(1)
    cleared = rig.told[-1][1][0].fee_at(datetime.now(UTC))
    assert cleared is not None and cleared.rate == D("0.07")
    # A later listing keeps the cleared override (nothing scheduled masks it).
    (again,) = await rig.venue.fetch_markets(tickers=[TICKER])
    assert again.fee_at(datetime.now(UTC)) == cleared


async def test_pause_determination_and_settlement_reach_the_watchers(rig: Rig) -> None:
    await rig.venue.fetch_markets(tickers=[TICKER])
    await rig.ws.account.pause(TICKER, True)
    await rig.news(1)
    await rig.ws.account.pause(TICKER, False)
    await rig.news(1)
    await rig.ws.account.determine(TICKER, "yes")
    await rig.news(1)
    await rig.ws.account.settle(TICKER, "yes")
    await rig.news(1)
    seen: Sequence[tuple[str, MarketStatus]] = [(k, ms[0].status) for k, ms in rig.told]
    assert seen == [
        ("deactivated", MarketStatus.PAUSED),
        ("activated", MarketStatus.OPEN),
        ("determined", MarketStatus.CLOSED),
        ("settled", MarketStatus.SETTLED),
    ]
    assert (await rig.venue.get_resolution(TICKER)) is not None


async def test_a_fee_waiver_is_free_until_it_expires(rig: Rig) -> None:
    ends = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    rig.rest.exchange.markets[TICKER]["fee_waiver_expiration_time"] = rfc3339(ends)
    (market,) = await rig.venue.fetch_markets(tickers=[TICKER])
    waived = market.fee_at(datetime.now(UTC))
    after = market.fee_at(ends)
    assert waived is not None and waived.rate == 0
    assert after is not None and after.rate == D("0.07")
    await rig.venue.place_order(buy("c-waived"))
    assert D(rig.rest.exchange.fills[-1]["fee_cost"]) == 0 == taker_fee(waived, D(3), D("0.45"))


async def test_a_broken_stream_wakes_waiters_and_reconnects(rig: Rig) -> None:
    stream = rig.venue.account_stream
    assert stream is not None
    waiting = asyncio.create_task(rig.venue.wait_order_news("never", "", 60))
    await asyncio.sleep(0)
    await rig.ws.disconnect()
    assert await waiting  # woken: news may have been missed, look it up now
    await asyncio.wait_for(stream.subscribed.wait(), 10)
    assert stream.connections == 2 and stream.breaks == 1


# --- frames to news (no I/O) -------------------------------------------------------------

# The AsyncAPI examples of docs.kalshi.com (websockets/market-and-event-lifecycle.md).
DOC_CREATED = {
    "type": "market_lifecycle_v2",
    "sid": 13,
    "msg": {
        "market_ticker": "INXD-23SEP14-B4487",
        "event_type": "created",
        "exchange_index": 0,
        "open_ts": 1694635200,
        "close_ts": 1694721600,
        "price_level_structure": "linear_cent",
        "additional_metadata": {"event_ticker": "INXD-23SEP14", "can_close_early": True},
    },
}
DOC_EVENT = {
    "type": "event_lifecycle",
    "sid": 5,
    "msg": {
        "event_ticker": "KXQUICKSETTLE-26JAN25H2150",
        "exchange_index": 0,
        "title": "What will 1+1 equal on Jan 25 at 21:50?",
        "subtitle": "Jan 25 at 21:50",
        "collateral_return_type": "MECNET",
        "series_ticker": "KXQUICKSETTLE",
    },
}
DOC_FEE = {
    "type": "event_fee_update",
    "sid": 5,
    "msg": {
        "event_ticker": "KXBTCD-26MAY2018",
        "fee_type_override": "quadratic",
        "fee_multiplier_override": 1,
    },
}


def test_doc_examples_parse() -> None:
    (created,) = parse_account_frame(json.dumps(DOC_CREATED))
    assert isinstance(created, MarketNews)
    assert (created.kind, created.ticker, created.event_ticker) == (
        "created",
        "INXD-23SEP14-B4487",
        "INXD-23SEP14",
    )
    assert created.exchange_index == 0 and created.close_time == datetime.fromtimestamp(
        1694721600, UTC
    )
    (event,) = parse_account_frame(json.dumps(DOC_EVENT))
    assert event == EventNews("KXQUICKSETTLE-26JAN25H2150", "KXQUICKSETTLE", 0)
    (fee,) = parse_account_frame(json.dumps(DOC_FEE))
    assert isinstance(fee, EventFeeNews) and fee.override is not None
    assert fee.override.pair == ("quadratic", D(1))
    assert parse_account_frame(json.dumps({"type": "subscribed", "msg": {"sid": 1}})) == []
    with pytest.raises(StreamGap, match="Already subscribed"):
        parse_account_frame('{"id":1,"type":"error","msg":{"code":6,"msg":"Already subscribed"}}')


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
FIELDS = st.sampled_from(
    [
        "order_id",
        "client_order_id",
        "ticker",
        "market_ticker",
        "status",
        "book_side",
        "yes_price_dollars",
        "count_fp",
        "fee_cost",
        "event_type",
        "event_ticker",
        "exchange_index",
        "price_ranges",
        "settlement_value",
        "fee_multiplier_override",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(
        ["user_order", "fill", "market_lifecycle_v2", "event_lifecycle", "event_fee_update"]
    ),
    msg=st.dictionaries(FIELDS, json_values) | json_values,
)
def test_any_message_gives_news_or_nothing(kind: str, msg: object) -> None:
    """Whatever a message holds, it is news or skipped; only an error frame or a frame
    that is not JSON ends the session."""
    news = parse_account_frame(json.dumps({"type": kind, "sid": 1, "msg": msg}))
    assert len(news) <= 1
