"""Property: malformed Kalshi bodies never become a stored price or an order result.

Each parser either raises ``WireError`` (the caller logs and skips, or raises
``BadResponse``/``OrderStateUnknown``) or returns values that pass every sanity check.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predarb.domain import Action, Contract, OrderRequest, OrderStatus, Venue
from predarb.venues.base import BadResponse, OrderStateUnknown
from predarb.venues.kalshi import KalshiVenue, wire, wire_orders
from tests.fakes.kalshi_server import FIXTURES, FakeKalshi, generate_key_file

D = Decimal
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NUMERIC_TEXT = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "-1",
        "-0.01",
        "1.5",
        "1e400",
        "",
        " ",
        "abc",
        "0x10",
        "1000000000000",
        "0.5000",
        "3.00",
        "0",
        "1",
        "0.0001",
    ]
) | st.decimals(allow_nan=True, allow_infinity=True).map(str)
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | NUMERIC_TEXT,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
MARKET = json.loads((FIXTURES / "markets__single.json").read_text())["market"]
ACK = json.loads((FIXTURES / "orders__create_v2_taker_ioc.json").read_text())
REQUEST = OrderRequest("c", Contract(Venue.KALSHI, "T", "yes"), Action.BUY, D("0.99"), D(1))


def mutate(base: dict[str, Any], changes: dict[str, Any], drops: list[str]) -> dict[str, Any]:
    out = {k: v for k, v in base.items() if k not in drops}
    out.update(changes)
    return out


@SETTINGS
@given(
    yes=st.lists(st.lists(NUMERIC_TEXT | JUNK, max_size=3) | JUNK, max_size=5),
    no=st.lists(st.lists(NUMERIC_TEXT, min_size=2, max_size=2), max_size=5) | JUNK,
)
def test_order_books_are_sane_or_refused(yes: Any, no: Any) -> None:
    body = {"orderbook_fp": {"yes_dollars": yes, "no_dollars": no}}
    try:
        books = wire.parse_orderbook(body, "T")
    except wire.WireError:
        return
    for book in books:
        for levels, best_first in ((book.bids, True), (book.asks, False)):
            prices = [lv.price for lv in levels]
            assert prices == sorted(prices, reverse=best_first)
            for lv in levels:
                assert lv.price.is_finite() and 0 <= lv.price <= 1
                assert lv.size.is_finite() and 0 < lv.size <= wire.MAX_COUNT
        if book.best_bid and book.best_ask:
            assert book.best_bid.price <= book.best_ask.price  # never crossed


@SETTINGS
@given(
    changes=st.dictionaries(
        st.sampled_from(
            [
                "ticker",
                "event_ticker",
                "status",
                "price_ranges",
                "title",
                "close_time",
                "floor_strike",
                "yes_sub_title",
                "rules_primary",
            ]
        ),
        JUNK,
        max_size=4,
    ),
    drops=st.lists(st.sampled_from(sorted(MARKET)), max_size=5),
)
def test_a_bad_market_is_skipped_not_guessed(changes: dict[str, Any], drops: list[str]) -> None:
    good = dict(MARKET, ticker="GOOD-1")
    items = [mutate(MARKET, changes, drops), good]
    parsed = list(wire.each(items, wire.parse_market, "market"))
    assert parsed[-1].market_id == "GOOD-1"  # one bad item never spoils the page
    for m in parsed:
        assert m.market_id and m.event_id and m.title
        assert m.tick_size.is_finite() and 0 < m.tick_size <= 1
        assert m.fee is not None and m.fee.rate >= 0


@SETTINGS
@given(
    changes=st.dictionaries(
        st.sampled_from(
            ["order_id", "fill_count", "remaining_count", "average_fill_price", "average_fee_paid"]
        ),
        JUNK,
        min_size=1,
        max_size=3,
    ),
    drops=st.lists(st.sampled_from(sorted(ACK)), max_size=3),
)
def test_an_ack_is_trusted_only_when_sane(changes: dict[str, Any], drops: list[str]) -> None:
    try:
        result = wire_orders.ack_result(
            wire_orders.parse_order_ack(mutate(ACK, changes, drops)), REQUEST
        )
    except wire.WireError:
        return
    assert result.venue_order_id
    assert 0 <= result.filled <= REQUEST.contracts
    assert 0 <= result.avg_price <= 1 and result.fee >= 0
    assert (result.filled > 0) == (result.status in (OrderStatus.FILLED, OrderStatus.PARTIAL))


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kalshi") / "k.pem"
    generate_key_file(path)
    return path


def garbled(ack: dict[str, Any]) -> st.SearchStrategy[str]:
    text = json.dumps(ack)
    return (
        st.integers(1, len(text) - 1).map(lambda n: text[:n])  # truncated
        | st.fixed_dictionaries({"fill_count": JUNK, "order_id": JUNK}).map(
            lambda ch: json.dumps({**ack, **ch}, default=str)
        )
        | st.just('{"fill_count": 1.0, "remaining_count": 0, "order_id": "x"}')  # numbers
        | st.just(json.dumps({**ack, "average_fill_price": "1.7"}))  # absurd price
    )


@settings(max_examples=30, deadline=None)
@given(body=garbled(ACK))
def test_garbled_order_replies_never_become_results(key_file: Path, body: str) -> None:
    """Over real HTTP the fake answers the order POST with 201 and a garbled body: the
    venue raises OrderStateUnknown (look it up), or reports only a sane result."""

    async def scenario() -> None:
        async with FakeKalshi() as fake:
            key = serialization.load_pem_private_key(key_file.read_bytes(), None)
            assert isinstance(key, rsa.RSAPrivateKey)
            fake.register_key("k", key.public_key())
            fake.add_market("T-1")
            fake.malformed_next(body, method="POST", path="/portfolio/events/orders", status=201)
            venue = KalshiVenue(fake.base_url, "k", key_file)
            request = OrderRequest(
                "c", Contract(Venue.KALSHI, "T-1", "yes"), Action.BUY, D("0.99"), D(1)
            )
            try:
                result = await venue.place_order(request)
            except OrderStateUnknown:
                return
            finally:
                await venue.close()
            assert 0 <= result.avg_price <= 1 and 0 <= result.filled <= 1

    asyncio.run(scenario())


async def test_truncated_market_page_is_a_bad_response(tmp_path: Path) -> None:
    async with FakeKalshi() as fake:
        fake.add_market("T-1")
        fake.malformed_next('{"events": [{"event_ticker": "T", "markets": [', path="/events")
        venue = KalshiVenue(fake.base_url)
        try:
            with pytest.raises(BadResponse):
                await venue.list_markets()
            fake.malformed_next('{"events": "not a list", "cursor": ""}', path="/events")
            with pytest.raises(BadResponse):
                await venue.list_markets()
            assert [m.market_id for m in await venue.list_markets()] == ["T-1"]
        finally:
            await venue.close()
