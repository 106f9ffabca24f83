"""A standing opportunity is traded as soon as the refusal that held it clears, though
no book moves: trading turned on again, a cooldown that ends, a venue that comes back,
money that arrives (on the venue, or on the exchange shard the trade is paid from), a
position that settles, a pair block that ends, a new UTC day, a safety halt lifted, an
order slot freed, an execution ended. The engine runs its live loop (``run``) on books
polled every ``PREDARB_POLL_INTERVAL_S``; the arbitrage's books never change after it
appears. Each: refused, the cause clears, both legs leave within one scan interval."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from predarb.domain import Market, Opportunity, Pair, Resolution, Venue
from predarb.events import HALT_STORAGE, TradingResumed
from predarb.risk import RiskDecision
from predarb.store import Store
from predarb.venues.base import VenueUnavailable
from predarb.venues.breaker import GuardedVenue
from tests.engine.rig import ARB_K, D, Market2, Rig, rig
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


async def traded_once_cleared(
    r: Rig, code: str, clear: Callable[[], Awaitable[object]], pair: int = 0
) -> float:
    """Once the arbitrage of ``pair`` stands refused with ``code`` (over two scans,
    sending nothing), ``clear`` its cause: seconds until both legs then left."""
    m = r.markets[pair]
    await until(lambda: r.engine.stats.last_rejection.get(m.pair().pair_id) == code)
    scans, sent = r.engine.stats.scans, r.orders_on(m)
    await until(lambda: r.engine.stats.scans >= scans + 2)
    assert r.orders_on(m) == sent
    t0 = asyncio.get_running_loop().time()
    await clear()
    await until(lambda: both_legs_after(r, t0) is not None)
    took = both_legs_after(r, t0)
    assert took is not None
    return took


async def test_money_arriving_trades_the_standing_arbitrage_within_one_interval(
    store: Store,
) -> None:
    r = rig(store, 1, predarb_poll_interval_s=INTERVAL_S)
    r.kalshi.balance = D("0.50")

    async def deposit() -> None:
        r.kalshi.balance = D(1000)
        await r.engine.refresh_balances()  # the balance job

    async with running(r):
        r.arm(r.markets[0])
        took = await traded_once_cleared(r, "insufficient_balance", deposit)
        assert took < INTERVAL_S, took


class OnShardOne(Market2):
    """Its Kalshi market trades on exchange shard 1 (paid from that shard's cash)."""

    def markets(self) -> list[Market]:
        k, p = super().markets()
        return [replace(k, exchange_index=1), p]


async def test_money_moved_to_the_shard_trades_the_standing_arbitrage_within_one_interval(
    store: Store,
) -> None:
    """Kalshi's cash is all on shard 0; the market pays from shard 1. Moved there by
    hand, the venue's total does not change: the shard's rise alone re-arms."""
    r = rig(store, 1, market=OnShardOne, predarb_poll_interval_s=INTERVAL_S)
    r.kalshi.shards = {0: D(100), 1: D(0)}

    async def move() -> None:
        r.kalshi.shards = {0: D(0), 1: D(100)}
        await r.engine.refresh_balances()

    async with running(r):
        r.arm(r.markets[0])
        took = await traded_once_cleared(r, "shard_unfunded", move)
        assert took < INTERVAL_S, took


async def test_a_position_settling_trades_the_standing_arbitrage_within_one_interval(
    store: Store,
) -> None:
    r = rig(store, 1, predarb_poll_interval_s=INTERVAL_S)
    m = r.markets[0]

    async def resolve() -> None:
        r.kalshi.resolutions[m.k_yes.market_id] = Resolution(
            m.k_yes.market_id, {"yes": D(1), "no": D(0)}
        )
        r.poly.resolutions[m.p_no.market_id] = Resolution(
            m.p_no.market_id, {"Yes": D(1), "No": D(0)}
        )
        await r.engine.settle()  # the settlement job

    async with running(r):
        r.arm(m)
        await until(lambda: r.orders_on(m) == 2)  # traded: the event holds a position
        took = await traded_once_cleared(r, "duplicate_position", resolve)
        assert took < INTERVAL_S, took


async def test_a_pair_block_ending_trades_the_standing_arbitrage_within_one_interval(
    store: Store,
) -> None:
    async with running(rig(store, 1, predarb_poll_interval_s=INTERVAL_S)) as r:
        ends = datetime.now(UTC) + timedelta(seconds=1.5)
        await store.block_pair("pair-0", ends, "2 one-legged results")
        r.arm(r.markets[0])
        await until(refused(r, "pair_blacklisted"))
        assert r.orders_on(r.markets[0]) == 0
        await until(lambda: r.orders_on(r.markets[0]) == 2)
        late = (datetime.now(UTC) - ends).total_seconds()
        assert late < INTERVAL_S, late


async def test_a_new_day_trades_the_standing_arbitrage_within_one_interval(
    store: Store,
) -> None:
    """EXECUTOR_MAX_DAILY_TRADES 1, spent on another pair four seconds before midnight
    (the bot's clock): at 00:00 UTC the count starts again."""
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    shift = midnight - now - timedelta(seconds=4)

    def clock() -> datetime:
        return datetime.now(UTC) + shift

    r = rig(
        store,
        2,
        clock=clock,
        predarb_poll_interval_s=INTERVAL_S,
        executor_max_daily_trades=1,
    )
    async with running(r):
        other, m = r.markets[1], r.markets[0]
        r.arm(other)
        await until(lambda: r.orders_on(other) == 2)  # today's one trade
        r.arm(m)
        await until(refused(r, "daily_trades"))
        assert clock() < midnight and r.orders_on(m) == 0
        await until(lambda: r.orders_on(m) == 2, timeout=10)
        late = (clock() - midnight).total_seconds()
        assert late < INTERVAL_S, late


async def test_a_safety_halt_lifted_trades_the_standing_arbitrage_within_one_interval(
    store: Store,
) -> None:
    """The disk fills (the storage halt); once a probe write succeeds the halt lifts."""
    r = rig(store, 1, predarb_poll_interval_s=INTERVAL_S)
    lifted: list[float] = []
    r.engine.bus.subscribe(
        lambda _e: lifted.append(asyncio.get_running_loop().time()), TradingResumed
    )
    async with running(r):
        r.engine.safety.storage_probe_s = 1.5
        await r.engine.safety.crashed("settlement", sqlite3.OperationalError("disk is full"))
        assert HALT_STORAGE in r.engine.state.halts
        r.arm(r.markets[0])
        await until(refused(r, "kill_switch"))
        assert r.orders_on(r.markets[0]) == 0
        await until(lambda: bool(lifted) and both_legs_after(r, lifted[0]) is not None)
        took = both_legs_after(r, lifted[0])
        assert took is not None and took < INTERVAL_S, took


async def test_an_order_slot_freeing_trades_the_standing_arbitrage_within_one_interval(
    store: Store,
) -> None:
    """One order a second on each venue: of two arbitrages at once, the second waits
    for the slots the first took."""
    r = rig(store, 2, predarb_poll_interval_s=INTERVAL_S)
    for venue in (Venue.KALSHI, Venue.POLYMARKET):
        r.engine.state.set_order_rate(venue, 1, 1.0)
    async with running(r):
        for m in r.markets:
            r.arm(m)
        await until(lambda: "order_rate" in r.engine.stats.last_rejection.values())
        first = r.kalshi.sent_at[0]
        await until(lambda: len(r.kalshi.sent_at) == 2 and len(r.poly.sent_at) == 2)
        late = max(r.kalshi.sent_at[1], r.poly.sent_at[1]) - (first + 1.0)
        assert late < INTERVAL_S, late


async def test_an_execution_ending_re_arms_without_waiting_for_balance_reads(
    store: Store,
) -> None:
    """One execution at a time (EXECUTOR_MAX_IN_FLIGHT 1): the second arbitrage leaves
    as soon as the first execution ends, while the balance read after it still hangs.
    (The first event's cooldown outlasts the test: its end re-arms nothing here.)"""
    r = rig(
        store,
        2,
        delay_s=0.3,
        predarb_poll_interval_s=INTERVAL_S,
        executor_max_in_flight=1,
        executor_cooldown_s=60,
    )
    gate = asyncio.Event()
    async with running(r):
        r.kalshi.balance_gate = gate  # balance reads hang from now on
        try:
            for m in r.markets:
                r.arm(m)
            await until(lambda: "in_flight_limit" in r.engine.stats.last_rejection.values())
            await until(lambda: len(r.kalshi.sent_at) == 2 and len(r.poly.sent_at) == 2)
            assert not gate.is_set()
        finally:
            gate.set()


class PricedPairs:
    """A pricing watcher: the pairs each scan priced."""

    def __init__(self) -> None:
        self.scans: list[set[str]] = []

    def priced_pairs(self) -> set[str]:
        return set().union(*self.scans)

    def priced(self, pairs: Sequence[Pair], found: Sequence[Opportunity], now: datetime) -> None:
        self.scans.append({p.pair_id for p in pairs})

    def decided(self, opp: Opportunity, decision: RiskDecision) -> None:
        pass


async def test_an_execution_ending_re_prices_no_other_events_open_position(
    store: Store,
) -> None:
    """The arbitrage of a traded pair stands (refused: the event has an open position),
    and only its own execution ending, a settlement or its book moving can clear that:
    another event's execution ending does not price it again (with many traded pairs
    standing, every execution would otherwise re-price them all on the hot path)."""
    async with running(rig(store, 2, predarb_poll_interval_s=INTERVAL_S)) as r:
        r.arm(r.markets[0])
        await until(refused(r, "duplicate_position"))
        watcher = PricedPairs()
        r.engine.watcher = watcher
        r.arm(r.markets[1])
        await until(lambda: r.engine.stats.last_rejection.get("pair-1") == "duplicate_position")
        assert r.orders_on(r.markets[1]) == 2
        assert "pair-1" in watcher.priced_pairs()
        assert "pair-0" not in watcher.priced_pairs()
        assert r.orders_on(r.markets[0]) == 2  # traded once, never again
