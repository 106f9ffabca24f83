"""KalshiBookState: recorded frames to books (both price forms of the NO ladder),
sequence gaps and bad deltas to StreamGap, by property the YES-price form kept level for
level against a model book, and the form found from the frames and the REST book (never
a book read in the wrong form)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predarb.domain import Level, OrderBook
from predarb.marketdata import StreamGap
from predarb.venues.kalshi.ws import KalshiBookState, ws_url
from predarb.venues.kalshi.ws_form import FormUnknown
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
    state = KalshiBookState(yes_scale=False)
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


def test_recorded_yes_price_stream_replays_to_the_expected_book() -> None:
    """Recorded with ``use_yes_price: true``: the NO bid 0.48 shows as 0.52."""
    state = KalshiBookState(yes_scale=True)
    seen = [b for b in (state.feed(f) for f in frames("ws__orderbook_trade_yes.jsonl")) if b]
    yes, no = seen[0]
    assert no.bids == (Level(Decimal("0.48"), Decimal(1)),)
    assert yes.asks == (Level(Decimal("0.52"), Decimal(1)),)
    yes, no = seen[-1]  # -1 then +2 at 0.52 on the YES scale
    assert no.bids == (Level(Decimal("0.48"), Decimal(2)),)
    assert yes.bids == (Level(Decimal("0.47"), Decimal(3)),)
    assert no.asks == (Level(Decimal("0.53"), Decimal(3)),)


def test_a_no_leg_snapshot_read_as_yes_form_is_not_trusted() -> None:
    """A YES bid at 0.40 and a NO bid at 0.30 sent in the NO-leg form: read on the YES
    scale, the NO level lies below the YES bid, which no YES-form book can show."""
    state = KalshiBookState(yes_scale=True)
    frame = json.dumps(
        {
            "type": "orderbook_snapshot",
            "sid": 1,
            "seq": 1,
            "msg": {
                "market_ticker": "KX-A",
                "yes_dollars_fp": [["0.4000", "10.00"]],
                "no_dollars_fp": [["0.3000", "5.00"]],
            },
        }
    )
    with pytest.raises(StreamGap, match="YES-price form"):
        state.feed(frame)


def test_recorded_snapshot_matches_the_rest_book_of_the_same_instant() -> None:
    state = KalshiBookState(yes_scale=False)
    lines = frames("ws__orderbook_trade_noleg.jsonl")
    yes, no = next(b for b in (state.feed(f) for f in lines) if b)
    assert yes.best_bid == Level(Decimal("0.47"), Decimal(3))
    assert no.best_bid == Level(Decimal("0.48"), Decimal(2))


def test_deltas_add_and_remove_levels() -> None:
    state = KalshiBookState(yes_scale=False)
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
    state = KalshiBookState(yes_scale=False)
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


# --- the YES-price form against a model book -----------------------------------------

MILLS = st.integers(min_value=1, max_value=999)  # prices in $0.001 (deci-cent grids)
SIZES = st.integers(min_value=1, max_value=10**6)  # counts in 0.01 contracts


def _d4(mills: int) -> str:
    return f"{Decimal(mills) / 1000:.4f}"


def _fp(hundredths: int) -> str:
    return f"{Decimal(hundredths) / 100:.2f}"


def _frame(kind: str, seq: int, msg: dict[str, object]) -> str:
    return json.dumps({"type": kind, "sid": 7, "seq": seq, "msg": {"market_ticker": "KX-P", **msg}})


def _form(mills: int, side: str, yes_scale: bool) -> int:
    """The price a NO level is sent at: its NO-leg price, or 1 − it on the YES scale."""
    return 1000 - mills if side == "no" and yes_scale else mills


def _crossed(yes: dict[int, int], no: dict[int, int]) -> bool:
    return bool(yes and no and max(yes) + max(no) >= 1000)


@settings(max_examples=200, deadline=None)
@given(
    yes0=st.dictionaries(MILLS, SIZES, max_size=5),
    no0=st.dictionaries(MILLS, SIZES, max_size=5),
    ops=st.lists(
        st.tuples(st.sampled_from(["yes", "no"]), MILLS, st.integers(-(10**6), 10**6)),
        max_size=25,
    ),
)
def test_both_price_forms_keep_the_model_book(
    yes0: dict[int, int], no0: dict[int, int], ops: list[tuple[str, int, int]]
) -> None:
    """Any book and any deltas that keep it uncrossed: the YES-price form (NO levels at
    1 − the NO bid) and the NO-leg form give the model's bids and asks, level for level,
    with fixed-point strings parsed exactly."""
    if _crossed(yes0, no0):
        no0 = {}
    states = {True: KalshiBookState(yes_scale=True), False: KalshiBookState(yes_scale=False)}
    model = {"yes": dict(yes0), "no": dict(no0)}

    def ladder(side: str, yes_scale: bool) -> list[list[str]]:
        shown = sorted((_form(p, side, yes_scale), n) for p, n in model[side].items())
        return [[_d4(p), _fp(n)] for p, n in shown]

    def check(books: list[OrderBook]) -> None:
        yes, no = books
        assert yes.bids == tuple(
            Level(Decimal(p) / 1000, Decimal(n) / 100)
            for p, n in sorted(model["yes"].items(), reverse=True)
        )
        assert no.bids == tuple(
            Level(Decimal(p) / 1000, Decimal(n) / 100)
            for p, n in sorted(model["no"].items(), reverse=True)
        )
        assert yes.asks == tuple(Level(1 - lv.price, lv.size) for lv in no.bids)

    for yes_scale, state in states.items():
        msg: dict[str, object] = {}
        if model["yes"]:
            msg["yes_dollars_fp"] = ladder("yes", yes_scale)
        if model["no"]:
            msg["no_dollars_fp"] = ladder("no", yes_scale)
        check(state.feed(_frame("orderbook_snapshot", 1, msg)))
    seq = 1
    for side, mills, change in ops:
        size = model[side].get(mills, 0) + change
        after = {**model[side], mills: size}
        other = model["no" if side == "yes" else "yes"]
        if (
            change == 0
            or size < 0
            or _crossed(*((after, other) if side == "yes" else (other, after)))
        ):
            continue
        if size:
            model[side][mills] = size
        else:
            model[side].pop(mills, None)
        seq += 1
        for yes_scale, state in states.items():
            delta = {
                "price_dollars": _d4(_form(mills, side, yes_scale)),
                "delta_fp": _fp(change),
                "side": side,
            }
            check(state.feed(_frame("orderbook_delta", seq, delta)))


@pytest.mark.parametrize(
    "price, amount",
    [
        ("0.5e0", "1.00"),
        ("0.50", "1_0.00"),
        (" 0.50", "1.00"),
        ("0.50", "Infinity"),
        ("0.50", "+1"),
    ],
)
def test_fixed_point_strings_only(price: str, amount: str) -> None:
    """Plain decimal strings only: Decimal() alone would take each of these."""
    state = KalshiBookState()
    state.feed(snapshot())
    with pytest.raises(StreamGap):
        state.feed(delta(2, price, amount))


# --- the price form found from the frames (ws_form) ------------------------------------


def _snap(yes: list[list[str]], no: list[list[str]]) -> str:
    msg: dict[str, object] = {"market_ticker": "KX-A"}
    if yes:
        msg["yes_dollars_fp"] = yes
    if no:
        msg["no_dollars_fp"] = no
    return json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": msg})


D = Decimal


@pytest.mark.parametrize(
    "yes, no, rest, yes_scale, no_bid",
    [
        # a valid book in one form only: no REST book needed
        ("0.4000", "0.3000", None, False, "0.30"),  # as YES scale, NO bid 0.70 > 1 - 0.40
        ("0.6000", "0.7000", None, True, "0.30"),  # as NO-leg, 0.70 + 0.60 > 1
        # valid either way (YES bids 0.30, a NO level at 0.40): the REST book decides
        ("0.3000", "0.4000", {D("0.40"): D(5)}, False, "0.40"),
        ("0.3000", "0.4000", {D("0.60"): D(5)}, True, "0.60"),
        ("0.3000", "0.4000", {D("0.60"): D(4), D("0.59"): D(1)}, True, "0.60"),  # moved since
    ],
)
def test_the_price_form_is_found_from_the_snapshot_or_the_rest_book(
    yes: str, no: str, rest: dict[Decimal, Decimal] | None, yes_scale: bool, no_bid: str
) -> None:
    state = KalshiBookState(yes_scale=None, reference={"KX-A": rest} if rest else None)
    yes_book, no_book = state.feed(_snap([[yes, "10.00"]], [[no, "5.00"]]))
    assert state.yes_scale is yes_scale
    assert no_book.bids == (Level(D(no_bid), D(5)),)
    assert yes_book.asks == (Level(1 - D(no_bid), D(5)),)
    # the rest of the subscription is read in the form found
    _, no_book = state.feed(delta(2, no, "1.00", side="no"))
    assert no_book.bids == (Level(D(no_bid), D(6)),)


@pytest.mark.parametrize("rest", [None, {D("0.55"): D(5)}])
def test_a_form_nothing_tells_is_not_guessed(rest: dict[Decimal, Decimal] | None) -> None:
    """Valid in both forms and no REST book (or one agreeing with neither)."""
    state = KalshiBookState(yes_scale=None, reference={"KX-A": rest} if rest else None)
    with pytest.raises(FormUnknown, match="price form"):
        state.feed(_snap([["0.3000", "10.00"]], [["0.4000", "5.00"]]))


def test_a_snapshot_that_reads_the_same_either_way_leaves_the_form_to_a_delta() -> None:
    state = KalshiBookState(yes_scale=None)
    state.feed(_snap([["0.6000", "10.00"]], []))  # no NO levels: nothing to tell
    assert state.yes_scale is None
    _, no_book = state.feed(delta(2, "0.7000", "5.00", side="no"))  # NO-leg would cross
    assert state.yes_scale is True and no_book.bids == (Level(D("0.30"), D(5)),)

    state = KalshiBookState(yes_scale=None)
    state.feed(_snap([["0.3000", "10.00"]], []))
    with pytest.raises(FormUnknown):
        state.feed(delta(2, "0.4000", "5.00", side="no"))  # fits both


@settings(max_examples=200, deadline=None)
@given(
    sent_yes_scale=st.booleans(),
    yes0=st.dictionaries(MILLS, SIZES, max_size=5),
    no0=st.dictionaries(MILLS, SIZES, max_size=5),
    ops=st.lists(
        st.tuples(st.sampled_from(["yes", "no"]), MILLS, st.integers(-(10**6), 10**6)),
        max_size=25,
    ),
)
def test_a_found_form_never_gives_a_wrong_book(
    sent_yes_scale: bool,
    yes0: dict[int, int],
    no0: dict[int, int],
    ops: list[tuple[str, int, int]],
) -> None:
    """Either form sent, the REST book of the same moment as reference: every book the
    state gives is the model's, or it stops with ``FormUnknown`` (a NO delta before
    anything told the form), never a book read in the wrong form."""
    if _crossed(yes0, no0):
        no0 = {}
    model = {"yes": dict(yes0), "no": dict(no0)}
    rest = {D(p) / 1000: D(n) / 100 for p, n in model["no"].items()}
    state = KalshiBookState(yes_scale=None, reference={"KX-P": rest})

    def shown(side: str) -> list[list[str]]:
        levels = sorted((_form(p, side, sent_yes_scale), n) for p, n in model[side].items())
        return [[_d4(p), _fp(n)] for p, n in levels]

    def check(books: list[OrderBook]) -> None:
        _, no = books
        assert no.bids == tuple(
            Level(D(p) / 1000, D(n) / 100) for p, n in sorted(model["no"].items(), reverse=True)
        )

    msg: dict[str, object] = {}
    if model["yes"]:
        msg["yes_dollars_fp"] = shown("yes")
    if model["no"]:
        msg["no_dollars_fp"] = shown("no")
    check(state.feed(_frame("orderbook_snapshot", 1, msg)))
    assert state.yes_scale in (None, sent_yes_scale)
    seq = 1
    for side, mills, change in ops:
        size = model[side].get(mills, 0) + change
        after = {**model[side], mills: size}
        other = model["no" if side == "yes" else "yes"]
        if (
            change == 0
            or size < 0
            or _crossed(*((after, other) if side == "yes" else (other, after)))
        ):
            continue
        if size:
            model[side][mills] = size
        else:
            model[side].pop(mills, None)
        seq += 1
        body = {
            "price_dollars": _d4(_form(mills, side, sent_yes_scale)),
            "delta_fp": _fp(change),
            "side": side,
        }
        try:
            check(state.feed(_frame("orderbook_delta", seq, body)))
        except FormUnknown:
            assert state.yes_scale is None
            return
        assert state.yes_scale in (None, sent_yes_scale)
