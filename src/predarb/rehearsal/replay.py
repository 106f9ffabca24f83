"""``predarb replay``: the whole engine (matcher, calculator, risk, placer, settlement)
on a recording, offline, on a virtual clock.

The recording is read in receive order. Each batch of lines received at the same moment
is applied to the replayed venues and the engine's book cache, then the engine prices
what changed and trades as it would live; settlement runs every
``PREDARB_SETTLEMENT_INTERVAL_S`` of recorded time. An order meets the book as it was
one venue latency after it was sent (the lines ahead are read to know it), through the
same ``PaperVenue`` as paper mode: fees, minimums, ticks, precision, FOK kills and
partial fills. Time is the recording's own, so the same recording and settings always
give the same report; ``speed`` only paces the run against the wall clock (0: as fast as
it goes).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from predarb.config import Settings
from predarb.domain import (
    Contract,
    Market,
    OrderBook,
    OrderRequest,
    OrderResult,
    Resolution,
    Venue,
    VenuePosition,
)
from predarb.engine import Engine
from predarb.marketdata import BookCache, MarketFeeds
from predarb.rehearsal import codec
from predarb.rehearsal.recorder import RECORDED
from predarb.rehearsal.recording import (
    BooksDropped,
    BooksSeen,
    BookUpdate,
    Item,
    Listing,
    Resolved,
    StreamLive,
    read_recording,
)
from predarb.rehearsal.report import ReplayReport, Tally, build_report
from predarb.venues.base import VenueClient, VenueError
from predarb.venues.paper import PaperVenue

REPLAY_BALANCE = Decimal(1000)


class VirtualClock:
    """The replay's one clock: the receive time of the line being replayed."""

    def __init__(self, start_ns: int) -> None:
        self.ns = start_ns

    def now(self) -> datetime:
        return codec.time_of(self.ns)

    def monotonic(self) -> float:
        return self.ns / 1e9

    def monotonic_ns(self) -> int:
        return self.ns

    def advance_to(self, ns: int) -> None:
        self.ns = max(self.ns, ns)


class Timeline:
    """The recording's lines, with the ones ahead read on demand (for the book an
    order in flight will meet)."""

    def __init__(self, items: Iterator[Item]) -> None:
        self._items = items
        self._ahead: deque[Item] = deque()
        self._done = False
        self.lines = 0

    def _pull(self) -> bool:
        if self._done:
            return False
        item = next(self._items, None)
        if item is None:
            self._done = True
            return False
        self._ahead.append(item)
        return True

    def first_time(self) -> int | None:
        if not self._ahead and not self._pull():
            return None
        return self._ahead[0].t

    def next_batch(self) -> list[Item]:
        """The next lines that share one receive time."""
        if not self._ahead and not self._pull():
            return []
        t = self._ahead[0].t
        while self._ahead[-1].t <= t and self._pull():
            pass
        batch: list[Item] = []
        while self._ahead and self._ahead[0].t <= t:
            batch.append(self._ahead.popleft())
        self.lines += len(batch)
        return batch

    def book_at(self, contract: Contract, t: int, current: OrderBook | None) -> OrderBook | None:
        """``contract``'s book at ``t``, from ``current`` (its book now) and the lines
        ahead."""
        while (not self._ahead or self._ahead[-1].t <= t) and self._pull():
            pass
        book = current
        for item in self._ahead:
            if item.t > t:
                break
            if isinstance(item, BookUpdate) and item.book.contract == contract:
                book = item.book
            elif isinstance(item, BooksSeen):
                book = next((b for b in item.books if b.contract == contract), book)
            elif isinstance(item, BooksDropped) and contract in item.contracts:
                book = None
        return book


class ReplaySource(VenueClient):
    """One venue as the recording saw it, for ``PaperVenue``: listings, books and
    results received so far. A book read now is the book one ``latency_s`` later (what
    an order sent now meets). It takes no orders itself."""

    def __init__(
        self, venue: Venue, timeline: Timeline, clock: VirtualClock, latency_s: float
    ) -> None:
        self.venue = venue
        self.timeline = timeline
        self.clock = clock
        self.latency_ns = int(latency_s * 1e9)
        self.markets: dict[str, Market] = {}
        self.books: dict[Contract, OrderBook] = {}
        self.resolutions: dict[str, Resolution] = {}

    async def list_markets(self) -> list[Market]:
        return list(self.markets.values())

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        at = self.clock.ns + self.latency_ns
        out: dict[Contract, OrderBook] = {}
        for c in contracts:
            book = self.timeline.book_at(c, at, self.books.get(c))
            if book is not None:
                out[c] = book
        return out

    async def get_resolution(self, market_id: str) -> Resolution | None:
        return self.resolutions.get(market_id)

    async def place_order(self, order: OrderRequest) -> OrderResult:
        raise VenueError(self.venue, "a replayed venue takes no orders", code="replay")

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        return None

    async def cancel_order(self, venue_order_id: str) -> None:
        return None

    async def get_balance(self) -> Decimal:
        return Decimal(0)

    async def get_positions(self) -> list[VenuePosition]:
        return []


async def _no_wait(_: float) -> None:
    await asyncio.sleep(0)


def parse_latencies(text: str, defaults: Mapping[Venue, int]) -> dict[Venue, int]:
    """``"150"`` (every venue) or ``"kalshi=120,polymarket=200"``, in milliseconds."""
    out = dict(defaults)
    text = text.strip()
    if not text:
        return out
    for part in text.split(","):
        name, _, value = part.strip().rpartition("=")
        venues = [Venue(name.strip().lower())] if name else list(defaults)
        ms = int(value)
        if ms < 0:
            raise ValueError("latencies are >= 0 ms")
        for venue in venues:
            out[venue] = ms
    return out


