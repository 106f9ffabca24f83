"""Kalshi markets as ``market_lifecycle_v2`` changes them between two listings (no I/O).

The adapter keeps the last ``Market`` it built for each ticker; each lifecycle message
updates what it says (``market_lifecycle.md``): the shard of a new market (orders are
routed there at once), a pause (``deactivated``/``activated``), a new close time, a new
price grid, a determination or settlement, and, from ``event_fee_update``, an event's
fee override. The changed markets go to the watchers (the engine replaces them in what
it prices), so a fee change reaches ``Market.fee_at`` as it happens, not at the next
listing.

A fee override announced by message applies from the moment it arrived: it is entered
in the fee book's schedule at that moment, so no earlier scheduled change can mask it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from predarb.arbitrage.fees import KalshiFeeBook
from predarb.domain import Market, MarketStatus
from predarb.venues.kalshi import wire
from predarb.venues.kalshi.fees import Priced
from predarb.venues.kalshi.ws_account import EventFeeNews, EventNews, MarketNews

log = logging.getLogger(__name__)

MarketWatcher = Callable[[str, Sequence[Market]], None]  # (what happened, markets)

_STATUS = {
    "activated": MarketStatus.OPEN,
    "deactivated": MarketStatus.PAUSED,
    "determined": MarketStatus.CLOSED,
    "settled": MarketStatus.SETTLED,
}


class MarketLifecycle:
    def __init__(
        self,
        fee_book: KalshiFeeBook,
        grids: dict[str, tuple[wire.PriceRange, ...]],
        shards: dict[str, int],
        fees_of: Callable[[Market, datetime], Priced],
    ) -> None:
        self.fee_book = fee_book
        self._fees_of = fees_of  # a market's fees now (``fees.KalshiFees.fees_of``)
        self._grids = grids
        self._shards = shards
        self.markets: dict[str, Market] = {}  # ticker -> the last built
        self.event_shards: dict[str, int] = {}  # from event_lifecycle
        self.watchers: list[MarketWatcher] = []

    def remember(self, market: Market) -> None:
        self.markets[market.market_id] = market

    def market(self, news: MarketNews) -> None:
        if news.exchange_index is not None:
            self._shards[news.ticker] = news.exchange_index
        if news.price_ranges:
            self._grids[news.ticker] = news.price_ranges
        old = self.markets.get(news.ticker)
        if old is None:
            return  # not listed yet: the next listing brings it whole
        changes: dict[str, object] = {}
        status = _STATUS.get(news.kind)
        if news.paused is not None and news.kind not in ("determined", "settled"):
            status = MarketStatus.PAUSED if news.paused else MarketStatus.OPEN
        if status is not None:
            changes["status"] = status
        if news.close_time is not None:
            changes["close_time"] = news.close_time
        if news.exchange_index is not None:
            changes["exchange_index"] = news.exchange_index
        if news.price_ranges:
            changes["tick_size"] = wire.tick_size(news.price_ranges)
        if changes:
            self.tell(news.kind, [dataclasses.replace(old, **changes)])  # type: ignore[arg-type]
        elif news.kind in ("determined", "settled"):
            self.tell(news.kind, [old])

    def event(self, news: EventNews) -> None:
        if news.exchange_index is not None:
            self.event_shards[news.event_ticker] = news.exchange_index

    def event_fee(self, news: EventFeeNews, now: datetime) -> None:
        override = news.override.pair if news.override else None
        self.fee_book.overrides[news.event_ticker] = override
        self.fee_book.schedule_event(news.event_ticker, now, override)
        changed = [
            dataclasses.replace(m, fee=fee, fee_changes=changes)
            for m in self.markets.values()
            if m.event_id == news.event_ticker
            for fee, changes in [self._fees_of(m, now)]
        ]
        log.info(
            "kalshi: event fee override %s",
            "cleared" if override is None else "set",
            extra={"event": news.event_ticker, "markets": len(changed)},
        )
        if changed:
            self.tell("fee", changed)

    def tell(self, kind: str, markets: list[Market]) -> None:
        """These markets changed (``kind``): kept, and the watchers told."""
        for m in markets:
            self.markets[m.market_id] = m
        for watcher in list(self.watchers):
            try:
                watcher(kind, markets)
            except Exception:
                log.exception("a market watcher failed")
