"""``predarb replay``: the whole engine (matcher, calculator, risk, placer, settlement)
on a recording, offline, on a virtual clock.

The recording is read in receive order. Each batch of lines received at the same moment
is applied to the replayed venues and the engine's book cache, then the engine prices
what changed and trades as it would live; settlement runs every
``PREDARB_SETTLEMENT_INTERVAL_S`` of recorded time. Orders go through the same
``PaperVenue`` as paper mode (fees, minimums, ticks, precision, FOK kills and partial
fills), and each meets its book as it was one venue latency after it was sent (the
lines ahead are read to know it). An execution keeps its own time on the clock: it
learns its orders' answers one latency after sending them, so a hedge or an unwind is
planned on the books of that later moment and meets the book one more latency on, where
a move in the meantime counts. Time is the recording's own, so the same recording and
settings always give the same report; ``speed`` only paces the run against the wall
clock (0: as fast as it goes).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from predarb.config import Settings
from predarb.domain import (
    Contract,
    Market,
    Opportunity,
    OrderBook,
    OrderRequest,
    OrderResult,
    Resolution,
    Venue,
    VenuePosition,
)
from predarb.engine import Engine
from predarb.execution.placer import Placement, Placer
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


@dataclass
class _Answers:
    """When the last answer an execution waits for arrives (shared with its tasks)."""

    due_ns: int


# An execution's own time (set by the execution task, inherited by the tasks it starts),
# the answers its orders will have by then, and an order in flight's arrival time.
_OWN_NS: ContextVar[int | None] = ContextVar("replay_own_ns", default=None)
_ANSWERS: ContextVar[_Answers | None] = ContextVar("replay_answers", default=None)
_ARRIVES_NS: ContextVar[int | None] = ContextVar("replay_arrives_ns", default=None)


class VirtualClock:
    """The replay's one clock: the receive time of the line being replayed, or later
    for an execution that waited for answers (its own time, ``task_ns``).

    An execution's tasks read its time as it was when they started, and an order in
    flight reads its arrival time; only the execution's own task moves on to the
    answers (``catch_up``), and only once the tasks it waited for are done. So orders
    sent together meet the books of the same moment, whichever of them is answered
    first, and the report never depends on how the tasks happened to interleave."""

    def __init__(self, start_ns: int) -> None:
        self.ns = start_ns

    def task_ns(self) -> int:
        arrives = _ARRIVES_NS.get()
        if arrives is not None:
            return arrives
        own = _OWN_NS.get()
        return self.ns if own is None else max(self.ns, own)

    def now(self) -> datetime:
        return codec.time_of(self.task_ns())

    def monotonic(self) -> float:
        return self.task_ns() / 1e9

    def monotonic_ns(self) -> int:
        return self.task_ns()

    def advance_to(self, ns: int) -> None:
        self.ns = max(self.ns, ns)

    def begin_execution(self) -> None:
        """From here on the calling task is an execution with its own time."""
        now = self.task_ns()
        _OWN_NS.set(now)
        _ANSWERS.set(_Answers(now))

    def in_flight(self, arrives_ns: int) -> Token[int | None]:
        """The calling task is an order that reaches its venue at ``arrives_ns``; its
        answer is back then."""
        answers = _ANSWERS.get()
        if answers is not None:
            answers.due_ns = max(answers.due_ns, arrives_ns)
        return _ARRIVES_NS.set(arrives_ns)

    def landed(self, token: Token[int | None]) -> None:
        _ARRIVES_NS.reset(token)

    def catch_up(self) -> None:
        """An execution about to act on what it knows (a hedge or an unwind planned)
        waits for the answers of the orders it sent: its time moves on to the last."""
        answers = _ANSWERS.get()
        if answers is not None and _ARRIVES_NS.get() is None:
            _OWN_NS.set(max(self.task_ns(), answers.due_ns))


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
    results received so far. A book is read as it was at the asking task's time on the
    clock (for an order in flight: when it arrives). It takes no orders itself."""

    def __init__(self, venue: Venue, timeline: Timeline, clock: VirtualClock) -> None:
        self.venue = venue
        self.timeline = timeline
        self.clock = clock
        self.markets: dict[str, Market] = {}
        self.books: dict[Contract, OrderBook] = {}
        self.resolutions: dict[str, Resolution] = {}

    async def list_markets(self) -> list[Market]:
        return list(self.markets.values())

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        at = self.clock.task_ns()
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


class ReplayVenue(PaperVenue):
    """Paper mode's simulated venue on the virtual clock: an order meets its book one
    ``latency_ns`` after it was sent (the execution learns its answer then), and the
    books read to plan a hedge or an unwind are those of the moment the execution
    learned the answers it waited for."""

    def __init__(
        self, source: ReplaySource, clock: VirtualClock, latency_ns: int, balance: Decimal
    ) -> None:
        super().__init__(source, balance=balance, latency_s=0.0, clock=clock.now, sleep=_no_wait)
        self.virtual = clock
        self.latency_ns = latency_ns

    async def place_order(self, order: OrderRequest) -> OrderResult:
        token = self.virtual.in_flight(self.virtual.task_ns() + self.latency_ns)
        try:
            return await super().place_order(order)
        finally:
            self.virtual.landed(token)

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        self.virtual.catch_up()
        return await super().get_order_books(contracts)


class ReplayPlacer(Placer):
    """The engine's placer, each execution on its own time (``VirtualClock``)."""

    def __init__(self, placer: Placer, clock: VirtualClock) -> None:
        super().__init__(placer.store, placer.venues, mode=placer.mode, clock=placer.clock)
        self.virtual = clock

    async def execute(self, opp: Opportunity) -> Placement:
        self.virtual.begin_execution()  # the execution's own task: it lasts as long
        return await super().execute(opp)


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
        self.sources = {v: ReplaySource(v, self.timeline, self.clock) for v in RECORDED}
        self.venues: dict[Venue, PaperVenue] = {
            v: ReplayVenue(src, self.clock, self.latency_ms[v] * 1_000_000, balance)
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
                engine.placer = engine.unknown.placer = ReplayPlacer(engine.placer, self.clock)
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
                # Executions run on their own time (``VirtualClock``); each ends before
                # the next line is applied.
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
