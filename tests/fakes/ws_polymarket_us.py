"""A fake Polymarket US markets WebSocket (``/v1/ws/markets``) beside a
``FakePolymarketUS``.

The upgrade must carry valid ``X-PM-*`` headers over ``GET /v1/ws/markets`` (the REST
fake's Ed25519 check, 30 s window). ``subscribe`` with ``SUBSCRIPTION_TYPE_MARKET_DATA``
answers one ``marketData`` frame per slug (the whole book, from the REST fake), then
``set_book`` changes a book there and sends it again, so REST and stream agree.

Faults: ``disconnect`` (close every connection), ``silent`` (stop sending),
``send_error`` (an error frame), ``heartbeat`` (a heartbeat frame).

Keep-alive: the exchange drops a socket it has heard nothing from for about an hour;
here ``idle_timeout_s`` (None: never) closes a connection that sent no frame, message
or ping, for that long. ``pings`` counts the pings received (``wait_pings``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event

from tests.fakes.polymarket_us_server import FakePolymarketUS
from tests.fakes.ws_base import FakeWsServer

WS_PATH = "/v1/ws/markets"


@dataclass
class _Sub:
    ws: ServerConnection
    request_id: str
    slugs: set[str]


class FakePolymarketUSWs(FakeWsServer):
    path = WS_PATH

    def __init__(self, rest: FakePolymarketUS, *, idle_timeout_s: float | None = None) -> None:
        super().__init__()
        self.rest = rest
        self._subs: list[_Sub] = []
        self.refused = 0
        self.idle_timeout_s = idle_timeout_s
        self.pings = 0
        self._pinged = asyncio.Condition()
        self._heard: dict[ServerConnection, float] = {}

    def _serve_options(self) -> dict[str, Any]:
        fake = self

        class Heard(ServerConnection):
            """Notes every frame the client sends (pings included) as a sign of life."""

            def process_event(self, event: Event) -> None:
                super().process_event(event)
                fake._heard[self] = self.loop.time()
                if isinstance(event, Frame) and event.opcode is Opcode.PING:
                    fake.pings += 1
                    self.loop.create_task(fake._note_ping())

        return {"process_request": self._auth, "create_connection": Heard}

    async def _note_ping(self) -> None:
        async with self._pinged:
            self._pinged.notify_all()

    async def wait_pings(self, n: int) -> None:
        async with self._pinged:
            await self._pinged.wait_for(lambda: self.pings >= n)

    async def _drop_when_idle(self, ws: ServerConnection, idle_s: float) -> None:
        """The exchange's idle timer: a connection silent for ``idle_s`` is closed."""
        loop = asyncio.get_running_loop()
        self._heard[ws] = loop.time()
        while True:
            left = self._heard[ws] + idle_s - loop.time()
            if left <= 0:
                await ws.close(1000, "idle")
                return
            await asyncio.sleep(left)

    async def disconnect(self) -> None:
        for sub in list(self._subs):
            await sub.ws.close()

    async def set_book(
        self, slug: str, *, bids: list[tuple[str, int]], offers: list[tuple[str, int]]
    ) -> None:
        self.rest.set_book(slug, bids=bids, offers=offers)
        if not self.silent:
            await self._push(slug)

    async def send_error(self, text: str) -> None:
        for sub in self._subs:
            await sub.ws.send(json.dumps({"requestId": sub.request_id, "error": text}))

    async def heartbeat(self) -> None:
        for sub in self._subs:
            await sub.ws.send(json.dumps({"heartbeat": {}}))
            self.sent += 1

    async def _push(self, slug: str) -> None:
        market = self.rest.exchange.markets[slug]
        for sub in self._subs:
            if slug in sub.slugs:
                frame = {
                    "requestId": sub.request_id,
                    "subscriptionType": "SUBSCRIPTION_TYPE_MARKET_DATA",
                    "marketData": self.rest.book_json(market),
                }
                await sub.ws.send(json.dumps(frame))
                self.sent += 1

    def _auth(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != WS_PATH:
            return connection.respond(404, "not found\n")
        why = self.rest.verify_headers("GET", WS_PATH, request.headers)
        if not why:
            return None
        self.refused += 1
        body = json.dumps({"code": "unauthenticated", "message": why}).encode()
        return Response(401, "Unauthorized", Headers([("Content-Type", "application/json")]), body)

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        idle = self.idle_timeout_s
        watch = asyncio.create_task(self._drop_when_idle(ws, idle)) if idle else None
        try:
            async for raw in ws:
                msg = json.loads(raw)
                sub = msg.get("subscribe")
                if not isinstance(sub, dict):
                    await ws.send(json.dumps({"error": "unknown request"}))
                    continue
                if sub.get("subscriptionType") != "SUBSCRIPTION_TYPE_MARKET_DATA":
                    continue
                slugs = {s for s in sub.get("marketSlugs", []) if s in self.rest.exchange.markets}
                entry = _Sub(ws, str(sub.get("requestId", "")), slugs)
                self._subs.append(entry)
                for slug in sorted(slugs):
                    await self._push(slug)
                async with self._subscribed:
                    self.subscriptions += 1
                    self._subscribed.notify_all()
        finally:
            self._subs = [s for s in self._subs if s.ws is not ws]
            if watch is not None:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
            self._heard.pop(ws, None)
