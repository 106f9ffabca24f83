"""Every recorded Polymarket fixture parses to the right domain values."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest

from predarb.domain import Contract, Level, MarketStatus, Venue
from predarb.venues.polymarket import wire
from tests.paths import POLYMARKET_FIXTURES as FIXTURES

PM = Venue.POLYMARKET


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def token_contract(raw: dict[str, Any]) -> Contract:
    return Contract(PM, "m", side="Yes", token_id=raw["asset_id"])


@pytest.mark.parametrize(
    ("name", "bid", "ask", "n_bids", "n_asks", "tick"),
    [
        ("book__basic_2026-01.json", ("0.49", "1028"), ("0.51", "1028"), 20, 20, "0.01"),
        ("book__ccxt_comment_2026-04-30.json", ("0.002", "1432.11"), ("0.998", "7"), 2, 2, "0.001"),
        ("book__empty_ask_negrisk_2026-08.json", ("0.002", "6.99"), None, 2, 0, "0.001"),
    ],
)
def test_books_best_first(
    name: str,
    bid: tuple[str, str],
    ask: tuple[str, str] | None,
    n_bids: int,
    n_asks: int,
    tick: str,
) -> None:
    raw = load(name)
    book = wire.book(raw, token_contract(raw))
    assert (len(book.bids), len(book.asks)) == (n_bids, n_asks)
    assert book.best_bid is not None
    assert (book.best_bid.price, book.best_bid.size) == (D(bid[0]), D(bid[1]))
    if ask is None:
        assert book.best_ask is None
    else:
        assert book.best_ask is not None
        assert (book.best_ask.price, book.best_ask.size) == (D(ask[0]), D(ask[1]))
    assert book.tick_size == D(tick)
    assert book.min_order_size == D(5)


def test_book_fields_and_timestamp() -> None:
    raw = load("book__ccxt_comment_2026-04-30.json")
    book = wire.book(raw, token_contract(raw))
    assert int(book.ts.timestamp() * 1000) == 1777541385018
    assert raw["neg_risk"] is False
    assert load("book__empty_ask_negrisk_2026-08.json")["neg_risk"] is True


@pytest.mark.parametrize(
    "name",
    [
        "book__fairx_normalized_deep_2026-07-13.json",
        "book__fairx_normalized_deep_2026-07-14.json",
        "ws_market__book_snapshot_2026-01.json",
        "ws_market__book_snapshot_2026-08.json",
    ],
)
def test_deep_and_ws_books(name: str) -> None:
    """Normalized/WS captures lack tick or min size: the caller's known values apply."""
    raw = load(name)
    contract = Contract(PM, "m", "Yes", raw.get("asset_id", "1"))
    book = wire.book(raw, contract, tick_size=D("0.0025"), min_size=D(5))
    assert book.bids and book.asks
    assert book.best_bid is not None and book.best_ask is not None
    assert book.best_bid.price < book.best_ask.price
    assert book.best_bid.price == max(lv.price for lv in book.bids)
    assert book.best_ask.price == min(lv.price for lv in book.asks)


def test_deep_book_values() -> None:
    raw = load("book__fairx_normalized_deep_2026-07-13.json")
    book = wire.book(raw, Contract(PM, "m", "Yes", "1"), tick_size=D("0.0025"))
    assert book.asks[-1] == Level(D("0.9975"), D("6100000"))
    assert book.tick_size == D("0.0025")


def test_btc_updown_active() -> None:
    m = wire.gamma_market(load("gamma_market__btc_updown_5m_active_2026-03.json"))
    assert (m.market_id, m.event_id, m.series) == ("1557558", "260654", "btc-updown-5m-1773307200")
    assert [c.side for c in m.contracts] == ["Up", "Down"]
    assert m.contracts[0].token_id.startswith("1042398980388071360523998001514085214677370759")
    assert m.status is MarketStatus.OPEN
    assert (m.tick_size, m.min_order_size, m.neg_risk) == (D("0.01"), D(5), False)
    assert m.fee is not None and m.fee.rate == D("0.07")  # crypto_fees, no schedule
    assert m.close_time is not None and m.close_time.isoformat() == "2026-03-12T09:25:00+00:00"
    assert m.extra["conditionId"].startswith("0x78443f96")
    assert wire.resolution(load("gamma_market__btc_updown_5m_active_2026-03.json")) is None


