"""The circuit breaker in front of the real Kalshi adapter, against the fake exchange:
down after repeated failures (no more requests for market data), probed after a
backoff, back after one good probe; order semantics untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.domain import Action, Contract, OrderRequest, TimeInForce, Venue
from predarb.venues.base import OrderRejected, OrderStateUnknown, VenueUnavailable
from predarb.venues.breaker import CircuitBreaker, GuardedVenue, is_venue_failure
from predarb.venues.kalshi import KalshiVenue
from tests.fakes.kalshi_server import FakeKalshi

TICKER = "KXBRK-26DEC31-A"
YES = Contract(Venue.KALSHI, TICKER, "yes")


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Events:
    seen: list[str] = field(default_factory=list)

    async def down(self, reason: str) -> None:
        self.seen.append(f"down: {reason}")

    async def up(self, down_for_s: float) -> None:
        self.seen.append(f"up after {down_for_s:.0f}")


@dataclass
class Rig:
    fake: FakeKalshi
    venue: GuardedVenue
    clock: Clock
    events: Events

    @property
    def breaker(self) -> CircuitBreaker:
        return self.venue.breaker

    def requests(self) -> int:
        return len(self.fake.requests)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with FakeKalshi() as fake:
        key_id = fake.new_key(tmp_path / "k.pem")
        fake.add_market(TICKER)
        fake.set_book(TICKER, yes=[("0.38", 10)], no=[("0.60", 10)])
        fake.exchange.balance = Decimal(100)
        inner = KalshiVenue(fake.base_url, key_id, tmp_path / "k.pem", max_backoff_s=0.01)
        clock, events = Clock(), Events()
        breaker = CircuitBreaker(
            "kalshi", threshold=3, base_backoff_s=5, on_down=events.down, on_up=events.up
        )
        breaker.clock = clock
        venue = GuardedVenue(inner, breaker)
        try:
            yield Rig(fake, venue, clock, events)
        finally:
            await venue.close()


async def test_down_after_repeated_failures_probed_and_back(rig: Rig) -> None:
    assert await rig.venue.get_order_books([YES])  # healthy
    rig.fake.fail_next(503, times=1000)
    # The adapter skips a book it could not read; the venue's health says why.
    assert await rig.venue.get_order_books([YES]) == {}
    assert rig.breaker.failures == 1
    for _ in range(2):
        with pytest.raises(VenueUnavailable):
            await rig.venue.get_balance()
    assert not rig.breaker.up
    assert rig.events.seen and rig.events.seen[0].startswith("down: VenueUnavailable")
    assert len(rig.events.seen) == 1

    # Down: market data is refused without touching the venue.
    before = rig.requests()
    with pytest.raises(VenueUnavailable, match="circuit open"):
        await rig.venue.get_order_books([YES])
    assert rig.requests() == before

    # No probe before the backoff; a failed probe doubles it.
    assert not await rig.venue.probe() and rig.requests() == before
    rig.clock.now += 5
    assert not await rig.venue.probe()
    probed = rig.requests()
    assert probed > before and rig.breaker.backoff_s == 10

    rig.fake.faults.clear()
    rig.clock.now += 9
    assert not await rig.venue.probe() and rig.requests() == probed
    rig.clock.now += 1
    assert await rig.venue.probe()
    assert rig.events.seen[-1] == "up after 15"
    assert await rig.venue.get_order_books([YES])


async def test_a_lost_order_reply_stays_order_state_unknown(rig: Rig) -> None:
    rig.fake.drop_next_order_reply()
    order = OrderRequest("coid-lost-1", YES, Action.BUY, Decimal("0.40"), Decimal(1))
    with pytest.raises(OrderStateUnknown):
        await rig.venue.place_order(order)
    assert rig.breaker.failures == 1
    # Looking it up goes through even while the venue is marked down.
    rig.breaker.failures = rig.breaker.threshold - 1
    rig.fake.fail_next(503, path="/portfolio/balance", times=4)
    with pytest.raises(VenueUnavailable):
        await rig.venue.get_balance()
    assert not rig.breaker.up
    found = await rig.venue.get_order("coid-lost-1")
    assert found is not None and found.filled == 1
    assert len(rig.fake.order_by_client_id("coid-lost-1") or {}) > 0


async def test_a_refusal_is_an_answer_not_a_failure(rig: Rig) -> None:
    rig.breaker.failures = 2
    order = OrderRequest(
        "coid-refused", YES, Action.BUY, Decimal("0.10"), Decimal(5), tif=TimeInForce.FOK
    )
    result = await rig.venue.place_order(order)  # a FOK the book cannot fill: killed
    assert not result.filled
    assert rig.breaker.failures == 0 and rig.breaker.up


@pytest.mark.parametrize(
    ("exc", "counted"),
    [
        (VenueUnavailable("kalshi", "timeout"), True),
        (OrderStateUnknown("kalshi", "lost"), True),
        (OrderRejected("kalshi", "no", status=400), False),
        (KeyError("bug"), True),
    ],
)
def test_what_counts_as_a_failure(exc: Exception, counted: bool) -> None:
    assert is_venue_failure(exc) is counted


async def test_books_missing_from_a_healthy_venue_are_no_failure(rig: Rig) -> None:
    rig.breaker.failures = 2
    gone = Contract(Venue.KALSHI, "KXNOPE-26DEC31-Z", "yes")
    assert await rig.venue.get_order_books([gone]) == {}
    assert rig.breaker.failures == 0 and rig.breaker.up