class Replay:
    def __init__(
        self,
        settings: Settings,
        path: Path,
        *,
        latency_ms: Mapping[Venue, int],
        speed: float = 0.0,
        balance: Decimal = REPLAY_BALANCE,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.settings = settings
        self.path = path
        self.speed = speed
        self.latency_ms = {v: latency_ms.get(v, 0) for v in RECORDED}
        self.balance = balance
        self.timeline = Timeline(read_recording(path))
        start = self.timeline.first_time()
        self.clock = VirtualClock(start if start is not None else 0)
        self.start_ns = self.clock.ns
        self.sources = {
            v: ReplaySource(v, self.timeline, self.clock, self.latency_ms.get(v, 0) / 1000)
            for v in RECORDED
        }
        self.venues: dict[Venue, PaperVenue] = {
            v: PaperVenue(
                src,
                balance=balance,
                latency_s=0.0,  # the source already answers one latency ahead
                clock=self.clock.now,
                sleep=_no_wait,
            )
            for v, src in self.sources.items()
        }
        self.tally = Tally()

    async def run(self) -> ReplayReport:
        from predarb.app import make_matcher, post_trade
        from predarb.notify.base import FanOut
        from predarb.store import Store

        with tempfile.TemporaryDirectory(prefix="predarb-replay-") as tmp:
            store = await Store.open(Path(tmp) / "replay.sqlite3")
            try:
                await store.claim_mode("paper", self.clock.now())
                engine = Engine(
                    self.settings,
                    store,
                    self.venues,
                    FanOut([]),
                    mode="paper",
                    matcher=make_matcher(self.settings),
                    clock=self.clock.now,
                    say=self.tally.say,
                )
                post_trade(engine)
                # Every clock the engine reads is the recording's.
                engine.state._monotonic = self.clock.monotonic
                engine.book_cache = BookCache(clock_ns=self.clock.monotonic_ns)
                # Never started: it only makes scans read the cache this replay feeds.
                engine.feeds = MarketFeeds(engine.book_cache, {}, poll_interval_s=1.0)
                engine.watcher = self.tally
                await engine.control.load(self.settings.executor_enabled)
                await engine.refresh_balances()
                await self._drive(engine)
                await engine.settle()
                return await build_report(
                    engine,
                    store,
                    self.tally,
                    self.venues,
                    start=codec.time_of(self.start_ns),
                    end=self.clock.now(),
                    lines=self.timeline.lines,
                    latency_ms=self.latency_ms,
                    balance=self.balance,
                    speed=self.speed,
                )
            finally:
                await store.close()

    async def _drive(self, engine: Engine) -> None:
        interval_ns = int(self.settings.predarb_settlement_interval_s * 1e9)
        next_settle = self.start_ns + interval_ns
        wall_start = time.monotonic()
        while batch := self.timeline.next_batch():
            t = batch[0].t
            while next_settle <= t:
                self.clock.advance_to(next_settle)
                await engine.settle()
                next_settle += interval_ns
            if self.speed > 0:
                ahead = (t - self.start_ns) / 1e9 / self.speed - (time.monotonic() - wall_start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            self.clock.advance_to(t)
            if self._apply(engine, batch):
                await self._rematch(engine)
            await engine.state.expire(self.clock.now())
            if engine.book_cache.changed.is_set():
                await engine.tick()
                # Executions take no recorded time: each ends before the next line.
                await engine.drain()

    def _apply(self, engine: Engine, batch: list[Item]) -> bool:
        """The batch into the replayed venues and the book cache; True when a listing
        changed (the pairs are matched again)."""
        relist = False
        books: list[OrderBook] = []
        src = self.sources
        for item in batch:
            if isinstance(item, Listing):
                if item.venue in src:
                    src[item.venue].markets = {m.market_id: m for m in item.markets}
                    relist = relist or item.changed
            elif isinstance(item, BookUpdate | BooksSeen):
                seen = (item.book,) if isinstance(item, BookUpdate) else item.books
                for b in seen:
                    if b.contract.venue in src:
                        src[b.contract.venue].books[b.contract] = b
                        books.append(b)
            elif isinstance(item, BooksDropped):
                for c in item.contracts:
                    if c.venue in src:
                        src[c.venue].books.pop(c, None)
                engine.book_cache.invalidate(item.contracts, item.reason)
            elif isinstance(item, StreamLive):
                engine.book_cache.set_live(item.venue, item.on)
            elif isinstance(item, Resolved) and item.venue in src:
                src[item.venue].resolutions[item.resolution.market_id] = item.resolution
        if books:
            engine.book_cache.apply(books, self.clock.ns)
        return relist

    async def _rematch(self, engine: Engine) -> None:
        if not all(self.sources[v].markets for v in RECORDED):
            return
        await engine.rematch()
        cache = engine.book_cache
        cache.set_pairs([p for p in engine.pairs if p.exhaustive])
        known = [b for src in self.sources.values() for b in src.books.values()]
        cache.apply(known, self.clock.ns)
        cache.mark_all()


async def replay(
    settings: Settings,
    path: Path,
    *,
    latency_ms: Mapping[Venue, int],
    speed: float = 0.0,
    balance: Decimal = REPLAY_BALANCE,
) -> ReplayReport:
    return await Replay(settings, path, latency_ms=latency_ms, speed=speed, balance=balance).run()
