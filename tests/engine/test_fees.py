"""A Kalshi series fee change priced from the moment it takes effect, through the real
engine and Kalshi adapter against the fake over loopback, with the engine's clock
injected: a change announced before the markets were listed, one announced after
(seen by the adapter's fee refresh, which re-prices the listed markets), one already in
force when first seen, and a schedule that could not be read for too long (nothing
priced until it is read again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest

from predarb.arbitrage.fees import fee_for_levels, kalshi_schedule
from predarb.domain import Market, Opportunity, Venue
from predarb.engine import Engine
from predarb.notify.console import ConsoleNotifier
from predarb.store import Store
from predarb.venues.kalshi import KalshiVenue
from tests.engine.rig import BookVenue, Market2, book, settings
from tests.fakes.kalshi_server import FakeKalshi

pytestmark = pytest.mark.timeout(30)
D = Decimal
M = Market2(0)  # Kalshi KXT-0 (series KXT) against Polymarket 90
SERIES = "KXT"
ARB_K = "0.40"  # the Kalshi YES ask


@dataclass
class FeeRig:
    fake: FakeKalshi
    kalshi: KalshiVenue
    engine: Engine
    now: list[datetime]  # the engine's clock
    told: asyncio.Queue[list[Market]]  # markets the adapter re-priced

    async def kalshi_fee(self, at: datetime) -> Decimal | None:
        """The Kalshi leg's fee of the opportunity the engine finds at ``at``."""
        self.now[0] = at
        found = await self.engine.scan()
        if not found:
            return None
        (opp,) = found
        return _kalshi_leg(opp)[1]

    async def expect_fee(self, at: datetime, multiplier: int) -> None:
        self.now[0] = at
        (opp,) = await self.engine.scan()
        contracts, fee = _kalshi_leg(opp)
        assert fee == fee_for_levels(kalshi_schedule(D(multiplier)), [(D(ARB_K), contracts)])


def _kalshi_leg(opp: Opportunity) -> tuple[Decimal, Decimal]:
    (leg,) = [leg for leg in opp.legs if leg.contract.venue is Venue.KALSHI]
    assert leg.price == D(ARB_K)
    return leg.contracts, leg.fee


@pytest.fixture
async def fee_rig(store: Store) -> AsyncIterator[FeeRig]:
    async with FakeKalshi() as fake:
        fake.add_market(M.k_yes.market_id)
        # YES asks 0.40 (NO bids 0.60), NO asks 0.62: with Polymarket NO at 0.55, one
        # arbitrage (0.95 before fees) that stays one at twice the fee
        fake.set_book(M.k_yes.market_id, yes=[("0.38", 20)], no=[("0.60", 20)])
        kalshi = KalshiVenue(fake.base_url, max_backoff_s=0.01, fee_changes_s=0.05)
        poly = BookVenue(Venue.POLYMARKET)
        poly.markets.append(M.markets()[1])
        poly.books[M.p_no] = book(M.p_no, "0.55")
        poly.books[M.p_yes] = book(M.p_yes, "0.70")
        now = [datetime.now(UTC)]
        engine = Engine(
            settings(),
            store,
            {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly},
            ConsoleNotifier(StringIO()),
            mode="paper",
            pairs=[M.pair()],
            clock=lambda: now[0],
        )
        told: asyncio.Queue[list[Market]] = asyncio.Queue()
        kalshi.watch_markets(lambda kind, ms: kind == "fee" and told.put_nowait(list(ms)))
        try:
            yield FeeRig(fake, kalshi, engine, now, told)
        finally:
            await kalshi.close()


async def test_a_change_known_at_listing_is_priced_from_its_moment(fee_rig: FeeRig) -> None:
    at = datetime.now(UTC) + timedelta(hours=1)
    fee_rig.fake.schedule_series_fee(SERIES, at, 2)
    await fee_rig.engine._remember_markets()

    await fee_rig.expect_fee(at - timedelta(microseconds=1), 1)
    await fee_rig.expect_fee(at, 2)


async def test_a_change_announced_after_listing_is_priced_from_its_moment(
    fee_rig: FeeRig,
) -> None:
    """Announced once the markets were listed (the engine lists them every 15 minutes):
    the adapter's refresh reads it within ``fee_changes_s`` and re-prices the listed
    market, so the engine prices the change from the moment it takes effect."""
    await fee_rig.engine._remember_markets()
    at = datetime.now(UTC) + timedelta(hours=1)
    await fee_rig.expect_fee(at, 1)  # nothing announced yet

    fee_rig.fake.schedule_series_fee(SERIES, at, 2)
    await fee_rig.kalshi.connect()  # the refresh every fee_changes_s
    (market,) = await asyncio.wait_for(fee_rig.told.get(), 10)
    assert market.market_id == M.k_yes.market_id

    await fee_rig.expect_fee(at - timedelta(microseconds=1), 1)
    await fee_rig.expect_fee(at, 2)


async def test_a_change_already_in_force_when_first_seen_is_priced_at_once(
    fee_rig: FeeRig,
) -> None:
    """Announced and in force between two reads: only ``show_historical`` lists it,
    and it is priced from the next read, not an hour later when the series is read
    again."""
    await fee_rig.engine._remember_markets()
    fee_rig.fake.schedule_series_fee(SERIES, datetime.now(UTC) - timedelta(seconds=1), 2)

    await fee_rig.kalshi.refresh_fees()

    (market,) = fee_rig.told.get_nowait()
    assert market.fee is not None and market.fee.rate == D("0.14")
    await fee_rig.expect_fee(datetime.now(UTC), 2)
    # the fake charges it too
    assert fee_rig.fake.exchange.fee_multiplier(M.k_yes.market_id, datetime.now(UTC)) == 2


async def test_a_schedule_unread_for_too_long_prices_nothing_until_read(
    fee_rig: FeeRig,
) -> None:
    await fee_rig.engine._remember_markets()
    now = datetime.now(UTC)
    assert await fee_rig.kalshi_fee(now) is not None

    fee_rig.kalshi.fees.stale_s = 0.0  # the last good read is already too old
    fee_rig.fake.fail_next(503, path="/series/fee_changes", times=4)  # every retry
    await fee_rig.kalshi.refresh_fees()
    (market,) = fee_rig.told.get_nowait()
    assert market.fee is None and market.fee_changes == ()
    assert await fee_rig.kalshi_fee(now) is None  # never priced on a stale schedule

    fee_rig.kalshi.fees.stale_s = 600.0
    await fee_rig.kalshi.refresh_fees()  # read again
    (market,) = fee_rig.told.get_nowait()
    assert market.fee is not None
    await fee_rig.expect_fee(now, 1)