@pytest.mark.parametrize(
    ("name", "mid", "winner", "loser"),
    [
        ("gamma_market__resolved_binary_2026-03.json", "1460332", "No", "Yes"),
        ("gamma_market__resolved_ccxt_comment.json", "604489", "No", "Yes"),
        ("gamma_market__sports_moneyline_resolved_2026-04.json", "1878152", "FaZe", "illwill"),
        ("gamma_market__sports_handicap_resolved_2026-04.json", "1878156", "FaZe", "illwill"),
    ],
)
def test_resolved_markets(name: str, mid: str, winner: str, loser: str) -> None:
    raw = load(name)
    m = wire.gamma_market(raw)
    assert m.market_id == mid
    assert m.status is MarketStatus.SETTLED
    res = wire.resolution(raw)
    assert res is not None and not res.void
    assert res.payouts[winner] == 1 and res.payouts[loser] == 0
    assert res.payout(m.contract(winner)) == 1
    assert res.payouts[m.contract(loser).token_id] == 0


def test_sports_details() -> None:
    m = wire.gamma_market(load("gamma_market__sports_handicap_resolved_2026-04.json"))
    assert m.fee is not None and (m.fee.rate, m.fee.exponent) == (D("0.03"), 1)
    assert m.extra["sportsMarketType"] == "map_handicap" and m.extra["line"] == "-1.5"
    assert m.resolve_time is not None and m.resolve_time.isoformat() == "2026-04-05T15:10:00+00:00"
    assert (m.event_id, m.series, m.tick_size) == ("346898", "cs2-faze-ill-2026-04-05", D("0.001"))
    assert m.subtitle == "Map Handicap: FaZe (-1.5) vs illwill (+1.5)"


def test_closed_but_accepting_is_settled() -> None:
    raw = load("gamma_market__resolved_binary_accepting_orders_true_2026-05.json")
    m = wire.gamma_market(raw)
    # closed wins over acceptingOrders; no uma status, so not known to be resolved
    assert m.status is MarketStatus.CLOSED
    assert wire.resolution(raw) is None
    assert m.fee is not None and m.fee.rate == 0


@pytest.mark.parametrize(
    ("name", "mid", "category"),
    [
        ("gamma_market__legacy_scalar_2020.json", "43", "Crypto"),
        ("gamma_market__legacy_prices_zero_zero_2020.json", "12", "US-current-affairs"),
    ],
)
def test_legacy_markets(name: str, mid: str, category: str) -> None:
    raw = load(name)
    m = wire.gamma_market(raw)
    assert (m.market_id, m.category, m.status) == (mid, category, MarketStatus.CLOSED)
    assert m.tick_size == D("0.01") and m.min_order_size == 1  # no CLOB fields: defaults
    assert wire.resolution(raw) is None


def test_events_list_active() -> None:
    markets = wire.gamma_events(load("gamma_events__list_active_2026-01.json"))
    assert len(markets) == 10
    first = markets[0]
    assert (first.market_id, first.event_id, first.series) == (
        "1107051",
        "143612",
        "xrp-updown-5m-1767640500",
    )
    assert first.category == "Crypto"  # from the crypto-prices tag
    assert first.status is MarketStatus.PAUSED  # no acceptingOrders yet
    assert [c.side for c in first.contracts] == ["Up", "Down"]


def test_event_negrisk() -> None:
    markets = wire.gamma_events(load("gamma_events__by_slug_abridged_2026-03.json"))
    assert [m.market_id for m in markets] == ["559657", "559659"]
    smith = markets[0]
    assert smith.neg_risk and smith.status is MarketStatus.OPEN
    assert smith.subtitle == "Stephen A. Smith" and smith.category == "Politics"
    assert smith.extra["negRiskMarketID"].startswith("0x2c3d7e0e")
    assert smith.series == "democratic-presidential-nominee-2028"


