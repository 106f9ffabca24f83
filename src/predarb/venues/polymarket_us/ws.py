"""Polymarket US order books over the markets WebSocket (``/v1/ws/markets``).

The upgrade is signed like a REST call (``GET /v1/ws/markets``, Ed25519). One
``subscribe`` with ``SUBSCRIPTION_TYPE_MARKET_DATA`` and the market slugs; each
``marketData`` frame is a market's whole book (long side; the short side mirrored,
as over REST), so a frame never depends on an earlier one. ``heartbeat`` frames keep a
quiet stream alive; the library's pings keep the socket from being dropped as idle (the
exchange closes idle sockets after about an hour). An ``error`` frame, a frame that
cannot be read or no frame for ``stale_after_s`` ends the session: the books are read
again over REST and a new connection subscribes again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import connect

from predarb.domain import Contract, Market, OrderBook, Venue
from predarb.marketdata import BookSink, ReconnectingStream, StreamGap
from predarb.venues.base import VenueClient
from predarb.venues.polymarket_us import wire
from predarb.venues.polymarket_us.auth import PolymarketUSSigner

log = logging.getLogger(__name__)

MARKETS_PATH = "/v1/ws/markets"
REQUEST_ID = "predarb-books"


def ws_url(api_url: str) -> str:
    """The markets WebSocket on the API host (``https`` -> ``wss``)."""
    parts = urlsplit(api_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + MARKETS_PATH, "", ""))


class PolymarketUSBookState:
    """Turns frames into books, with each market's labels, tick and lot from ``market``."""

    def __init__(
        self,
        market: Callable[[str], Market | None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._market = market
        self._clock = clock

    def feed(self, frame: str | bytes) -> list[OrderBook]:
        try:
            msg = json.loads(frame)
        except ValueError:
            raise StreamGap("unreadable frame") from None
        if not isinstance(msg, dict):
            raise StreamGap("frame is not an object")
        if "heartbeat" in msg:
            return []
        if msg.get("error"):
            raise StreamGap(f"error frame: {str(msg.get('error'))[:120]}")
        data = msg.get("marketData")
        if not isinstance(data, dict):
            return []  # trades and other frames carry no book
        slug = data.get("marketSlug")
        market = self._market(slug) if isinstance(slug, str) else None
        if market is None:
            return []  # a market we did not ask for
        try:
            return list(wire.parse_book(msg, market, self._clock()))
        except wire.WireError as exc:
            raise StreamGap(f"unreadable book of {slug}: {exc}") from None


class PolymarketUSBookStream(ReconnectingStream):
    venue = Venue.POLYMARKET_US

    def __init__(
        self,
        url: str,
        signer: PolymarketUSSigner,
        rest: VenueClient,
        market: Callable[[str], Market | None],
        *,
        stale_after_s: float = 60.0,
        max_backoff_s: float = 5.0,
        ping_interval_s: float = 20.0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        super().__init__(
            rest, stale_after_s=stale_after_s, max_backoff_s=max_backoff_s, clock_ns=clock_ns
        )
        self.url = url
        self._signer = signer
        self._market = market
        self._ping_interval_s = ping_interval_s

    async def _session(self, contracts: Sequence[Contract], sink: BookSink) -> str:
        slugs = sorted({c.market_id for c in contracts if c.venue is Venue.POLYMARKET_US})
        path = urlsplit(self.url).path
        try:
            ws = await connect(
                self.url,
                additional_headers=self._signer.headers("GET", path),
                max_size=2**24,
                open_timeout=10,
                ping_interval=self._ping_interval_s,
            )
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            log.warning("polymarket_us ws: connect failed", extra={"error": str(exc)[:200]})
            return "connect failed"
        self.connections += 1
        state = PolymarketUSBookState(self._market)
        async with ws:
            request = {
                "subscribe": {
                    "requestId": REQUEST_ID,
                    "subscriptionType": "SUBSCRIPTION_TYPE_MARKET_DATA",
                    "marketSlugs": slugs,
                }
            }
            await ws.send(json.dumps(request))
            return await self.pump(ws, state.feed, sink, len(slugs), lambda b: b.contract.market_id)
