"""``predarb record``: what the venues send, with receive times, into a recording.

Public data only (no key is loaded): every listing (as the change since the previous
one, re-read every ``list_interval_s``), the books of every contract the matcher pairs
(tradable or not), fed the way ``predarb run`` feeds them (a venue's stream where it
offers one without a key, REST polls otherwise), and the results of those markets once
they leave the listing. It stops after ``duration_s`` or when asked to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from predarb.config import Settings
from predarb.domain import Contract, Market, MarketStatus, OrderBook, Pair, Venue
from predarb.marketdata import BookCache, MarketFeeds
from predarb.rehearsal.recording import DEFAULT_PART_BYTES, RecordingWriter
from predarb.venues.base import VenueClient, VenueError

log = logging.getLogger(__name__)

LIST_INTERVAL_S = 300.0
RECORDED = (Venue.KALSHI, Venue.POLYMARKET)  # the venues a recording holds
RESOLUTION_INTERVAL_S = 60.0

Matcher = Callable[[Sequence[Market], Sequence[Market]], list[Pair]]


class RecordingCache(BookCache):
    """The engine's book cache, writing every book it is given to the recording."""

    def __init__(self, writer: RecordingWriter) -> None:
        super().__init__()
        self.writer = writer
        self.updates = 0

    def apply(self, books: Iterable[OrderBook], received_ns: int) -> None:
        watched = [b for b in books if self.pairs_of(b.contract)]
        if watched:
            self.updates += len(watched)
            self.writer.books(watched)
        super().apply(watched, received_ns)

    def invalidate(self, contracts: Iterable[Contract], reason: str) -> None:
        gone = list(contracts)
        self.writer.drop(gone, reason)
        super().invalidate(gone, reason)

    def set_live(self, venue: Venue, live: bool) -> None:
        self.writer.live(venue, live)
        super().set_live(venue, live)


@dataclass(frozen=True, slots=True)
class RecordSummary:
    path: Path
    parts: int
    lines: int
    book_updates: int
    pairs: int
    resolutions: int


def public_venues(settings: Settings) -> dict[Venue, VenueClient]:
    """The venues' public market data, as paper mode reads it: no key is loaded."""
    from predarb.venues.kalshi import KalshiVenue
    from predarb.venues.polymarket import PolymarketVenue

    return {
        Venue.KALSHI: KalshiVenue(settings.kalshi_base_url),
        Venue.POLYMARKET: PolymarketVenue(settings.poly_clob_url, settings.poly_gamma_url),
    }


class Recorder:
    def __init__(
        self,
        venues: Mapping[Venue, VenueClient],
        matcher: Matcher,
        writer: RecordingWriter,
        *,
        poll_interval_s: float,
        list_interval_s: float = LIST_INTERVAL_S,
        resolution_interval_s: float = RESOLUTION_INTERVAL_S,
        say: Callable[[str], None] = log.info,
    ) -> None:
        self.venues = dict(venues)
        self.matcher = matcher
        self.writer = writer
        self.cache = RecordingCache(writer)
        self.feeds = MarketFeeds(self.cache, self.venues, poll_interval_s=poll_interval_s)
        self.list_interval_s = list_interval_s
        self.resolution_interval_s = resolution_interval_s
        self.say = say
        self.pairs: list[Pair] = []
        self._listed: dict[Venue, dict[str, Market]] = {}
        self._awaiting: dict[tuple[Venue, str], None] = {}  # watched, left the listing
        self._resolved: set[tuple[Venue, str]] = set()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, duration_s: float) -> RecordSummary:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration_s
        next_list = next_resolution = loop.time()
        try:
            while not self._stop.is_set() and loop.time() < deadline:
                if loop.time() >= next_list:
                    await self._list_and_match()
                    next_list = loop.time() + self.list_interval_s
                if loop.time() >= next_resolution:
                    await self._resolutions()
                    next_resolution = loop.time() + self.resolution_interval_s
                wait = min(next_list, next_resolution, deadline) - loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, wait))
        finally:
            await self.feeds.stop()
            await self._resolutions()  # what resolved during the last interval
            self.writer.close()
        return RecordSummary(
            self.writer.path,
            self.writer.part + 1,
            self.writer.lines,
            self.cache.updates,
            len(self.pairs),
            len(self._resolved),
        )

    async def _list_and_match(self) -> None:
        names = list(self.venues)
        results = await asyncio.gather(
            *(self.venues[v].list_markets() for v in names), return_exceptions=True
        )
        for venue, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("listing %s failed: %s", venue.value, result)
                continue
            self.writer.markets(venue, result)
            before = self._listed.get(venue, {})
            now = {m.market_id: m for m in result}
            self._listed[venue] = now
            for mid in before:
                left = mid not in now or now[mid].status is not MarketStatus.OPEN
                if left and self._watched(Contract(venue, mid, "")):
                    self._awaiting.setdefault((venue, mid), None)
        listed = [list(self._listed.get(v, {}).values()) for v in RECORDED]
        if not all(listed):
            return
        pairs = self.matcher(listed[0], listed[1])
        if [p.pair_id for p in pairs] != [p.pair_id for p in self.pairs]:
            self.say(f"recording the books of {len(pairs)} pairs")
        self.pairs = pairs
        self.cache.set_pairs([p for p in pairs if p.exhaustive])
        await self.feeds.refresh()

    def _watched(self, probe: Contract) -> bool:
        return any(
            c.venue is probe.venue and c.market_id == probe.market_id
            for p in self.pairs
            for c in p.contracts
        )

    async def _resolutions(self) -> None:
        for key in list(self._awaiting):
            venue, market_id = key
            try:
                resolution = await self.venues[venue].get_resolution(market_id)
            except VenueError as exc:
                log.info("result of %s %s unavailable: %s", venue.value, market_id, exc)
                continue
            if resolution is not None:
                self.writer.resolution(venue, resolution)
                self._resolved.add(key)
                del self._awaiting[key]


async def record(
    settings: Settings,
    out: Path,
    *,
    duration_s: float,
    max_part_bytes: int = DEFAULT_PART_BYTES,
    venues: Mapping[Venue, VenueClient] | None = None,
    list_interval_s: float = LIST_INTERVAL_S,
    resolution_interval_s: float = RESOLUTION_INTERVAL_S,
    say: Callable[[str], None] = log.info,
    on_start: Callable[[Recorder], None] | None = None,
) -> RecordSummary:
    from predarb.runner import make_matcher

    clients = dict(venues) if venues is not None else public_venues(settings)
    try:
        writer = RecordingWriter(out, max_part_bytes=max_part_bytes)
        recorder = Recorder(
            clients,
            make_matcher(settings),
            writer,
            poll_interval_s=settings.predarb_poll_interval_s,
            list_interval_s=list_interval_s,
            resolution_interval_s=resolution_interval_s,
            say=say,
        )
        if on_start is not None:
            on_start(recorder)
        return await recorder.run(duration_s)
    finally:
        for client in clients.values():
            await client.close()
