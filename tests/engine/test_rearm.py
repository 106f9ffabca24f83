"""A standing opportunity is traded as soon as the refusal that held it clears, though
no book moves: trading turned on again, a cooldown that ends, a venue that comes back.
The engine runs its live loop (``run``) on books polled every ``PREDARB_POLL_INTERVAL_S``;
the arbitrage's books never change after it appears."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from predarb.domain import Venue
from predarb.store import Store
from predarb.venues.base import VenueUnavailable
from predarb.venues.breaker import GuardedVenue
from tests.engine.rig import ARB_K, Rig, rig
from tests.fakes.scripted_venue import KILL

INTERVAL_S = 0.5  # the scan interval: PREDARB_POLL_INTERVAL_S


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running(r: Rig) -> AsyncIterator[Rig]:
    await r.engine.start()
    loop = asyncio.create_task(r.engine.run())
    try:
        yield r
    finally:
        r.engine.stop()
        await loop
        await r.engine.shutdown()


def refused(r: Rig, code: str) -> Callable[[], bool]:
    return lambda: r.engine.stats.last_rejection.get("pair-0") == code


def both_legs_after(r: Rig, t0: float) -> float | None:
    """Seconds from ``t0`` until both legs of one execution had left, if they have."""
    k = [t for t in r.kalshi.sent_at if t >= t0]
    p = [t for t in r.poly.sent_at if t >= t0]
    return max(k[0], p[0]) - t0 if k and p else None


async def test_start_after_stop_trades_the_standing_arbitrage_within_one_interval(
    store: Store,
) -> None:
    async with running(rig(store, 1, predarb_poll_interval_s=INTERVAL_S)) as r:
        await r.engine.control.stop("/stop from the chat")
        r.arm(r.markets[0])
        await until(refused(r, "kill_switch"))
        scans = r.engine.stats.scans
        await until(lambda: r.engine.stats.scans >= scans + 2)  # it stands, refused
        assert r.orders_on(r.markets[0]) == 0
        t0 = asyncio.get_running_loop().time()
        assert await r.engine.control.start() is None
        await until(lambda: both_legs_after(r, t0) is not None)
        took = both_legs_after(r, t0)
        assert took is not None and took < INTERVAL_S, took


async def test_a_cooldown_ending_trades_the_standing_arbitrage_within_one_interval(
    store: Store,
) -> None:
    r = rig(store, 1, predarb_poll_interval_s=INTERVAL_S, executor_cooldown_s=0.6)
    r.kalshi.script, r.poly.script = [KILL], [KILL]  # the first try fills nothing
    async with running(r):
        r.arm(r.markets[0])
        await until(refused(r, "cooldown"))
        assert r.orders_on(r.markets[0]) == 2
        ends = r.engine.state.cooldown_until["Event 0"]
        await until(lambda: r.orders_on(r.markets[0]) == 4)  # both legs of the retry
        late = (datetime.now(UTC) - ends).total_seconds()
        assert late < INTERVAL_S, late


async def test_a_venue_coming_back_trades_the_standing_arbitrage_within_one_interval(
    store: Store,
) -> None:
    async with running(
        rig(store, 1, predarb_poll_interval_s=INTERVAL_S, circuit_breakers=True)
    ) as r:
        kalshi = r.engine.venues[Venue.KALSHI]
        assert isinstance(kalshi, GuardedVenue)
        breaker = kalshi.breaker
        m = r.markets[0]
        # Kalshi's half of the arbitrage is in the book cache when the venue goes down;
        # then Polymarket's half appears.
        r.set_books(m, ARB_K, "0.65")
        cache = r.engine.book_cache.books
        await until(
            lambda: m.k_yes in cache and cache[m.k_yes].asks == r.kalshi.books[m.k_yes].asks
        )
        for _ in range(breaker.threshold):
            await breaker.failure(VenueUnavailable(Venue.KALSHI, "timeout"))
        assert not r.engine.venues_up[Venue.KALSHI]
        r.arm(m)
        await until(refused(r, "venue_down"))
        assert r.orders_on(r.markets[0]) == 0
        t0 = asyncio.get_running_loop().time()
        await breaker.probed(True)
        await until(lambda: both_legs_after(r, t0) is not None)
        took = both_legs_after(r, t0)
        assert took is not None and took < INTERVAL_S, took
