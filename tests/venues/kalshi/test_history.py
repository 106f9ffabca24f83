"""Orders and fills older than the live window, against the fake over loopback: an
archived order found by the venue id recovery stores (``/historical/orders`` has no id
filter), its fills from ``/historical/fills``, fills split by the cutoff merged, and the
cutoff keeping a lost reply's lookups out of the archive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.domain import Action, Contract, OrderRequest, OrderStatus, Venue
from predarb.venues.base import OrderStateUnknown
from predarb.venues.kalshi import KalshiVenue
from predarb.venues.kalshi.history import Cutoffs, parse_cutoffs
from predarb.venues.kalshi.wire import WireError
from tests.fakes.kalshi_exchange import rfc3339
from tests.fakes.kalshi_server import FakeKalshi
from tests.venues.kalshi.conftest import TICKER

D = Decimal
TENNIS = "KXATPMATCH-26DEC31SINALC-SIN"


def _buy(coid: str, count: str, ticker: str = TICKER, price: str = "0.50") -> OrderRequest:
    return OrderRequest(coid, Contract(Venue.KALSHI, ticker, "yes"), Action.BUY, D(price), D(count))


@pytest.fixture
async def restarted(fake: FakeKalshi, key_path: Path) -> AsyncIterator[KalshiVenue]:
    """A later run: it knows nothing of the orders the first one sent."""
    client = KalshiVenue(fake.base_url, next(iter(fake.keys)), key_path, max_backoff_s=0.05)
    yield client
    await client.close()


def _paths(fake: FakeKalshi, since: int = 0) -> list[str]:
    return [p for _, p, _ in fake.requests[since:]]


async def test_an_archived_order_is_found_by_the_venue_id_recovery_stored(
    venue: KalshiVenue, fake: FakeKalshi, restarted: KalshiVenue
) -> None:
    fake.add_market(TENNIS, exchange_index=3)
    fake.set_book(TENNIS, no=[("0.55", 5), ("0.52", 5)])
    fake.exchange.balances[3] = D(50)
    placed = await venue.place_order(_buy("old-1", "8", TENNIS))  # 5 @ 0.45, 3 @ 0.48
    assert placed.status is OrderStatus.FILLED and placed.filled == 8
    fake.archive_before(datetime.now(UTC) + timedelta(seconds=1))
    before = len(fake.requests)

    found = await restarted.get_order("old-1", placed.venue_order_id)  # as recovery asks

    assert found is not None and found.venue_order_id == placed.venue_order_id
    assert (found.status, found.filled, found.avg_price) == (OrderStatus.FILLED, 8, D("0.46125"))
    paths = _paths(fake, before)
    assert paths[0] == f"/portfolio/orders/{placed.venue_order_id}"  # 404: archived
    assert "/historical/orders" in paths
    assert restarted.shard_of(TENNIS) == 3  # the archive says where it was, too

    fills = await restarted.get_fills("old-1")
    assert sorted((f.price, f.contracts) for f in fills) == [(D("0.45"), 5), (D("0.48"), 3)]
    assert {f.client_order_id for f in fills} == {"old-1"}
    assert "/historical/fills" in _paths(fake, before)
    # by the venue id alone (a cancel of an unknown order asks so), nothing live to cancel
    assert await restarted.get_order("", placed.venue_order_id) is not None


async def test_fills_split_by_the_cutoff_are_merged(
    venue: KalshiVenue, fake: FakeKalshi, restarted: KalshiVenue
) -> None:
    placed = await venue.place_order(_buy("split-1", "8"))  # 5 @ 0.45, 3 @ 0.50
    assert placed.filled == 8
    first, second = [f for f in fake.exchange.fills if f["order_id"] == placed.venue_order_id]
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    first["created_time"] = rfc3339(an_hour_ago)  # a fill before the cutoff...
    fake.archive_before(an_hour_ago + timedelta(minutes=30))  # ...the order after it

    fills = await restarted.get_fills("split-1")

    assert sorted(f.fill_id for f in fills) == sorted([first["fill_id"], second["fill_id"]])
    assert sum(f.contracts for f in fills) == 8
    paths = _paths(fake)
    assert "/historical/orders" not in paths  # the order itself is still live
    assert "/historical/fills" in paths


async def test_a_lost_reply_is_never_looked_for_in_the_archive(
    fake: FakeKalshi, key_path: Path
) -> None:
    """The cutoff is months back: an order sent now cannot be archived, so the lookups
    of a lost reply read the live list only (one cutoff read for all of them)."""
    fake.new_key(key_path)
    fake.add_market(TICKER)
    fake.set_book(TICKER, no=[("0.55", 5)])
    fake.archive_before(datetime.now(UTC) - timedelta(days=90))
    venue = KalshiVenue(fake.base_url, next(iter(fake.keys)), key_path, timeout_s=0.3)
    try:
        fake.delay_next_order(1.5)
        with pytest.raises(OrderStateUnknown):
            await venue.place_order(_buy("lost-1", "1"))
        before = len(fake.requests)
        for _ in range(3):
            assert await venue.get_order("lost-1") is None  # not arrived yet
    finally:
        await venue.close()
    paths = _paths(fake, before)
    assert paths.count("/portfolio/orders") == 3
    assert "/historical/orders" not in paths and paths.count("/historical/cutoff") <= 1


def test_the_cutoff_needs_both_of_its_order_and_fill_fields() -> None:
    body = {
        "market_settled_ts": "2026-09-01T00:00:00Z",
        "trades_created_ts": "2026-09-02T00:00:00Z",
        "orders_updated_ts": "2026-09-03T00:00:00Z",
    }
    assert parse_cutoffs(body) == Cutoffs(
        datetime(2026, 9, 3, tzinfo=UTC), datetime(2026, 9, 2, tzinfo=UTC)
    )
    for missing in ("trades_created_ts", "orders_updated_ts"):
        with pytest.raises(WireError, match="required"):
            parse_cutoffs({k: v for k, v in body.items() if k != missing})
