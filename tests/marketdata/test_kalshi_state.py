"""KalshiBookState: recorded frames to books, sequence gaps and bad deltas to StreamGap."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predarb.domain import Level
from predarb.marketdata import StreamGap
from predarb.venues.kalshi.ws import KalshiBookState, ws_url
from tests.paths import KALSHI_FIXTURES as FIXTURES

TICKER = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"


def frames(name: str) -> list[str]:
    text = (FIXTURES / name).read_text()
    return [line for line in text.splitlines() if line.strip()]


def snapshot(seq: int = 1, yes: list[list[str]] | None = None) -> str:
    msg = {
        "market_ticker": "KX-A",
        "yes_dollars_fp": yes if yes is not None else [["0.4000", "10.00"]],
        "no_dollars_fp": [["0.5500", "5.00"]],
    }
    return json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": msg})


def delta(seq: int, price: str, amount: str, side: str = "yes", ticker: str = "KX-A") -> str:
    msg = {"market_ticker": ticker, "price_dollars": price, "delta_fp": amount, "side": side}
    return json.dumps({"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": msg})


def test_recorded_no_leg_stream_replays_to_the_expected_book() -> None:
    state = KalshiBookState()
    books = []
    for frame in frames("ws__orderbook_trade_noleg.jsonl"):
        books = state.feed(frame) or books
    yes, no = books
    assert yes.contract.market_id == TICKER and yes.contract.side == "yes"
    # Final state: YES bid 0.47 x 3, NO bid 0.48 x 1 -> YES ask 0.52, NO ask 0.53.
    assert yes.bids == (Level(Decimal("0.47"), Decimal(3)),)
    assert yes.asks == (Level(Decimal("0.52"), Decimal(1)),)
    assert no.bids == (Level(Decimal("0.48"), Decimal(1)),)
    assert no.asks == (Level(Decimal("0.53"), Decimal(3)),)
    assert state.delta_sid == 1


def test_recorded_snapshot_matches_the_rest_book_of_the_same_instant() -> None:
    state = KalshiBookState()
    lines = frames("ws__orderbook_trade_noleg.jsonl")
    yes, no = next(b for b in (state.feed(f) for f in lines) if b)
    assert yes.best_bid == Level(Decimal("0.47"), Decimal(3))
    assert no.best_bid == Level(Decimal("0.48"), Decimal(2))


def test_deltas_add_and_remove_levels() -> None:
    state = KalshiBookState()
    state.feed(snapshot())
    yes, _ = state.feed(delta(2, "0.4200", "4.00"))
    assert yes.bids[0] == Level(Decimal("0.42"), Decimal(4))
    yes, no = state.feed(delta(3, "0.4200", "-4.00"))
    assert yes.bids == (Level(Decimal("0.40"), Decimal(10)),)
    assert no.asks == (Level(Decimal("0.60"), Decimal(10)),)


@pytest.mark.parametrize(
    "frame, reason",
    [
        (delta(3, "0.4000", "1.00"), "sequence gap"),
        (delta(2, "0.4000", "-11.00"), "negative"),
        (delta(2, "0.3000", "1.00", ticker="KX-B"), "before its snapshot"),
        (delta(2, "0.4600", "1.00"), "crossed"),
        (delta(2, "abc", "1.00"), "bad orderbook_delta"),
        (delta(2, "0.4000", "1.00", side="maybe"), "side"),
        ("not json", "unreadable"),
        (json.dumps({"type": "error", "id": 1, "msg": {"code": 6, "msg": "Already"}}), "error"),
    ],
)
def test_untrustworthy_frames_raise_stream_gap(frame: str, reason: str) -> None:
    state = KalshiBookState()
    state.feed(snapshot())
    with pytest.raises(StreamGap, match=reason):
        state.feed(frame)


def test_ws_url_follows_the_rest_host() -> None:
    assert ws_url("https://external-api.kalshi.com/trade-api/v2") == (
        "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
    )
    assert ws_url("https://demo-api.kalshi.co/trade-api/v2") == (
        "wss://demo-api.kalshi.co/trade-api/ws/v2"
    )
    assert ws_url("http://127.0.0.1:8081/trade-api/v2") == "ws://127.0.0.1:8081/trade-api/ws/v2"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["orderbook_snapshot", "orderbook_delta", "subscribed", "ticker"]),
    seq=json_values,
    msg=json_values,
)
def test_arbitrary_frames_give_books_or_stream_gap(kind: str, seq: object, msg: object) -> None:
    state = KalshiBookState()
    state.feed(snapshot())
    frame = json.dumps({"type": kind, "sid": 1, "seq": seq, "msg": msg})
    try:
        books = state.feed(frame)
    except StreamGap:
        return
    for b in books:
        assert all(0 < lv.price <= 1 and lv.size > 0 for lv in b.bids + b.asks)
