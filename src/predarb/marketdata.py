"""Live order books, kept from venue streams or REST polls, and the pairs each update
touches.

``BookCache`` holds the newest book of every watched contract, when each arrived, and
an index contract -> pairs, so that a book update re-prices only the pairs that contain
that contract (no I/O: an ``asyncio.Event`` is its only async part). ``MarketFeeds``
runs the tasks that fill it: one ``BookStream`` per venue that offers one (Kalshi's
``orderbook_delta``, Polymarket's market channel) and REST polling every
``poll_interval_s`` for the others, or for a venue whose stream gave up. While books
stream in, REST goes quiet, so ``MarketFeeds`` also keeps each venue's connection pool
warm with a cheap read every ``warm_interval_s``: an order then never pays a TCP/TLS
handshake.

A stream keeps each book from a snapshot plus deltas; when its data can no longer be
trusted (a disconnect, a sequence gap, a stream gone quiet, a delta that does not fit
the book) it calls ``resync_from_rest``: the books are read again over REST, and a
contract REST could not return is dropped from the cache rather than priced stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

import websockets
from websockets.asyncio.client import ClientConnection

from predarb.domain import Contract, OrderBook, Pair, Venue
from predarb.venues.base import VenueClient, VenueError

log = logging.getLogger(__name__)

# Below JsonHttp's keep-alive expiry (60 s) and the venues' idle timeouts.
WARM_INTERVAL_S = 15.0
CLOSE_TIMEOUT_S = 1.0  # a stopping stream waits this long for the venue's close frame


class BookSink(Protocol):
    def apply(self, books: Iterable[OrderBook], received_ns: int) -> None: ...

    def invalidate(self, contracts: Iterable[Contract], reason: str) -> None: ...

    def set_live(self, venue: Venue, live: bool) -> None: ...


class BookStream(Protocol):
    """A venue's streamed order books. ``run`` subscribes to ``contracts``, feeds
    ``sink`` until cancelled, and reconnects and resyncs by itself."""

    venue: Venue

    async def run(self, contracts: Sequence[Contract], sink: BookSink) -> None: ...


class StreamGap(Exception):
    """The stream's books can no longer be trusted: resync before using them."""


class StaleStream(Exception):
    """Neither a frame nor a ping came for the stream's ``stale_after_s``."""


async def next_frame(
    ws: ClientConnection,
    stale_after_s: float,
    heard: float,
    alive_at: Callable[[], float | None] | None = None,
) -> str | bytes:
    """The next frame. ``heard`` is the ``time.monotonic()`` of the last frame;
    ``alive_at`` gives that of the venue's last protocol ping, which also keeps a quiet
    stream alive. Raises ``StaleStream`` after ``stale_after_s`` of neither."""
    while True:
        pinged = alive_at() if alive_at is not None else None
        if pinged is not None and pinged > heard:
            heard = pinged
        wait = stale_after_s - (time.monotonic() - heard)
        if wait <= 0:
            raise StaleStream
        try:
            # Cancelling recv loses no message; the next call returns it. (Not
            # wait_for: on 3.11 it can swallow a cancel that meets a frame.)
            async with asyncio.timeout(wait):
                return await ws.recv()
        except TimeoutError:
            continue  # a ping may have come meanwhile: look again


class ReconnectingStream:
    """What every venue's book stream shares: a session per connection, a REST resync
    after every break (disconnect, gap, silence), jittered backoff while connecting
    fails, and the frame pump. A venue supplies ``_session`` (connect, subscribe, then
    ``pump``) and a ``feed`` that turns one frame into books or raises ``StreamGap``."""

    venue: Venue

    def __init__(
        self,
        rest: VenueClient,
        *,
        stale_after_s: float,
        max_backoff_s: float,
        clock_ns: Callable[[], int],
    ) -> None:
        self._rest = rest
        self.stale_after_s = stale_after_s
        self.max_backoff_s = max_backoff_s
        self._clock_ns = clock_ns
        self.resyncs = 0
        self.connections = 0

    async def _session(self, contracts: Sequence[Contract], sink: BookSink) -> str:
        """One connection; returns why it ended (the resync reason)."""
        raise NotImplementedError

    async def run(self, contracts: Sequence[Contract], sink: BookSink) -> None:
        failures = 0
        while True:
            reason = await self._session(contracts, sink)
            sink.set_live(self.venue, False)
            self.resyncs += 1
            await resync_from_rest(self._rest, contracts, sink, reason, clock_ns=self._clock_ns)
            failures = failures + 1 if reason.startswith("connect") else 0
            if failures:
                backoff = min(self.max_backoff_s, 0.1 * 2**failures)
                await asyncio.sleep(random.uniform(0, backoff))

    async def pump(
        self,
        ws: ClientConnection,
        feed: Callable[[str | bytes], list[OrderBook]],
        sink: BookSink,
        expected: int,
        key: Callable[[OrderBook], str],
        *,
        alive_at: Callable[[], float | None] | None = None,
    ) -> str:
        """Frames into ``sink`` until the stream breaks; returns why. The venue counts
        as live once every one of the ``expected`` keys has had a book. The stream is
        stale after ``stale_after_s`` without a frame, or, with ``alive_at`` (the
        ``time.monotonic()`` of the venue's last protocol ping), without either."""
        name = self.venue.value
        synced: set[str] = set()
        heard = time.monotonic()  # the last frame (or ping)
        try:
            while True:
                try:
                    frame = await next_frame(ws, self.stale_after_s, heard, alive_at)
                except StaleStream:
                    log.warning("%s ws: stream stale", name, extra={"after_s": self.stale_after_s})
                    return "stale stream"
                except websockets.ConnectionClosed as exc:
                    log.warning("%s ws: disconnected", name, extra={"error": str(exc)[:200]})
                    return "disconnected"
                heard = time.monotonic()
                received = self._clock_ns()
                try:
                    books = feed(frame)
                except StreamGap as exc:
                    log.warning("%s ws: resync", name, extra={"reason": str(exc)})
                    return str(exc)
                if books:
                    sink.apply(books, received)
                    if len(synced) < expected:
                        synced.update(key(b) for b in books)
                        if len(synced) >= expected:
                            sink.set_live(self.venue, True)
        except asyncio.CancelledError:
            # A stop: say so (1000). Leaving the session by an exception says 1011,
            # an internal error, to the venue.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_S)
            raise


