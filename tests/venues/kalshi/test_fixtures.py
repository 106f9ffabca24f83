"""Every recorded Kalshi body in tests/fixtures/kalshi parses to the right domain values."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from predarb.domain import Action, Contract, MarketStatus, OrderRequest, OrderStatus, Venue
from predarb.venues.base import AuthError, NotFound, OrderRejected, VenueError
from predarb.venues.kalshi import wire, wire_orders
from predarb.venues.kalshi.errors import to_error
from tests.fakes.kalshi_server import FIXTURES

D = Decimal
LEP = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"


def markets(body: Any) -> tuple[list[Any], str]:
    items, cursor = wire.page(body, "markets")
    return [wire.parse_market(m) for m in items], cursor


def check_lep_market(body: Any) -> None:
    m = wire.parse_market(body["market"] if "market" in body else body["markets"][0])
    assert (m.venue, m.market_id, m.event_id) == (Venue.KALSHI, LEP, LEP.rsplit("-", 1)[0])
    assert m.title.startswith("Will Varvara Lepchenko win the Jimenez Kasintseva")
    assert m.subtitle == "Varvara Lepchenko"
    assert [c.side for c in m.contracts] == ["yes", "no"]
    assert m.status is MarketStatus.OPEN
    assert m.close_time == datetime(2026, 6, 25, 16, tzinfo=UTC)
    assert m.resolve_time == datetime(2026, 6, 11, 19, tzinfo=UTC)
    assert m.series == "" and m.exchange_index == 0  # series: only from the event
    assert m.tick_size == D("0.01") and m.min_order_size == 1
    assert m.fee is not None and m.fee.rate == D("0.07") and m.fee.maker_rate == 0
    assert m.extra["strike_type"] == "structured" and m.rules.startswith("If Varvara Lepchenko")


def check_mlb_page(first: str, last: str, cursor_empty: bool = False) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        ms, cursor = markets(body)
        assert ms[0].market_id == first and ms[-1].market_id == last
        assert all(m.status is MarketStatus.PAUSED for m in ms)  # "initialized"
        assert all(m.title and m.fee is not None for m in ms)
        assert (cursor == "") is cursor_empty
        assert ms[-1].extra["floor_strike"] in {"2.5", "1.5"}

    return check


def check_page1(body: Any) -> None:
    ms, cursor = markets(body)
    assert len(ms) == 5 and cursor.startswith("CgwIuKKp0QYQ")
    assert ms[0].market_id == "KXMLBHIT-26JUN111310AZMIA-AZKMARTE4-4"
    assert ms[0].title == "Ketel Marte: 4+ hits?" and ms[0].status is MarketStatus.PAUSED
    assert ms[-1].market_id == "KXMLBHIT-26JUN111310AZMIA-AZGPERDOMO2-3"
    assert ms[-1].extra["floor_strike"] == "2.5" and ms[-1].extra["strike_type"] == "greater"


def check_high_temp(body: Any) -> None:
    ms, cursor = markets(body)
    assert len(ms) == 18 and cursor == ""
    by_id = {m.market_id: m for m in ms}
    t85 = by_id["KXHIGHNY-26JUN15-T85"]
    assert t85.status is MarketStatus.OPEN and t85.extra["floor_strike"] == "85"
    # without its event the series is unknown: a ticker's text does not say where it ends
    assert t85.extra["strike_type"] == "greater" and t85.series == ""
    b845 = by_id["KXHIGHNY-26JUN15-B84.5"]
    assert (b845.extra["floor_strike"], b845.extra["cap_strike"]) == ("84", "85")
    assert by_id["KXHIGHNY-26JUN15-T78"].extra["cap_strike"] == "78"
    assert {m.status for m in ms} == {MarketStatus.OPEN, MarketStatus.CLOSED}  # determined


def check_closed(body: Any) -> None:
    ms, _ = markets(body)
    assert [m.market_id for m in ms][:2] == [
        "KXQUICKSETTLE-11JUN26H0220-3",
        "KXQUICKSETTLE-11JUN26H0220-2",
    ]
    assert all(m.status is MarketStatus.CLOSED for m in ms)
    # determined is not final: no resolution yet
    assert all(wire.parse_resolution(raw) is None for raw in body["markets"])


def check_open(body: Any) -> None:
    ms, cursor = markets(body)
    assert len(ms) == 200 and cursor.startswith("CgwIp4ep0QYQ")
    assert all(m.status is MarketStatus.OPEN for m in ms)
    first = ms[0]
    assert first.market_id.startswith("KXMVESPORTSMULTIGAMEEXTENDED-S202667DDE5A948C")
    assert first.tick_size == D("0.001") and first.extra["price_level_structure"] == "deci_cent"
    assert {m.tick_size for m in ms} == {D("0.01"), D("0.001")}


def check_settled(body: Any) -> None:
    ms, _ = markets(body)
    assert all(m.status is MarketStatus.SETTLED for m in ms)
    res = [wire.parse_resolution(raw) for raw in body["markets"]]
    assert res[0] is not None and res[0].payouts == {"yes": 0, "no": 1}
    assert res[2] is not None and res[2].market_id == "KXQUICKSETTLE-11JUN26H0140-2"
    assert res[2].payouts == {"yes": 1, "no": 0} and not res[2].void
    assert res[2].settled_at == datetime(2026, 6, 11, 6, 10, 45, 333635, tzinfo=UTC)


def check_unauth_list(body: Any) -> None:
    ms, cursor = markets(body)
    assert [m.market_id for m in ms] == [
        "KXMLBHIT-26JUN111310AZMIA-AZKMARTE4-4",
        "KXMLBHIT-26JUN111310AZMIA-AZKMARTE4-3",
    ]
    assert cursor


def check_orderbook(body: Any) -> None:
    yes, no = wire.parse_orderbook(body, LEP)
    assert [(lv.price, lv.size) for lv in yes.bids] == [(D("0.47"), D(3))]
    assert [(lv.price, lv.size) for lv in yes.asks] == [(D("0.52"), D(3))]
    assert [(lv.price, lv.size) for lv in no.bids] == [(D("0.48"), D(3))]
    assert [(lv.price, lv.size) for lv in no.asks] == [(D("0.53"), D(3))]


def check_balance(body: Any) -> None:
    assert wire.parse_balance(body) == D("98.0186")


def error(status: int, cls: type[VenueError], code: str, text: str = "") -> Callable[[Any], None]:
    def check(body: Any) -> None:
        err = to_error(status, body, json.dumps(body))
        assert type(err) is cls and err.code == code and err.status == status
        assert text in err.message

    return check


def check_ack(order_id: str, filled: str, remaining: str, avg: str = "0", fee: str = "0"):  # type: ignore[no-untyped-def]
    def check(body: Any) -> None:
        ack = wire_orders.parse_order_ack(body)
        assert ack.order_id.startswith(order_id)
        assert (ack.fill_count, ack.remaining_count) == (D(filled), D(remaining))
        assert (ack.average_fill_price, ack.average_fee_paid) == (D(avg), D(fee))

    return check


def check_order(order_id: str, status: OrderStatus, filled: str, avg: str = "0", fee: str = "0"):  # type: ignore[no-untyped-def]
    def check(body: Any) -> None:
        result = wire_orders.order_result(wire_orders.parse_order(body["order"]))
        assert result.venue_order_id.startswith(order_id)
        assert (result.status, result.filled) == (status, D(filled))
        assert (result.avg_price, result.fee) == (D(avg), D(fee))

    return check


def check_taker_ack(body: Any) -> None:
    check_ack("97ec18b7", "1", "0", "0.52", "0.0175")(body)
    req = OrderRequest(
        "2b8394e0-515e-4b89-b624-f34067756855",
        Contract(Venue.KALSHI, LEP, "yes"),
        Action.BUY,
        D("0.99"),
        D(1),
    )
    result = wire_orders.ack_result(wire_orders.parse_order_ack(body), req)
    assert (result.status, result.avg_price, result.fee) == (
        OrderStatus.FILLED,
        D("0.52"),
        D("0.0175"),
    )


def check_orders_list(body: Any) -> None:
    items, cursor = wire.page(body, "orders")
    results = [wire_orders.order_result(wire_orders.parse_order(o)) for o in items]
    assert len(results) == 9 and cursor == ""
    assert [r.status for r in results].count(OrderStatus.FILLED) == 3
    assert results[0].venue_order_id.startswith("97ec18b7") and results[0].avg_price == D("0.52")
    assert results[0].fee == D("0.0175")
    assert results[2].avg_price == D("0.99") and results[2].fee == D("0.0007")
    assert results[4].status is OrderStatus.CANCELED  # the one ask, nothing filled


def check_fills(body: Any) -> None:
    items, cursor = wire.page(body, "fills")
    fills = [wire_orders.parse_fill(f) for f in items]
    assert cursor == "" and len(fills) == 3
    first = fills[0]
    assert first.fill_id == "f4a42159-b500-57c6-efa2-c31d94d916c1"
    assert (first.contract.market_id, first.contract.side, first.action) == (LEP, "yes", Action.BUY)
    assert (first.price, first.contracts, first.fee) == (D("0.52"), D(1), D("0.0175"))
    assert first.ts == datetime(2026, 6, 11, 6, 29, 30, 164956, tzinfo=UTC)
    assert [f.price for f in fills[1:]] == [D("0.99"), D("0.99")]
    # Restated for a request that sold NO: buying YES at 0.52 is selling NO at 0.48.
    sell_no = OrderRequest("x", Contract(Venue.KALSHI, LEP, "no"), Action.SELL, D("0.48"), D(1))
    restated = wire_orders.parse_fill(items[0], "x", sell_no)
    assert (restated.contract.side, restated.action, restated.price) == (
        "no",
        Action.SELL,
        D("0.48"),
    )


def check_positions(body: Any) -> None:
    items, _ = wire.page(body, "market_positions")
    (pos,) = [wire.parse_position(p) for p in items]
    assert pos is not None and pos.contract.market_id == LEP and pos.contract.side == "yes"
    assert (pos.contracts, pos.cost) == (D(3), D("2.5"))


def check_empty_settlements(body: Any) -> None:
    items, cursor = wire.page(body, "settlements")
    assert [wire.parse_settlement(s) for s in items] == [] and cursor == ""


def check_cancel(order_id: str) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert body["order_id"].startswith(order_id)
        assert wire_orders.parse_cancel(body) == D(1)

    return check


def check_legacy_cancel(body: Any) -> None:
    check_order("e641ead7", OrderStatus.CANCELED, "0")(body)
    assert wire.count(body, "reduced_by_fp") == D(1)


def check_trades(body: Any) -> None:
    items, cursor = wire.page(body, "trades")
    assert len(items) == 12 and cursor
    assert wire.count(items[0], "count_fp") == D("7.77")  # fractional contracts are live
    assert wire.price(items[0], "yes_price_dollars") == D("0.03")


def check_limits(body: Any) -> None:
    assert wire.parse_account_limits(body) == (D(20), D(10))  # Basic: 20 reads, 10 writes /s


def check_costs(body: Any) -> None:
    costs = wire.parse_endpoint_costs(body)
    assert costs["*"] == 10
    assert costs["DELETE /trade-api/v2/portfolio/events/orders/:order_id"] == 2
    assert costs["GET /trade-api/v2/portfolio/orders/:order_id"] == 2


def check_ws(no_on_yes_scale: bool, no_size: str) -> Callable[[str], None]:
    def check(raw: str) -> None:
        frames = [json.loads(line) for line in raw.splitlines() if line.strip()]
        snapshot = next(f for f in frames if f["type"] == "orderbook_snapshot")
        yes, no = wire.parse_ws_snapshot(snapshot["msg"], no_on_yes_scale=no_on_yes_scale)
        assert yes.contract.market_id == LEP
        assert [(lv.price, lv.size) for lv in yes.bids] == [(D("0.47"), D(3))]
        assert [(lv.price, lv.size) for lv in yes.asks] == [(D("0.52"), D(no_size))]
        assert [(lv.price, lv.size) for lv in no.bids] == [(D("0.48"), D(no_size))]
        assert {f["type"] for f in frames} >= {"subscribed", "orderbook_delta"}

    return check


CHECKS: dict[str, Callable[[Any], None]] = {
    "account__endpoint_costs.json": check_costs,
    "account__limits.json": check_limits,
    "auth__bad_signature.json": error(
        401, AuthError, "authentication_error", "INCORRECT_API_KEY_SIGNATURE"
    ),
    "auth__balance_alt_host.json": check_balance,
    "auth__balance_ok.json": check_balance,
    "auth__missing_signature_header.json": error(
        401, AuthError, "signature_is_missing_from_headers"
    ),
    "auth__skew_minus30s.json": error(401, AuthError, "header_timestamp_expired"),
    "auth__skew_minus5min.json": error(401, AuthError, "header_timestamp_expired"),
    "auth__skew_minus5s.json": check_balance,
    "auth__skew_plus5min.json": error(401, AuthError, "header_timestamp_expired"),
    "auth__skew_plus5s.json": check_balance,
    "auth__unknown_key_id.json": error(401, AuthError, "authentication_error", "NOT_FOUND"),
    "cleanup__leftover_0.json": error(404, NotFound, "not_found"),
    "cleanup__leftover_1.json": error(404, NotFound, "not_found"),
    "cleanup__leftover_2.json": error(404, NotFound, "not_found"),
    "cleanup__stp_resting.json": check_cancel("17fc4f3a"),
    "exchange__status.json": lambda b: wire.parse_exchange_status(b) is True or pytest.fail("down"),
    "fills__after_taker.json": check_fills,
    "legacy_v1_prod__orders_create_ioc_buy_filled.json": check_order(
        "e6d7f39e", OrderStatus.FILLED, "1", "0.09", "0.01"
    ),
    "legacy_v1_prod__orders_create_ioc_buy_nofill.json": check_order(
        "ea407db5", OrderStatus.CANCELED, "0"
    ),
    "legacy_v1_prod__orders_create_ioc_buy_partial.json": check_order(
        "a26079d4", OrderStatus.PARTIAL, "114", "0.09", "0.66"
    ),
    # sell YES at 0.84 ≡ buy NO: cost 1.12 for 7 is 0.16 a NO contract
    "legacy_v1_prod__orders_create_ioc_sell_partial.json": check_order(
        "5af3058b", OrderStatus.PARTIAL, "7", "0.16", "0.07"
    ),
    "legacy_v1_prod__orders_insufficient_balance_400.json": error(
        400, OrderRejected, "insufficient_balance"
    ),
    "legacy_v1_prod__orders_market_not_found_404.json": error(404, NotFound, "market_not_found"),
    "markets__garbage_cursor.json": check_page1,
    "markets__high_temp.json": check_high_temp,
    "markets__limit_over_max.json": error(
        400, VenueError, "bad_request", "Parameter validation failed"
    ),
    "markets__page1.json": check_page1,
    "markets__page2.json": check_mlb_page(
        "KXMLBHIT-26JUN111310AZMIA-AZGPERDOMO2-2", "KXMLBHIT-26JUN111310AZMIA-AZCCARROLL7-2"
    ),
    "markets__page3.json": check_mlb_page(
        "KXMLBHIT-26JUN111310AZMIA-AZCCARROLL7-1", "KXMLBHR-26JUN111310AZMIA-AZCCARROLL7-2"
    ),
    "markets__single.json": check_lep_market,
    "markets__single_filter_lastpage.json": check_lep_market,
    "markets__status_closed.json": check_closed,
    "markets__status_open.json": check_open,
    "markets__status_settled.json": check_settled,
    "markets__unauth_list.json": check_unauth_list,
    "markets__unauth_single.json": check_lep_market,
    "orderbook__base.json": check_orderbook,
    "orders__cancel_already_canceled.json": error(404, NotFound, "not_found"),
    "orders__cancel_executed.json": error(404, NotFound, "not_found"),
    "orders__cancel_unknown_id.json": error(404, NotFound, "not_found"),
    "orders__cancel_v2.json": check_cancel("2597b999"),
    "orders__create_v2_maker.json": check_ack("2597b999", "0", "1"),
    "orders__create_v2_taker_ioc.json": check_taker_ack,
    "orders__duplicate_client_order_id.json": error(409, OrderRejected, "order_already_exists"),
    "orders__get_after_cancel.json": check_order("2597b999", OrderStatus.OPEN, "0"),  # the race
    "orders__get_after_create.json": check_order("2597b999", OrderStatus.OPEN, "0"),
    "orders__insufficient_balance.json": error(400, OrderRejected, "insufficient_balance"),
    "orders__invalid_price_structure.json": error(400, OrderRejected, "invalid_price"),
    "orders__legacy_cancel.json": check_legacy_cancel,
    "orders__legacy_create.json": check_order("e641ead7", OrderStatus.OPEN, "0"),
    "orders__numeric_field_types.json": error(
        400, OrderRejected, "bad_request", "unmarshal number"
    ),
    "orders__post_only_cross.json": error(400, OrderRejected, "invalid_order", "post only cross"),
    "orders__reuse_canceled_client_id.json": error(409, OrderRejected, "order_already_exists"),
    "orders__settlement_seed.json": check_ack("216a2cb7", "1", "0", "0.52", "0.0175"),
    "orders__stp_resting_after.json": check_order("17fc4f3a", OrderStatus.OPEN, "0"),
    "orders__stp_self_cross.json": check_ack("07ac75d5", "0", "0"),
    "orders__stp_setup.json": check_ack("17fc4f3a", "0", "1"),
    "portfolio__orders_list.json": check_orders_list,
    "portfolio__positions.json": check_positions,
    "series__fee_changes.json": lambda b: (
        wire.parse_series_fee_changes(b) == [] or pytest.fail("changes")
    ),
    "settlements__end_of_session.json": check_empty_settlements,
    "settlements__page.json": check_empty_settlements,
    "trades__public_recorded.json": check_trades,
    "ws__orderbook_trade_noleg.jsonl": check_ws(no_on_yes_scale=False, no_size="2"),
    "ws__orderbook_trade_yes.jsonl": check_ws(no_on_yes_scale=True, no_size="1"),
}

RESPONSE_FILES = sorted(
    p.name for p in FIXTURES.iterdir() if p.suffix in {".json", ".jsonl"} and ".meta." not in p.name
)


def test_every_response_file_has_a_check() -> None:
    assert sorted(CHECKS) == RESPONSE_FILES


@pytest.mark.parametrize("name", RESPONSE_FILES)
def test_fixture_parses(name: str) -> None:
    raw = (FIXTURES / name).read_text()
    CHECKS[name](raw if name.endswith(".jsonl") else json.loads(raw))
