"""Kalshi exchange shards, and the other wire rules of venue-apis.md 0.1, against the
fake over loopback: shards parsed from events and markets, balances per shard,
orders and cancels routed to their shard, transfers, the bulk book read, fee
schedules, series from the event, and records older than the live window."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from predarb.domain import Action, Contract, OrderRequest, OrderStatus, TimeInForce, Venue
from predarb.venues.kalshi import KalshiVenue, wire
from tests.fakes.kalshi_server import FakeKalshi

D = Decimal
TENNIS = "KXATPMATCH-26DEC31SINALC-SIN"
SHARD = 3


def _tennis(fake: FakeKalshi) -> None:
    fake.add_market(TENNIS, exchange_index=SHARD)
    fake.set_book(TENNIS, yes=[("0.40", 10)], no=[("0.55", 10)])  # YES asks 0.45


def _buy(coid: str, price: str = "0.45", tif: TimeInForce = TimeInForce.FOK) -> OrderRequest:
    return OrderRequest(
        coid, Contract(Venue.KALSHI, TENNIS, "yes"), Action.BUY, D(price), D(2), tif
    )


async def test_shards_come_from_events_and_markets(venue: KalshiVenue, fake: FakeKalshi) -> None:
    _tennis(fake)
    listed = {m.market_id: m for m in await venue.list_markets()}
    assert listed[TENNIS].exchange_index == SHARD
    assert listed["KXTEST-26DEC31-A"].exchange_index == 0
    # an object recorded before shards existed is on shard 0; a bad index is refused
    (fetched,) = await venue.fetch_markets(tickers=[TENNIS])
    assert fetched.exchange_index == SHARD and venue.shard_of(TENNIS) == SHARD
    raw = fake.exchange.market(TENNIS)
    for bad in (-1, "3", True, 101):
        with pytest.raises(wire.WireError, match="exchange_index"):
            wire.parse_market({**raw, "exchange_index": bad})


async def test_balances_per_shard_and_an_order_paid_from_its_own(
    venue: KalshiVenue, fake: FakeKalshi
) -> None:
    _tennis(fake)
    await venue.list_markets()
    fake.exchange.balances = {0: D(100), SHARD: D(0)}
    assert await venue.get_shard_balances() == {0: D(100), SHARD: D(0)}
    assert await venue.get_balance() == D(100)  # the total over shards
    refused = await venue.place_order(_buy("c-1"))
    assert refused.status is OrderStatus.REJECTED and refused.error_code == "insufficient_balance"
    assert fake.order_bodies[-1]["exchange_index"] == SHARD  # sent straight to its shard

    fake.exchange.transfer_pending_reads = 1
    transfer_id = await venue.transfer(D("1.00005"), SHARD)  # rounded up to the centicent
    assert fake.exchange.transfers[transfer_id]["amount"] == "1.0001"
    assert await venue.transfer_status(transfer_id) == "pending"
    assert await venue.transfer_status(transfer_id) == "complete"
    assert await venue.get_shard_balances() == {0: D("98.9999"), SHARD: D("1.0001")}
    filled = await venue.place_order(_buy("c-2"))
    assert filled.status is OrderStatus.FILLED and filled.filled == 2
    (fill,) = [f for f in fake.exchange.fills if f["ticker"] == TENNIS]
    assert fill["exchange_index"] == SHARD


async def test_a_cancel_of_a_shard_3_order_reaches_it(
    venue: KalshiVenue, fake: FakeKalshi, key_path: Path
) -> None:
    _tennis(fake)
    await venue.list_markets()
    fake.exchange.balances = {0: D(0), SHARD: D(50)}
    rest = await venue.place_order(_buy("r-1", "0.30", TimeInForce.GTC))
    assert rest.status is OrderStatus.OPEN
    # as the docs say, a cancel without routing looks on shard 0 only and gets 404
    async with httpx.AsyncClient() as http:
        path = f"/trade-api/v2/portfolio/events/orders/{rest.venue_order_id}"
        headers = venue._signer("DELETE", path, b"")  # type: ignore[misc]
        unrouted = await http.delete(
            fake.base_url.removesuffix("/trade-api/v2") + path, headers=headers
        )
    assert unrouted.status_code == 404
    await venue.cancel_order(rest.venue_order_id)
    assert fake.cancels[-1][1] == {"market_ticker": TENNIS, "exchange_index": str(SHARD)}
    assert fake.order_by_client_id("r-1")["status"] == "canceled"  # type: ignore[index]

    # a later run knows nothing of the order: it reads it (every shard) and routes the cancel
    again = await venue.place_order(_buy("r-2", "0.30", TimeInForce.GTC))
    restarted = KalshiVenue(fake.base_url, next(iter(fake.keys)), key_path)
    try:
        (left,) = await restarted.open_orders()
        await restarted.cancel_order(left.venue_order_id)
        fresh = KalshiVenue(fake.base_url, next(iter(fake.keys)), key_path)
        try:
            await fresh.cancel_order(again.venue_order_id)  # an id and nothing else
        finally:
            await fresh.close()
    finally:
        await restarted.close()
    assert fake.order_by_client_id("r-2")["status"] == "canceled"  # type: ignore[index]
    assert fake.cancels[-1][1]["market_ticker"] == TENNIS


async def test_bulk_books_send_repeated_tickers_and_fall_back_per_market(
    venue: KalshiVenue, fake: FakeKalshi
) -> None:
    _tennis(fake)
    contracts = [Contract(Venue.KALSHI, t, "yes") for t in (TENNIS, "KXTEST-26DEC31-A")]
    books = await venue.get_order_books(contracts)
    assert set(books) == set(contracts)
    assert [p for _, p, _ in fake.requests].count("/markets/orderbooks") == 1
    # the documented form is an exploded array: one comma-joined value is one ticker
    async with httpx.AsyncClient() as http:
        joined = await http.get(
            f"{fake.base_url}/markets/orderbooks", params={"tickers": f"{TENNIS},X"}
        )
        too_many = await http.get(
            f"{fake.base_url}/markets/orderbooks", params={"tickers": [f"T{i}" for i in range(101)]}
        )
    assert joined.json() == {"orderbooks": []} and too_many.status_code == 400
    fake.books_refused = True
    venue._bulk_refused_at = None
    fallback = await venue.get_order_books(contracts)
    assert set(fallback) == set(contracts)
    assert fallback[contracts[0]].best_ask == books[contracts[0]].best_ask
    per_market = [p for _, p, _ in fake.requests if p.endswith("/orderbook")]
    assert sorted(per_market) == sorted(
        f"/markets/{t}/orderbook" for t in (TENNIS, "KXTEST-26DEC31-A")
    )
    bulk_before = [p for _, p, _ in fake.requests].count("/markets/orderbooks")
    await venue.get_order_books(contracts)  # refused a moment ago: not asked again yet
    assert [p for _, p, _ in fake.requests].count("/markets/orderbooks") == bulk_before


async def test_a_series_fee_change_applies_from_the_moment_it_takes_effect(
    venue: KalshiVenue, fake: FakeKalshi
) -> None:
    at = datetime.now(UTC) + timedelta(hours=1)
    fake.schedule_series_fee("KXTEST", at, 2)
    (market,) = await venue.list_markets()
    assert market.fee is not None and market.fee.rate == D("0.07")
    before, after = market.fee_at(at - timedelta(microseconds=1)), market.fee_at(at)
    assert before is not None and before.rate == D("0.07")
    assert after is not None and after.rate == D("0.14")
    # the fake charges the same schedule
    assert fake.exchange.fee_multiplier("KXTEST-26DEC31-A", at) == 2


async def test_event_fee_overrides_follow_their_changes_and_updates(
    venue: KalshiVenue, fake: FakeKalshi
) -> None:
    at = datetime.now(UTC) + timedelta(minutes=5)
    event = "KXTEST-26DEC31"
    fake.exchange.event_fee_changes.append(
        {
            "id": "e1",
            "event_ticker": event,
            "series_ticker": "KXTEST",
            "fee_type_override": "quadratic",
            "fee_multiplier_override": 3,
            "scheduled_ts": at.isoformat().replace("+00:00", "Z"),
        }
    )
    (market,) = await venue.list_markets()
    changed = market.fee_at(at)
    assert market.fee is not None and market.fee.rate == D("0.07")
    assert changed is not None and changed.rate == D("0.21")
    venue.apply_event_fee_update(
        {"event_ticker": event, "fee_type_override": "flat", "fee_multiplier_override": 1}
    )
    now = datetime.now(UTC)
    # a fee type without a published formula: never priced
    assert venue.fee_book.timeline("KXTEST", event, now)[0] is None
    venue.apply_event_fee_update(
        {"event_ticker": event, "fee_type_override": None, "fee_multiplier_override": None}
    )
    # from the moment the clear arrived (before it, "flat" was in force)
    cleared = venue.fee_book.timeline("KXTEST", event, datetime.now(UTC))[0]
    assert cleared is not None and cleared.rate == D("0.07")


async def test_the_series_comes_from_the_event_even_with_dashes(
    venue: KalshiVenue, fake: FakeKalshi
) -> None:
    combo = "KXMVECROSSCATEGORY0-SHARD1-26DEC31ABC-1"
    fake.add_market(combo, event_ticker="KXMVECROSSCATEGORY0-SHARD1-26DEC31ABC", exchange_index=1)
    fake.set_event(
        "KXMVECROSSCATEGORY0-SHARD1-26DEC31ABC", series_ticker="KXMVECROSSCATEGORY0-SHARD1"
    )
    fake.set_series("KXMVECROSSCATEGORY0-SHARD1", fee_multiplier=0.5)
    market = await venue.get_market(combo)
    assert market.series == "KXMVECROSSCATEGORY0-SHARD1" and market.exchange_index == 1
    assert market.fee is not None and market.fee.rate == D("0.035")
    assert ("GET", "/series/KXMVECROSSCATEGORY0", False) not in fake.requests


async def test_records_older_than_the_live_window_come_from_historical(
    venue: KalshiVenue, fake: FakeKalshi, key_path: Path
) -> None:
    placed = await venue.place_order(
        OrderRequest(
            "old-1", Contract(Venue.KALSHI, "KXTEST-26DEC31-A", "yes"), Action.BUY, D("0.45"), D(1)
        )
    )
    assert placed.status is OrderStatus.FILLED
    fake.settle("KXTEST-26DEC31-A", "yes")
    fake.archive("KXTEST-26DEC31-A")
    restarted = KalshiVenue(fake.base_url, next(iter(fake.keys)), key_path)
    try:
        resolution = await restarted.get_resolution("KXTEST-26DEC31-A")
        assert resolution is not None and resolution.payouts["yes"] == 1
        found = await restarted.get_order("old-1")
        assert found is not None and found.status is OrderStatus.FILLED and found.filled == 1
        market = await restarted.get_market("KXTEST-26DEC31-A")
        assert market.market_id == "KXTEST-26DEC31-A"
    finally:
        await restarted.close()
    paths = [p for _, p, _ in fake.requests]
    assert "/historical/markets/KXTEST-26DEC31-A" in paths and "/historical/orders" in paths


async def test_the_official_sdk_reads_shard_balances_and_books(
    fake: FakeKalshi, key_path: Path
) -> None:
    """kalshi_python_sync 3.2.0's requests pass the fake (its models predate today's
    bodies, so the raw responses are read)."""
    sdk = pytest.importorskip("kalshi_python_sync")
    _tennis(fake)
    fake.exchange.balances = {0: D(10), SHARD: D(5)}
    config = sdk.Configuration(host=fake.base_url)
    config.api_key_id = fake.new_key(key_path)
    config.private_key_pem = key_path.read_text()
    client = sdk.KalshiClient(config)

    def calls() -> tuple[object, object]:
        balance = client.get_balance_without_preload_content()
        book = client.get_market_orderbook_without_preload_content(TENNIS)
        return json.loads(balance.data), json.loads(book.data)

    balance, book = await asyncio.to_thread(calls)
    assert balance["balance_breakdown"] == [  # type: ignore[index]
        {"balance": "10.0000", "exchange_index": 0},
        {"balance": "5.0000", "exchange_index": SHARD},
    ]
    assert book["orderbook_fp"]["no_dollars"] == [["0.5500", "10.00"]]  # type: ignore[index]
