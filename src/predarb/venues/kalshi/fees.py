"""Kalshi fees as they are announced (venue-apis 0.1 #5): what feeds the fee book.

Series fees come from ``GET /series/{s}`` (cached ``series_cache_s``); event overrides
from the events themselves; announced changes from ``GET /series/fee_changes`` and
``GET /events/fee_changes``, read again every ``changes_s`` (a minute), so a change
announced at least that long before it takes effect is priced from that moment.

``show_historical=true``: without it the series list holds upcoming changes only (the
changelog: "If set to false, only upcoming fee changes will be shown"), so a change
announced and already in force between two reads would never be seen, and would be
priced low until the series fee was read again. With it, such a change is seen at the
next read and priced from then on; changes older than the series fee's own read are
already in that fee and are not applied again (``KalshiFeeBook.read_series``).

A schedule that could not be read for ``stale_s`` is not trusted: every market is then
unpriced (``fees_of`` gives no fee) until a read succeeds, rather than priced by a
schedule that may have missed a change.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from predarb.arbitrage.fees import KalshiFeeBook
from predarb.domain import FeeChange, FeeSchedule, Market
from predarb.venues.base import VenueError
from predarb.venues.http import JsonHttp
from predarb.venues.kalshi import wire

log = logging.getLogger(__name__)

SERIES_CACHE_S = 3600.0
CHANGES_S = 60.0  # announced changes read again this often
STALE_S = 600.0  # a schedule older than this prices nothing

Pages = Callable[[str, str, Mapping[str, Any]], AsyncIterator[Any]]
Priced = tuple[FeeSchedule | None, tuple[FeeChange, ...]]


@dataclass(frozen=True, slots=True)
class News:
    series: set[str]  # series with a change not seen before
    events: set[str]  # events likewise

    def touches(self, market: Market) -> bool:
        return market.series in self.series or market.event_id in self.events


class KalshiFees:
    def __init__(
        self,
        http: JsonHttp,
        pages: Pages,
        book: KalshiFeeBook,
        *,
        series_cache_s: float = SERIES_CACHE_S,
        changes_s: float = CHANGES_S,
        stale_s: float = STALE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._pages = pages
        self.book = book
        self.series_cache_s = series_cache_s
        self.changes_s = changes_s
        self.stale_s = stale_s
        self._clock = clock
        self._series: dict[str, tuple[float, wire.SeriesFee]] = {}
        self._changes_at: float | None = None  # clock() of the last good read
        self.waivers: dict[str, datetime] = {}  # ticker -> fee_waiver_expiration_time

    @property
    def fresh(self) -> bool:
        """Whether the announced changes were read within ``stale_s``."""
        at = self._changes_at
        return at is not None and self._clock() - at <= self.stale_s

    async def series_fee(self, series: str) -> wire.SeriesFee:
        """The series' fee type and multiplier, cached."""
        cached = self._series.get(series)
        if cached and self._clock() - cached[0] < self.series_cache_s:
            return cached[1]
        try:
            body = await self._http.get(f"/series/{quote(series, safe='')}")
            fee = wire.parse_series_fee(body)
        except (VenueError, wire.WireError) as exc:
            # Its markets keep the fee last read, or go unpriced: never a guess.
            log.warning("kalshi: series fee unknown", extra={"series": series, "error": str(exc)})
            return cached[1] if cached else wire.SeriesFee()
        self._series[series] = (self._clock(), fee)
        self.book.read_series(series, fee.pair, datetime.now(UTC))
        return fee

    async def load(self, events: Iterable[wire.WireEvent], *, force: bool = False) -> News:
        """The fees of these events' series and their overrides, and the announced
        changes (read again when ``changes_s`` old, or ``force``); returns the series
        and events that have changes not seen before."""
        events = list(events)
        for event in events:
            self.book.overrides[event.event_ticker] = (
                event.fee_override.pair if event.fee_override else None
            )
        for series in {e.series_ticker for e in events if e.series_ticker}:
            await self.series_fee(series)
        news = News(set(), set())
        at = self._changes_at
        if not force and at is not None and self._clock() - at < self.changes_s:
            return news
        try:
            body = await self._http.get("/series/fee_changes", {"show_historical": "true"})
            series_changes = wire.parse_series_fee_changes(body)
            pages = self._pages("/events/fee_changes", "event_fee_changes", {"limit": 1000})
            items = [i async for i in pages]
        except (VenueError, wire.WireError) as exc:
            log.warning(
                "kalshi: fee changes unavailable",
                extra={"error": str(exc), "priced": self.fresh},
            )
            return news
        for series, when, fee in series_changes:
            if self.book.schedule_series(series, when, fee.pair):
                news.series.add(series)
        for event_ticker, when_at, override in wire.each(
            items, wire.parse_event_fee_change, "event fee change"
        ):
            pair = override.pair if override else None
            if when_at is not None and self.book.schedule_event(event_ticker, when_at, pair):
                news.events.add(event_ticker)
        self._changes_at = self._clock()
        return news

    def fees_of(self, market: Market, now: datetime) -> Priced:
        """The market's fee at ``now`` and its announced changes; none while the
        schedule is stale. A fee waiver (``fee_waiver_expiration_time``) means no fee
        until it ends, the schedule's fee from then on."""
        if not self.fresh:
            return None, ()
        fee, changes = self.book.timeline(market.series, market.event_id, now)
        waived = self.waivers.get(market.market_id)
        if waived is not None and waived > now:
            later = tuple(c for c in changes if c.at > waived)
            at_end = dataclasses.replace(market, fee=fee, fee_changes=changes).fee_at(waived)
            return wire.NO_FEE, (FeeChange(waived, at_end), *later)
        return fee, changes


def same_fees(a: Market, b: Market, now: datetime) -> bool:
    """Whether two builds of a market price the same from ``now`` on."""
    return a.fee_at(now) == b.fee_at(now) and [c for c in a.fee_changes if c.at > now] == [
        c for c in b.fee_changes if c.at > now
    ]