class BookCache:
    def __init__(self, pairs: Sequence[Pair] = (), *, clock_ns: Callable[[], int] | None = None):
        self.books: dict[Contract, OrderBook] = {}
        self.received_ns: dict[Contract, int] = {}
        self.live: set[Venue] = set()  # venues whose stream is connected and in sequence
        self._clock_ns = clock_ns or time.monotonic_ns
        self._pairs: dict[str, Pair] = {}
        self._index: dict[Contract, tuple[str, ...]] = {}
        self._dirty: dict[str, int] = {}  # pair id -> arrival of the oldest unpriced update
        self.changed = asyncio.Event()
        self.set_pairs(pairs)

    @property
    def pairs(self) -> list[Pair]:
        return list(self._pairs.values())

    def set_pairs(self, pairs: Sequence[Pair]) -> None:
        """Watch these pairs; books of contracts no longer in any pair are dropped."""
        self._pairs = {p.pair_id: p for p in pairs}
        index: dict[Contract, list[str]] = {}
        for p in pairs:
            for c in p.contracts:
                index.setdefault(c, []).append(p.pair_id)
        self._index = {c: tuple(dict.fromkeys(ids)) for c, ids in index.items()}
        for c in [c for c in self.books if c not in self._index]:
            del self.books[c]
            self.received_ns.pop(c, None)
        self._dirty = {pid: t for pid, t in self._dirty.items() if pid in self._pairs}

    def contracts(self, venue: Venue | None = None) -> list[Contract]:
        return [c for c in self._index if venue is None or c.venue is venue]

    def pairs_of(self, contract: Contract) -> tuple[str, ...]:
        return self._index.get(contract, ())

    def apply(self, books: Iterable[OrderBook], received_ns: int) -> None:
        """Store new books; a pair is marked for re-pricing when the asks of one of its
        contracts changed (or the contract had no book)."""
        marked = False
        for book in books:
            ids = self._index.get(book.contract)
            if ids is None:
                continue
            old = self.books.get(book.contract)
            self.books[book.contract] = book
            self.received_ns[book.contract] = received_ns
            if old is not None and old.asks == book.asks:
                continue
            for pid in ids:
                self._dirty.setdefault(pid, received_ns)
            marked = True
        if marked:
            self.changed.set()

    def invalidate(self, contracts: Iterable[Contract], reason: str) -> None:
        dropped = [c for c in contracts if self.books.pop(c, None) is not None]
        for c in dropped:
            self.received_ns.pop(c, None)
        if dropped:
            log.warning("books dropped", extra={"contracts": len(dropped), "reason": reason})

    def set_live(self, venue: Venue, live: bool) -> None:
        if live:
            self.live.add(venue)
        else:
            self.live.discard(venue)

    def quotes(self, pairs: Iterable[Pair], now: datetime) -> dict[Contract, OrderBook]:
        """The books of these pairs. A book from a live stream is the venue's current
        book however long ago it last changed, so it is dated ``now``."""
        out: dict[Contract, OrderBook] = {}
        for p in pairs:
            for c in p.contracts:
                book = self.books.get(c)
                if book is None:
                    continue
                if c.venue in self.live and book.ts < now:
                    book = dataclasses.replace(book, ts=now)
                out[c] = book
        return out

    def take_dirty(self) -> list[tuple[Pair, int]]:
        """The pairs to re-price, each with when its oldest unpriced update arrived."""
        out = [(self._pairs[pid], t) for pid, t in self._dirty.items()]
        self._dirty.clear()
        self.changed.clear()
        return out

    def mark(self, pair_ids: Iterable[str]) -> None:
        """Re-price these pairs at the next scan though no book moved."""
        now = self._clock_ns()
        for pid in pair_ids:
            if pid in self._pairs:
                self._dirty.setdefault(pid, now)
        if self._dirty:
            self.changed.set()

    def mark_all(self, only: Callable[[Pair], bool] | None = None) -> None:
        """Re-price every pair (or those ``only`` selects) at the next scan."""
        now = self._clock_ns()
        for pid, p in self._pairs.items():
            if only is None or only(p):
                self._dirty.setdefault(pid, now)
        if self._dirty:
            self.changed.set()

    def stale(self, max_age_s: float, venue: Venue | None = None) -> list[Contract]:
        """Watched contracts without a book, or whose book is older than ``max_age_s``."""
        limit = self._clock_ns() - int(max_age_s * 1e9)
        return [c for c in self.contracts(venue) if self.received_ns.get(c, -1) < limit]


