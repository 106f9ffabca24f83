"""Polymarket order books over the public market channel (spec B.8).

``PolymarketBookState`` (no I/O) keeps each token's book: a ``book`` event is a full
snapshot, a ``price_change`` sets the new total size at one price (``"0"`` removes the
level). The channel has no sequence number, so the gap check is the one the venue
allows: each change carries the best bid and ask after it, and a book that disagrees
with them, a change before its snapshot, a crossed book or an unreadable event raise
``StreamGap``.

``PolymarketBookStream`` owns the connection (no auth): the first frame subscribes, the
client sends ``PING`` every ``ping_interval_s`` and the server answers ``PONG``, so a
healthy connection is never silent for long; no frame for ``stale_after_s``, a
disconnect or a gap lead to a REST resync and a new connection (whose first ``book``
events are fresh snapshots).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from predarb.domain import ONE, Contract, Level, OrderBook, Venue
from predarb.marketdata import BookSink, ReconnectingStream, StreamGap
from predarb.venues.base import VenueClient
from predarb.venues.polymarket import wire

log = logging.getLogger(__name__)

PROD_WS_HOST = "ws-subscriptions-clob.polymarket.com"


def ws_url(clob_url: str) -> str:
    """The market channel beside a CLOB base (B.1); a loopback fake keeps its port."""
    parts = urlsplit(clob_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    host = PROD_WS_HOST if parts.netloc == "clob.polymarket.com" else parts.netloc
    return urlunsplit((scheme, host, parts.path.rstrip("/") + "/ws/market", "", ""))


class PolymarketBookState:
    """``on_tick`` hears every tick a token has (from a snapshot or a
    ``tick_size_change``) the moment it arrives, so orders are signed with it."""

    def __init__(
        self,
        contracts: Mapping[str, Contract],
        min_size: Callable[[str], Decimal],
        on_tick: Callable[[str, Decimal], None] = lambda _t, _tick: None,
    ):
        self._contracts = dict(contracts)  # token id -> contract
        self._min_size = min_size
        self._on_tick = on_tick
        self._bids: dict[str, dict[Decimal, Decimal]] = {}
        self._asks: dict[str, dict[Decimal, Decimal]] = {}
        self._tick: dict[str, Decimal] = {}

    def feed(self, frame: str | bytes) -> list[OrderBook]:
        """One text frame (an event or an array of events) -> the books it changed."""
        if frame in ("PONG", b"PONG"):
            return []
        try:
            msg = json.loads(frame)
        except ValueError:
            raise StreamGap("unreadable frame") from None
        events = msg if isinstance(msg, list) else [msg]
        changed: dict[str, None] = {}
        for event in events:
            if not isinstance(event, dict):
                raise StreamGap("event is not an object")
            try:
                changed.update(dict.fromkeys(self._event(event)))
            except wire.WireError as exc:
                raise StreamGap(f"bad {event.get('event_type')!s:.20} event: {exc}") from None
        return [self._book(token) for token in changed]

    def _event(self, event: dict[str, Any]) -> list[str]:
        kind = event.get("event_type")
        if kind == "book":
            return self._snapshot(event)
        if kind == "price_change":
            return self._changes(event)
        if kind == "tick_size_change":
            token = wire.text(event.get("asset_id"))
            if token in self._contracts:
                self._tick[token] = wire.tick(event.get("new_tick_size"), "new_tick_size")
                self._on_tick(token, self._tick[token])
                if token in self._bids:  # the book's tick changed: pass it on
                    return [token]
        return []

    def _snapshot(self, event: dict[str, Any]) -> list[str]:
        token = wire.text(event.get("asset_id"))
        contract = self._contracts.get(token)
        if contract is None:
            return []
        book = wire.book(event, contract, tick_size=self._tick.get(token))
        self._bids[token] = {lv.price: lv.size for lv in book.bids if lv.size > 0}
        self._asks[token] = {lv.price: lv.size for lv in book.asks if lv.size > 0}
        self._tick[token] = book.tick_size
        self._on_tick(token, book.tick_size)
        return [token]

    def _changes(self, event: dict[str, Any]) -> list[str]:
        changes = event.get("price_changes")
        if not isinstance(changes, list):
            raise wire.WireError("price_changes: not an array")
        touched: list[str] = []
        for change in changes:
            if not isinstance(change, dict):
                raise wire.WireError("price change is not an object")
            token = wire.text(change.get("asset_id"))
            if token not in self._contracts:
                continue
            if token not in self._bids:
                raise StreamGap(f"{token[:12]}: change before its snapshot")
            side = change.get("side")
            ladder = self._bids[token] if side == "BUY" else self._asks[token]
            if side not in ("BUY", "SELL"):
                raise wire.WireError(f"side {side!r:.10}")
            p = wire.price(change.get("price"))
            s = wire.size(change.get("size"))
            if s == 0:
                ladder.pop(p, None)
            else:
                ladder[p] = s
            self._check_best(token, change)
            touched.append(token)
        return touched

    def _check_best(self, token: str, change: Mapping[str, Any]) -> None:
        best_bid = max(self._bids[token], default=None)
        best_ask = min(self._asks[token], default=None)
        if best_bid is not None and best_ask is not None and best_bid >= best_ask:
            raise StreamGap(f"{token[:12]}: crossed book")
        for key, ours in (("best_bid", best_bid), ("best_ask", best_ask)):
            theirs = change.get(key)
            if theirs in (None, ""):
                continue
            value = wire.price(theirs, key)
            # An empty side is reported as 0 (bids) or 1 (asks).
            if value != (ours if ours is not None else (ONE if key == "best_ask" else 0)):
                raise StreamGap(f"{token[:12]}: {key} {value} but our book says {ours}")

    def _book(self, token: str) -> OrderBook:
        return OrderBook(
            self._contracts[token],
            tuple(Level(p, s) for p, s in sorted(self._bids[token].items(), reverse=True)),
            tuple(Level(p, s) for p, s in sorted(self._asks[token].items())),
            datetime.now(UTC),
            tick_size=self._tick.get(token, Decimal("0.01")),
            min_order_size=self._min_size(token),
        )


class PolymarketBookStream(ReconnectingStream):
    venue = Venue.POLYMARKET

    def __init__(
        self,
        url: str,
        rest: VenueClient,
        *,
        min_size: Callable[[str], Decimal] = lambda _t: ONE,
        on_tick: Callable[[str, Decimal], None] = lambda _t, _tick: None,
        ping_interval_s: float = 10.0,
        stale_after_s: float = 30.0,
        max_backoff_s: float = 5.0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        super().__init__(
            rest, stale_after_s=stale_after_s, max_backoff_s=max_backoff_s, clock_ns=clock_ns
        )
        self.url = url
        self._min_size = min_size
        self._on_tick = on_tick
        self.ping_interval_s = ping_interval_s

    async def _session(self, contracts: Sequence[Contract], sink: BookSink) -> str:
        by_token = {c.token_id: c for c in contracts if c.venue is Venue.POLYMARKET and c.token_id}
        try:
            ws = await connect(self.url, max_size=2**24, open_timeout=10, ping_interval=None)
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            log.warning("polymarket ws: connect failed", extra={"error": str(exc)[:200]})
            return "connect failed"
        self.connections += 1
        state = PolymarketBookState(by_token, self._min_size, self._on_tick)
        async with ws:
            first = {
                "type": "market",
                "assets_ids": list(by_token),
                "custom_feature_enabled": False,
            }
            await ws.send(json.dumps(first))
            pinger = asyncio.create_task(self._ping(ws))
            try:
                return await self.pump(
                    ws, state.feed, sink, len(by_token), lambda b: b.contract.token_id
                )
            finally:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinger

    async def _ping(self, ws: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await asyncio.sleep(self.ping_interval_s)
                await ws.send("PING")
