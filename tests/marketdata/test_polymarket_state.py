"""PolymarketBookState: recorded book events, price changes, and the best bid/ask check."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predarb.domain import Contract, Level, Venue
from predarb.marketdata import StreamGap
from predarb.venues.polymarket.ws import PolymarketBookState, ws_url
from tests.paths import POLYMARKET_FIXTURES as FIXTURES

TOKEN = "123"


def contract(token: str) -> Contract:
    return Contract(Venue.POLYMARKET, "m1", "Yes", token)


def state_for(*tokens: str) -> PolymarketBookState:
    return PolymarketBookState({t: contract(t) for t in tokens}, lambda _t: Decimal(5))


def book_event(token: str = TOKEN) -> dict[str, Any]:
    return {
        "event_type": "book",
        "market": "0xabc",
        "asset_id": token,
        "timestamp": "1786604072222",
        "hash": "x",
        "bids": [{"price": "0.38", "size": "50"}, {"price": "0.40", "size": "100"}],
        "asks": [{"price": "0.47", "size": "30"}, {"price": "0.45", "size": "20"}],
    }


def change(price: str, size: str, side: str, best_bid: str, best_ask: str) -> str:
    item = {"asset_id": TOKEN, "price": price, "size": size, "side": side, "hash": "h"}
    item |= {"best_bid": best_bid, "best_ask": best_ask}
    event = {"event_type": "price_change", "market": "0xabc", "timestamp": "1"}
    return json.dumps(event | {"price_changes": [item]})


@pytest.mark.parametrize(
    "name, bid, ask",
    [
        ("ws_market__book_snapshot_2026-01.json", "0.992", "0.993"),
        ("ws_market__book_snapshot_2026-08.json", "0.07", "0.08"),
    ],
)
def test_recorded_book_events_give_best_first_books(name: str, bid: str, ask: str) -> None:
    raw = json.loads((FIXTURES / name).read_text())
    state = state_for(raw["asset_id"])
    (book,) = state.feed(json.dumps(raw))
    assert book.best_bid is not None and book.best_bid.price == Decimal(bid)
    assert book.best_ask is not None and book.best_ask.price == Decimal(ask)
    assert book.min_order_size == Decimal(5)


def test_price_changes_set_totals_and_an_array_is_one_frame() -> None:
    state = state_for(TOKEN, "456")
    books = state.feed(json.dumps([book_event(), book_event("456")]))
    assert len(books) == 2
    (b,) = state.feed(change("0.44", "7", "SELL", "0.40", "0.44"))
    assert b.asks[:2] == (Level(Decimal("0.44"), Decimal(7)), Level(Decimal("0.45"), Decimal(20)))
    (b,) = state.feed(change("0.40", "0", "BUY", "0.38", "0.44"))
    assert b.bids == (Level(Decimal("0.38"), Decimal(50)),)
    assert state.feed("PONG") == []


@pytest.mark.parametrize(
    "frame, reason",
    [
        (change("0.44", "7", "SELL", "0.41", "0.44"), "best_bid"),
        (change("0.41", "7", "BUY", "0.41", "0.40"), "best_ask"),
        (change("0.46", "7", "BUY", "0.46", "0.45"), "crossed"),
        (change("0.44", "-1", "SELL", "0.40", "0.44"), "bad price_change"),
        (change("0.44", "1", "HOLD", "0.40", "0.44"), "side"),
        ("{", "unreadable"),
        ("[1]", "not an object"),
    ],
)
def test_untrustworthy_changes_raise_stream_gap(frame: str, reason: str) -> None:
    state = state_for(TOKEN)
    state.feed(json.dumps(book_event()))
    with pytest.raises(StreamGap, match=reason):
        state.feed(frame)


def test_a_change_before_its_snapshot_is_a_gap_and_other_tokens_are_ignored() -> None:
    state = state_for(TOKEN)
    with pytest.raises(StreamGap, match="before its snapshot"):
        state.feed(change("0.44", "7", "SELL", "0.40", "0.44"))
    assert state.feed(json.dumps(book_event("999"))) == []


def test_ws_url() -> None:
    assert ws_url("https://clob.polymarket.com") == (
        "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    )
    assert ws_url("http://127.0.0.1:9000") == "ws://127.0.0.1:9000/ws/market"


levels = st.lists(
    st.fixed_dictionaries(
        {"price": st.sampled_from(["0.1", "0.5", "2", "-1", "x", ""]), "size": st.text(max_size=4)}
    ),
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["book", "price_change", "tick_size_change", "last_trade_price"]),
    bids=levels,
    changes=st.lists(
        st.dictionaries(
            st.sampled_from(["asset_id", "price", "size", "side"]),
            st.sampled_from([TOKEN, "0.3", "0", "BUY", "SELL", "1e9"]),
        ),
        max_size=3,
    ),
)
def test_arbitrary_events_give_books_or_stream_gap(
    kind: str, bids: list[dict[str, str]], changes: list[dict[str, str]]
) -> None:
    state = state_for(TOKEN)
    state.feed(json.dumps(book_event()))
    event = {"event_type": kind, "asset_id": TOKEN, "timestamp": "1", "bids": bids, "asks": []}
    event["price_changes"] = changes
    try:
        books = state.feed(json.dumps(event))
    except StreamGap:
        return
    for b in books:
        assert all(0 <= lv.price <= 1 and lv.size > 0 for lv in b.bids + b.asks)