async def resync_from_rest(
    client: VenueClient,
    contracts: Sequence[Contract],
    sink: BookSink,
    reason: str,
    *,
    clock_ns: Callable[[], int] = time.monotonic_ns,
) -> None:
    """Read the books again over REST. What REST cannot return is dropped from the sink,
    so a book that may be wrong is never priced."""
    log.info(
        "resync from REST",
        extra={"venue": client.venue.value, "contracts": len(contracts), "reason": reason},
    )
    try:
        books = await client.get_order_books(contracts)
    except VenueError as exc:
        log.warning("resync failed", extra={"venue": client.venue.value, "error": str(exc)})
        books = {}
    sink.apply(books.values(), clock_ns())
    missing = [c for c in contracts if c not in books]
    if missing:
        sink.invalidate(missing, f"{reason}; not in the REST resync")


def stream_of(client: VenueClient) -> BookStream | None:
    """The venue's book stream, when it offers one (``book_stream()`` on the client)."""
    factory = getattr(client, "book_stream", None)
    if factory is None:
        return None
    stream: BookStream | None = factory()
    return stream


class MarketFeeds:
    """The feed tasks of one ``BookCache``: a stream per venue where there is one, REST
    polling otherwise (and for a venue whose stream failed)."""

    def __init__(
        self,
        cache: BookCache,
        venues: Mapping[Venue, VenueClient],
        *,
        poll_interval_s: float,
        streams: Mapping[Venue, BookStream] | None = None,
        warm_interval_s: float = WARM_INTERVAL_S,
    ) -> None:
        self.cache = cache
        self.venues = dict(venues)
        self.poll_interval_s = poll_interval_s
        self.streams = (
            dict(streams)
            if streams is not None
            else {v: s for v, c in self.venues.items() if (s := stream_of(c)) is not None}
        )
        self.warm_interval_s = warm_interval_s
        self._tasks: dict[Venue, asyncio.Task[None]] = {}
        self._watching: dict[Venue, frozenset[Contract]] = {}
        self._warmer: asyncio.Task[None] | None = None

    def streaming(self, venue: Venue) -> bool:
        return venue in self.streams

    async def refresh(self) -> None:
        """(Re)start each venue's task when the set of watched contracts changed."""
        if self._warmer is None:
            self._warmer = asyncio.create_task(self._keep_warm(), name="feeds-warm")
        for venue in self.venues:
            wanted = frozenset(self.cache.contracts(venue))
            if self._watching.get(venue) == wanted and venue in self._tasks:
                continue
            await self._cancel(venue)
            self._watching[venue] = wanted
            if not wanted:
                continue
            runner = self._stream(venue, wanted) if venue in self.streams else self._poll(venue)
            self._tasks[venue] = asyncio.create_task(runner, name=f"feed-{venue.value}")

    async def stop(self) -> None:
        for venue in list(self._tasks):
            await self._cancel(venue)
        if self._warmer is not None:
            self._warmer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warmer
            self._warmer = None

    async def _keep_warm(self) -> None:
        while True:
            await asyncio.sleep(self.warm_interval_s)
            for client in self.venues.values():
                try:
                    await client.health()
                except Exception as exc:  # the breaker and the feeds report outages
                    log.debug(
                        "warm-up read failed",
                        extra={"venue": client.venue.value, "error": str(exc)},
                    )

    async def _cancel(self, venue: Venue) -> None:
        task = self._tasks.pop(venue, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _stream(self, venue: Venue, contracts: frozenset[Contract]) -> None:
        client = self.venues[venue]
        await resync_from_rest(client, sorted(contracts, key=lambda c: c.key), self.cache, "start")
        try:
            await self.streams[venue].run(sorted(contracts, key=lambda c: c.key), self.cache)
        except Exception:
            log.exception("book stream failed; polling instead", extra={"venue": venue.value})
        del self.streams[venue]
        await self._poll(venue)

    async def _poll(self, venue: Venue) -> None:
        client = self.venues[venue]
        while True:
            contracts = self.cache.contracts(venue)
            try:
                books = await client.get_order_books(contracts)
            except VenueError as exc:
                log.warning("book poll failed", extra={"venue": venue.value, "error": str(exc)})
            else:
                self.cache.apply(books.values(), time.monotonic_ns())
            await asyncio.sleep(self.poll_interval_s)