def test_public_search_events() -> None:
    markets = wire.gamma_events(load("gamma_public_search__btc_2026-03.json")["events"])
    assert markets and markets[0].market_id == "1500056"
    assert markets[0].subtitle == "64,000" and markets[0].category == "Crypto"


def test_clob_markets() -> None:
    for name, accepting in (
        ("clob_market__closed_not_accepting_2026-03.json", False),
        ("clob_market__closed_still_accepting_2026-05.json", True),
    ):
        raw = load(name)
        assert raw["accepting_orders"] is accepting and raw["closed"] is True
        assert wire.tick(raw["minimum_tick_size"]) in wire.VALID_TICKS
        assert wire.size(raw["minimum_order_size"]) == 5


def test_order_replies() -> None:
    full = wire.posted_order(
        load("orders__post_v1_fak_buy_matched_full.json"), making_bound=D(5), taking_bound=D(5)
    )
    assert (full.status, full.making, full.taking) == ("matched", D("2.65"), D(5))
    partial = wire.posted_order(
        load("orders__post_v1_fak_buy_matched_partial.json"),
        making_bound=D("4.7"),
        taking_bound=D(10),
    )
    assert (partial.making, partial.taking) == (D("2.35"), D(5))
    issue = wire.posted_order(
        load("orders__post_fak_matched_issue217.json"), making_bound=D(10), taking_bound=D(15)
    )
    assert (issue.making, issue.taking, issue.success) == (D("9.999999"), D("14.925372"), True)
    # the same fill in 6-dp fixed math
    fixed = wire.posted_order(
        {"status": "matched", "makingAmount": "2650000", "takingAmount": "5000000"},
        making_bound=D("2.65"),
        taking_bound=D(5),
    )
    assert (fixed.making, fixed.taking) == (D("2.65"), D(5))


def test_open_orders() -> None:
    full = wire.open_order(load("order__get_matched_full.json"))
    assert (full.status, full.side, full.price) == ("MATCHED", "BUY", D("0.53"))
    assert (full.original_size, full.size_matched, full.outcome) == (D(5), D(5), "Suns")
    assert full.trade_ids == ("9a34f42f-492d-4e10-a1cb-151f71451f98",)
    part = wire.open_order(load("order__get_matched_partial_fak.json"))
    assert (part.original_size, part.size_matched, part.price) == (D(10), D(5), D("0.47"))


def test_small_bodies() -> None:
    assert wire.price(load("midpoint__basic.json")["mid"]) == D("0.9985")
    point = load("prices_history__ccxt_comment_trimmed.json")["history"][0]
    assert wire.price(point["p"]) == D("0.265")
    tags = load("gamma_tags__list_2026-03.json")
    assert [t["slug"] for t in tags][:2] == ["health-and-human-services", "sweeden"]


def test_recorded_ctf_token_ids_read_as_protocol_v1() -> None:
    """Every recorded token id (CTF markets, before protocol V2) reads as v1 from the id
    alone, and V2-shaped position ids (module byte, bits 40-103 clear) as v2."""
    markets = [
        *wire.gamma_events(load("gamma_events__list_active_2026-01.json")),
        *wire.gamma_events(load("gamma_events__by_slug_abridged_2026-03.json")),
        wire.gamma_market(load("gamma_market__btc_updown_5m_active_2026-03.json")),
        wire.gamma_market(load("gamma_market__resolved_binary_2026-03.json")),
    ]
    tokens = [c.token_id for m in markets for c in m.contracts]
    assert len(tokens) > 20
    assert {wire.protocol_of(t) for t in tokens} == {"v1"}
    position = (1 << 248) | (0xABCDEF << 104) | (0x1234 << 8) | 1
    assert wire.protocol_of(str(position)) == "v2"
    assert wire.protocol_of(str(position | (1 << 40))) == "v1"  # a reserved bit set
    assert wire.protocol_of("") == wire.protocol_of("0x12") == "v1"
