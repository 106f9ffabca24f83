"""An order answered long after its reply timed out is never bought twice (issue 16,
finding 2): a Kalshi (or Polymarket) order that reaches the book 14 s late stays UNKNOWN (not
"cancelled"), no hedge buys that leg again meanwhile, the event is refused by risk, the
chat is told, and once the late order shows the execution is finished as what it is.
The same for Polymarket US across a restart: found by what the store recorded before
sending (the exchange has no client order id), never taken as "never arrived"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.arbitrage.fees import kalshi_schedule, polymarket_us_schedule
from predarb.config import Settings
from predarb.domain import (
    ArbKind,
    Contract,
    ExecutionStatus,
    FeeSchedule,
    Leg,
    Opportunity,
    OrderStatus,
    Venue,
)
from predarb.engine import Engine
from predarb.execution.hedging import HedgePolicy
from predarb.execution.partial import resolve_partial
from predarb.execution.placer import Placer
from predarb.execution.recovery import recover
from predarb.notify.base import AlertKind
from predarb.store import Store
from predarb.venues.base import VenueClient
from predarb.venues.kalshi import KalshiVenue
from predarb.venues.polymarket_us import PolymarketUSVenue
from tests.execution.world import (
    TICKER,
    Fakes,
    fee_of,
    make_venues,
    opportunity,
    running_fakes,
)
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_us_server import FakePolymarketUS
from tests.settlement.test_engine_jobs import Collect

POLICY = HedgePolicy(max_loss_per_contract=Decimal("0.50"), unwind_steps=3)  # would hedge


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[Fakes]:
    async with running_fakes(tmp_path) as f:
        yield f


@pytest.fixture
async def venues(fakes: Fakes) -> AsyncIterator[dict[Venue, VenueClient]]:
    v = make_venues(fakes.cfg, kalshi_timeout_s=1.0)
    yield v
    for client in v.values():
        await client.close()


def _clock() -> datetime:
    return datetime.now(UTC)


async def _holdings(store: Store, execution_id: str) -> dict[str, Decimal]:
    rows = await store.query(
        "SELECT venue, contracts FROM fills WHERE execution_id = ? AND action = 'buy'",
        (execution_id,),
    )
    out: dict[str, Decimal] = {}
    for venue, n in rows:
        out[venue] = out.get(venue, Decimal(0)) + Decimal(n)
    return out


async def test_a_kalshi_order_answered_14s_late_is_not_bought_twice(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    settings = Settings(_env_file=None, executor_hedge_budget_cents=Decimal(50))
    notifier = Collect()
    engine = Engine(settings, store, venues, notifier, mode="live")
    await engine.control.load(True)
    opp = opportunity(fakes.cfg)
    fakes.kalshi.delay_next_order(14.0)

    placement = await engine.execute(opp)  # the Kalshi reply times out after 1 s

    assert placement.status is ExecutionStatus.EXPOSED
    record = await store.execution(placement.execution_id)
    assert record is not None
    kalshi = next(o for o in record.orders if o.venue is Venue.KALSHI)
    assert kalshi.status is not OrderStatus.CANCELED and not kalshi.status.final
    assert [o.role for o in record.orders] == ["leg", "leg"]  # no hedge, no unwind
    assert [a.kind for a in notifier.alerts] == [AlertKind.EXPOSED]
    told = notifier.alerts[0].plain
    assert "ORDER STATE UNKNOWN" in told and "never sent again" in told
    assert "PARTIAL FILL" not in told
    refused = await engine.check(opportunity(fakes.cfg))
    assert not refused.approved and refused.code == "event_exposed"
    assert placement.execution_id in engine.unknown.following

    await asyncio.wait_for(engine.unknown.tasks[placement.execution_id], timeout=40)

    assert fakes.kalshi.order_posts == 1  # the leg was bought once
    done = await store.execution(placement.execution_id)
    assert done is not None
    assert done.status is ExecutionStatus.SUCCESS, done.note
    assert [o.role for o in done.orders] == ["leg", "leg"]
    assert await _holdings(store, done.id) == {"kalshi": Decimal(5), "polymarket": Decimal(5)}
    assert notifier.alerts[-1].kind is AlertKind.EXECUTED
    assert "now known" in notifier.alerts[-1].plain
    assert (await engine.check(opportunity(fakes.cfg))).code != "event_exposed"
    await engine.shutdown()


async def test_a_polymarket_order_answered_14s_late_is_not_bought_twice(
    store: Store, fakes: Fakes
) -> None:
    venues = make_venues(fakes.cfg, poly_timeout_s=1.0)
    settings = Settings(_env_file=None, executor_hedge_budget_cents=Decimal(50))
    notifier = Collect()
    engine = Engine(settings, store, venues, notifier, mode="live")
    try:
        await engine.control.load(True)
        fakes.poly.delay_next_order(14.0)

        placement = await engine.execute(opportunity(fakes.cfg))  # times out after 1 s

        assert placement.status is ExecutionStatus.EXPOSED
        record = await store.execution(placement.execution_id)
        assert record is not None
        poly = next(o for o in record.orders if o.venue is Venue.POLYMARKET)
        assert poly.status is not OrderStatus.CANCELED and not poly.status.final
        assert poly.venue_order_id  # the order hash, known before sending: looked up by it
        assert [o.role for o in record.orders] == ["leg", "leg"]  # no hedge, no unwind
        assert [a.kind for a in notifier.alerts] == [AlertKind.EXPOSED]
        told = notifier.alerts[0].plain
        assert "ORDER STATE UNKNOWN" in told and "PARTIAL FILL" not in told
        refused = await engine.check(opportunity(fakes.cfg))
        assert not refused.approved and refused.code == "event_exposed"

        await asyncio.wait_for(engine.unknown.tasks[placement.execution_id], timeout=40)

        assert fakes.poly_posts() == 1  # the leg was bought once
        assert len(fakes.kalshi_orders()) == 1  # and nothing hedged on the other side
        done = await store.execution(placement.execution_id)
        assert done is not None
        assert done.status is ExecutionStatus.SUCCESS, done.note
        assert [o.role for o in done.orders] == ["leg", "leg"]
        held = await _holdings(store, done.id)
        assert held == {"kalshi": Decimal(5), "polymarket": Decimal(5)}
        assert notifier.alerts[-1].kind is AlertKind.EXECUTED
        assert "now known" in notifier.alerts[-1].plain
    finally:
        await engine.shutdown()


async def test_an_order_the_venue_never_saw_is_taken_as_lost_only_after_the_window(
    store: Store, venues: dict[Venue, VenueClient], fakes: Fakes
) -> None:
    placer = Placer(store, venues, mode="live", clock=_clock)
    # A 503 before the order reached the book: the venue never sees it.
    fakes.kalshi.fail_next(503, method="POST", path="/portfolio/events/orders")
    placement = await placer.execute(opportunity(fakes.cfg))
    outcome = await resolve_partial(placer, placement.execution_id, POLICY, fee_of)
    assert outcome.status is ExecutionStatus.EXPOSED  # unknown: nothing else sent
    assert fakes.kalshi_orders() == []

    # A restart soon after: recovery still does not take "not found" as "never arrived".
    report = await recover(placer, POLICY, fee_of)
    assert report.unknown == [placement.execution_id]
    assert fakes.kalshi_orders() == []

    # Once the window is over, it is: the Polymarket leg is then hedged on Kalshi.
    later = Placer(store, venues, mode="live", clock=lambda: _clock() + timedelta(minutes=6))
    report = await recover(later, POLICY, fee_of)
    assert report.finished == {placement.execution_id: ExecutionStatus.HEDGED}
    assert report.unknown == []
    done = await store.execution(placement.execution_id)
    assert done is not None
    lost = next(o for o in done.orders if o.role == "leg" and o.venue is Venue.KALSHI)
    assert lost.status is OrderStatus.CANCELED and lost.error_code == "not_found_after_window"
    assert len(fakes.kalshi_orders()) == 1  # the hedge, the only Kalshi order


US_SLUG = "safe-event-2026-12-31"
K_YES = Contract(Venue.KALSHI, TICKER, "yes")
US_NO = Contract(Venue.POLYMARKET_US, US_SLUG, "No", "short")


def us_fee_of(contract: Contract) -> FeeSchedule:
    if contract.venue is Venue.KALSHI:
        return kalshi_schedule()
    return polymarket_us_schedule(Decimal("0.003"))


def us_opportunity() -> Opportunity:
    """Kalshi YES at 0.40 + Polymarket US NO at 0.55 (its long side bid 0.45), 5 each."""
    n, k, p = Decimal(5), Decimal("0.40"), Decimal("0.55")
    legs = (
        Leg(K_YES, "yes", k, n, k * n, Decimal("0.0840")),
        Leg(US_NO, "no", p, n, p * n, Decimal("0.01")),
    )
    cost, fees = k * n + p * n, Decimal("0.0940")
    return Opportunity(
        pair_id="pair-us",
        kind=ArbKind.YES_NO,
        event="Safe event",
        legs=legs,
        contracts=n,
        cost=cost,
        fees=fees,
        payout=n,
        profit=n - cost - fees,
        roi_pct=((n - cost - fees) / (cost + fees) * 100).quantize(Decimal("0.0001")),
        quote_ts=datetime.now(UTC),
    )


async def test_a_polymarket_us_order_lost_across_a_restart_is_not_bought_twice(
    store: Store, tmp_path: Path
) -> None:
    async with FakeKalshi() as kalshi, FakePolymarketUS() as us:
        key_path = tmp_path / "kalshi.pem"
        kalshi_key = kalshi.new_key(key_path)
        kalshi.add_market(TICKER)
        kalshi.exchange.balance = Decimal(100)
        kalshi.set_book(TICKER, yes=[("0.38", "10")], no=[("0.60", "20")])  # YES asks 0.40
        us_key, us_secret = us.new_key()
        us.add_market(US_SLUG, "Safe event")
        us.set_book(US_SLUG, bids=[("0.45", 20)], offers=[("0.50", 20)])  # NO asks 0.55
        us.exchange.balance = Decimal(100)
        made: list[VenueClient] = []

        def start_bot() -> dict[Venue, VenueClient]:
            venues: dict[Venue, VenueClient] = {
                Venue.KALSHI: KalshiVenue(
                    kalshi.base_url, kalshi_key, key_path, max_backoff_s=0.01
                ),
                Venue.POLYMARKET_US: PolymarketUSVenue(
                    us.url, us.url, us_key, us_secret, timeout_s=1.0, max_backoff_s=0.01
                ),
            }
            made.extend(venues.values())
            return venues

        try:
            # The US leg reaches the matching engine only after the bot has stopped.
            us.hold_next_order()
            placer = Placer(store, start_bot(), mode="live", clock=_clock)
            placement = await placer.execute(us_opportunity())
            outcome = await resolve_partial(placer, placement.execution_id, POLICY, us_fee_of)
            assert outcome.status is ExecutionStatus.EXPOSED  # unknown: nothing else sent
            record = await store.execution(placement.execution_id)
            assert record is not None
            us_leg = next(o for o in record.orders if o.venue is Venue.POLYMARKET_US)
            assert not us_leg.status.final
            assert us_leg.venue_order_id.startswith("lookup:")  # recorded before sending

            for client in made:  # the bot stops; what it remembered goes with it
                await client.close()
            us.release_held()
            await asyncio.wait_for(us.arrived.wait(), timeout=10)  # filled meanwhile

            # Restarted after the 5-minute window: the filled order is found, not
            # taken as "never arrived" (which would hedge by buying the leg again).
            later = Placer(
                store, start_bot(), mode="live", clock=lambda: _clock() + timedelta(minutes=6)
            )
            report = await recover(later, POLICY, us_fee_of)
            assert report.finished == {placement.execution_id: ExecutionStatus.SUCCESS}
            assert report.unknown == []
            assert us.order_posts == 1  # the leg was bought once
            assert len(kalshi.exchange.orders) == 1  # nothing hedged on the other side
            done = await store.execution(placement.execution_id)
            assert done is not None
            assert [o.role for o in done.orders] == ["leg", "leg"]
            found = next(o for o in done.orders if o.venue is Venue.POLYMARKET_US)
            assert found.status is OrderStatus.FILLED and found.avg_price == Decimal("0.55")
            held = await _holdings(store, done.id)
            assert held == {"kalshi": Decimal(5), "polymarket_us": Decimal(5)}
        finally:
            us.release_held()
            for client in made:
                await client.close()
