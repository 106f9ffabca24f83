"""A fake Polymarket market channel (``/ws/market``, spec B.8) beside a
``FakePolymarket``.

The first client frame ``{"type":"market","assets_ids":[...]}`` is answered with one
``book`` event per known token (sent as an array, as the venue may), from the REST
fake's books; ``set_level`` changes a level there and sends a ``price_change`` with the
new total size and the best bid/ask after it; ``change_tick`` sends a
``tick_size_change``. ``PING`` is answered ``PONG``.

Faults: ``wrong_best_next`` (the next change reports a best bid the book does not
have), ``disconnect``, ``silent`` (no frames, no ``PONG``; books still change).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from websockets.asyncio.server import ServerConnection

from tests.fakes.polymarket_server import FakePolymarket
from tests.fakes.ws_base import FakeWsServer

WS_PATH = "/ws/market"


def _s(x: Decimal) -> str:
    return format(x.normalize(), "f")


class FakePolymarketWs(FakeWsServer):
    path = WS_PATH

    def __init__(self, rest: FakePolymarket) -> None:
        super().__init__()
        self.rest = rest
        self.pings = 0
        self._wrong_best = False
        self._subs: dict[ServerConnection, set[str]] = {}

    # --- test controls ---------------------------------------------------------------

    async def wait_pings(self, n: int) -> None:
        async with self._subscribed:
            await self._subscribed.wait_for(lambda: self.pings >= n)

    def wrong_best_next(self) -> None:
        self._wrong_best = True

    async def disconnect(self) -> None:
        for ws in list(self._subs):
            await ws.close()

    async def set_level(self, token: str, side: str, price: str, size: str) -> None:
        """Set the ``side`` ("BUY" bids / "SELL" asks) level at ``price`` to ``size``
        ("0" removes it) in the REST fake, and send the ``price_change``."""
        await self.set_levels([(token, side, price, size)])

    async def set_levels(self, levels: list[tuple[str, str, str, str]]) -> None:
        """``set_level`` for each of ``levels`` at once: their ``price_change`` events
        reach each subscriber in one frame (an array, as the venue may send)."""
        events = [(level[0], self._change(*level)) for level in levels]
        if self.silent:
            return
        for ws, tokens in list(self._subs.items()):
            mine = [event for token, event in events if token in tokens]
            if mine:
                await self._send(ws, mine[0] if len(mine) == 1 else mine)

    def _change(self, token: str, side: str, price: str, size: str) -> dict[str, Any]:
        book = self.rest.books[token]
        levels = book.bids if side == "BUY" else book.asks
        p, s = Decimal(price), Decimal(size)
        kept = [lv for lv in levels if lv[0] != p] + ([[p, s]] if s else [])
        kept.sort(key=lambda lv: lv[0], reverse=side == "BUY")
        levels[:] = kept
        best_bid = book.bids[0][0] if book.bids else Decimal(0)
        best_ask = book.asks[0][0] if book.asks else Decimal(1)
        if self._wrong_best and not self.silent:
            self._wrong_best = False
            best_bid += book.tick
        change = {
            "asset_id": token,
            "price": _s(p),
            "size": _s(s),
            "side": side,
            "hash": self.rest.book_json(token)["hash"],
            "best_bid": _s(best_bid),
            "best_ask": _s(best_ask),
        }
        return {
            "event_type": "price_change",
            "market": book.market,
            "timestamp": str(int(time.time() * 1000)),
            "price_changes": [change],
        }

    async def change_tick(self, token: str, tick: str) -> None:
        """The venue's ``tick_size_change``: the REST fake's book takes the new tick
        (orders off its grid are refused from now on) and subscribers hear it."""
        book = self.rest.books[token]
        old, book.tick = book.tick, Decimal(tick)
        event = {
            "event_type": "tick_size_change",
            "asset_id": token,
            "market": book.market,
            "old_tick_size": _s(old),
            "new_tick_size": _s(book.tick),
            "timestamp": str(int(time.time() * 1000)),
        }
        for ws, tokens in list(self._subs.items()):
            if token in tokens:
                await self._send(ws, event)

    # --- server ----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        if ws.request is None or ws.request.path.split("?", 1)[0] != WS_PATH:
            await ws.close(1008, "unknown path")
            return
        self.connections += 1
        try:
            async for raw in ws:
                if raw == "PING":
                    async with self._subscribed:
                        self.pings += 1
                        self._subscribed.notify_all()
                    if not self.silent:
                        await ws.send("PONG")
                    continue
                msg = json.loads(raw)
                if msg.get("type") == "market":
                    await self._subscribe(ws, msg.get("assets_ids") or [])
        finally:
            self._subs.pop(ws, None)

    async def _subscribe(self, ws: ServerConnection, assets: list[str]) -> None:
        tokens = {t for t in assets if t in self.rest.books}
        self._subs[ws] = tokens
        books = []
        for token in sorted(tokens):
            body = self.rest.book_json(token)
            books.append({"event_type": "book", **body})
        if books:
            await self._send(ws, books)
        async with self._subscribed:
            self.subscriptions += 1
            self._subscribed.notify_all()

    async def _send(self, ws: ServerConnection, payload: Any) -> None:
        if self.silent:
            return
        self.sent += 1
        await ws.send(json.dumps(payload))
