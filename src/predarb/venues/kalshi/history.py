"""Orders and fills older than Kalshi's live window (``getting_started/historical_data``).

Orders canceled or executed before the cutoff ``orders_updated_ts`` are served only by
``GET /historical/orders``, fills before ``trades_created_ts`` only by
``GET /historical/fills`` (``GET /historical/cutoff`` gives both; the live window is
about three months and the cutoffs move forward). Neither list filters by order id:
their filters are ``ticker``, ``max_ts``, ``limit`` and ``cursor``, so an order is found
by walking its market's pages (every page when the market is not known).

The cutoff decides whether to look there at all: an order sent after the cutoff cannot
have been archived, nor can its fills. The cutoff is read at most hourly, and may have
moved forward since; ``CUTOFF_SLACK`` covers that, so an order this process sent in the
last weeks is never looked for in the archive (a lost reply is looked up every second).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from predarb.venues.base import VenueError
from predarb.venues.http import JsonHttp
from predarb.venues.kalshi import wire

log = logging.getLogger(__name__)

CUTOFF_CACHE_S = 3600.0
CUTOFF_SLACK = timedelta(days=7)  # how far the cutoff may have moved since it was read
PAGE = 1000  # the historical lists take limit 1..1000

Pages = Callable[[str, str, Mapping[str, Any]], AsyncIterator[Any]]


@dataclass(frozen=True, slots=True)
class Cutoffs:
    orders: datetime  # orders_updated_ts: orders done before it are historical
    fills: datetime  # trades_created_ts: fills before it are historical


def parse_cutoffs(body: Any) -> Cutoffs:
    """``GET /historical/cutoff`` (both fields are required in the schema)."""
    o = wire.obj(body, "cutoff")
    orders, fills = wire.timestamp(o, "orders_updated_ts"), wire.timestamp(o, "trades_created_ts")
    if orders is None or fills is None:
        raise wire.WireError("cutoff: orders_updated_ts and trades_created_ts required")
    return Cutoffs(orders, fills)


class KalshiHistory:
    """``pages(path, key, params)`` walks a signed cursor-paged list."""

    def __init__(
        self,
        http: JsonHttp,
        pages: Pages,
        *,
        cache_s: float = CUTOFF_CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._pages = pages
        self._cache_s = cache_s
        self._clock = clock
        self._cutoffs: tuple[float, Cutoffs] | None = None

    async def cutoffs(self) -> Cutoffs | None:
        """The cutoffs (cached), or None when they cannot be read (then look anyway)."""
        cached = self._cutoffs
        if cached is not None and self._clock() - cached[0] < self._cache_s:
            return cached[1]
        try:
            cut = parse_cutoffs(await self._http.get("/historical/cutoff"))
        except (VenueError, wire.WireError) as exc:
            log.warning("kalshi: historical cutoff unavailable", extra={"error": str(exc)})
            return cached[1] if cached else None
        self._cutoffs = (self._clock(), cut)
        return cut

    async def may_hold_order(self, sent_at: datetime | None) -> bool:
        """Whether an order sent at ``sent_at`` (None: unknown) may be archived."""
        cut = await self.cutoffs() if sent_at is not None else None
        return cut is None or sent_at is None or sent_at < cut.orders + CUTOFF_SLACK

    async def may_hold_fills(self, sent_at: datetime | None) -> bool:
        """Whether fills of an order sent at ``sent_at`` may be archived."""
        cut = await self.cutoffs() if sent_at is not None else None
        return cut is None or sent_at is None or sent_at < cut.fills + CUTOFF_SLACK

    async def order(self, ticker: str, client_order_id: str, venue_order_id: str) -> Any:
        """The archived order with this venue id (else this client id), or None."""
        params = {"limit": PAGE, "ticker": ticker or None}
        async for item in self._pages("/historical/orders", "orders", params):
            if not isinstance(item, dict):
                continue
            if venue_order_id and item.get("order_id") == venue_order_id:
                return item
            if not venue_order_id and item.get("client_order_id") == client_order_id:
                return item
        return None

    async def fills(self, ticker: str, venue_order_id: str) -> list[Any]:
        """The archived fills of one order."""
        params = {"limit": PAGE, "ticker": ticker or None}
        return [
            item
            async for item in self._pages("/historical/fills", "fills", params)
            if isinstance(item, dict) and item.get("order_id") == venue_order_id
        ]
