"""Malformed venue bodies never become a price, a book or a fill."""

from __future__ import annotations

import contextlib
from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predarb.domain import Contract, MarketStatus, Venue
from predarb.venues.polymarket import wire

TOKEN = "123456789"
CONTRACT = Contract(Venue.POLYMARKET, "m", "Yes", TOKEN)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["NaN", "Infinity", "-1", "1.5", "", "0x10", "1e400", "5"]),
    st.lists(st.integers(), max_size=2),
)
level = st.fixed_dictionaries({"price": junk, "size": junk})
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(bids=st.lists(level, max_size=4), asks=st.lists(level, max_size=4), tick=junk, ts=junk)
def test_book_levels_always_sane(bids: list[Any], asks: list[Any], tick: Any, ts: Any) -> None:
    raw = {"asset_id": TOKEN, "bids": bids, "asks": asks, "tick_size": tick, "timestamp": ts}
    try:
        book = wire.book(raw, CONTRACT)
    except wire.WireError:
        return
    for lv in book.bids + book.asks:
        assert lv.price.is_finite() and D(0) <= lv.price <= D(1)
        assert lv.size.is_finite() and lv.size >= 0
    assert book.tick_size in wire.VALID_TICKS
    assert list(book.bids) == sorted(book.bids, key=lambda lv: -lv.price)


@FAST
@given(body=st.one_of(junk, st.dictionaries(st.sampled_from(["bids", "asks", "asset_id"]), junk)))
def test_book_body_shapes(body: Any) -> None:
    with contextlib.suppress(wire.WireError):
        wire.book(body, CONTRACT)


@FAST
@given(
    making=junk,
    taking=junk,
    status=st.sampled_from(["matched", "live", "", "MATCHED"]),
    trade_ids=st.one_of(junk, st.lists(st.text(max_size=3), max_size=2)),
)
def test_order_reply_amounts_sane(making: Any, taking: Any, status: str, trade_ids: Any) -> None:
    raw = {"success": True, "status": status, "makingAmount": making, "takingAmount": taking}
    raw["tradeIDs"] = trade_ids
    try:
        posted = wire.posted_order(raw, making_bound=D(5), taking_bound=D(10))
    except wire.WireError:
        return
    for value in (posted.making, posted.taking):
        assert value.is_finite() and value >= 0


@FAST
@given(
    price=junk,
    size=junk,
    side=st.sampled_from(["BUY", "SELL", "buy", "", "HOLD"]),
    status=junk,
    rate=junk,
)
def test_trades_sane(price: Any, size: Any, side: str, status: Any, rate: Any) -> None:
    raw = {"id": "t", "side": side, "price": price, "size": size, "status": status}
    raw["fee_rate_bps"] = raw["match_time"] = rate
    try:
        t = wire.trade(raw, address="0x1")
    except wire.WireError:
        return
    assert D(0) <= t.price <= 1 and t.size >= 0 and t.fee >= 0
    assert t.side in ("BUY", "SELL")


@FAST
@given(
    outcomes=junk,
    tokens=junk,
    tick=junk,
    min_size=junk,
    fee=st.one_of(junk, st.fixed_dictionaries({"rate": junk, "exponent": junk})),
    prices=junk,
)
def test_gamma_market_sane(
    outcomes: Any, tokens: Any, tick: Any, min_size: Any, fee: Any, prices: Any
) -> None:
    raw = {
        "id": "1",
        "outcomes": outcomes,
        "clobTokenIds": tokens,
        "orderPriceMinTickSize": tick,
        "orderMinSize": min_size,
        "feeSchedule": fee,
        "feesEnabled": True,
        "outcomePrices": prices,
        "closed": True,
        "umaResolutionStatus": "resolved",
    }
    try:
        market = wire.gamma_market(raw)
        res = wire.resolution(raw)
    except wire.WireError:
        return
    assert market.status is MarketStatus.SETTLED
    assert market.tick_size in wire.VALID_TICKS and market.min_order_size >= 0
    assert market.fee is not None and D(0) <= market.fee.rate <= 1
    assert all(c.token_id.isdigit() for c in market.contracts)
    if res is not None:
        assert all(p in (D(0), D("0.5"), D(1)) for p in res.payouts.values())


@FAST
@given(items=st.lists(st.one_of(junk, st.dictionaries(st.text(max_size=4), junk)), max_size=4))
def test_market_lists_skip_bad_items(items: list[Any]) -> None:
    assert wire.gamma_markets(items) == [] or all(m.market_id for m in wire.gamma_markets(items))
