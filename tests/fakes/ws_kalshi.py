"""A fake Kalshi WebSocket (``/trade-api/ws/v2``, spec A.7) beside a ``FakeKalshi``.

The upgrade must carry valid ``KALSHI-ACCESS-*`` headers (verified by the REST fake's
own RSA-PSS check over ``GET /trade-api/ws/v2``). ``subscribe`` with
``orderbook_delta`` answers ``subscribed`` and one ``orderbook_snapshot`` per ticker
from the REST fake's books, then ``set_level`` changes a book there and sends the
``orderbook_delta``, so REST and stream always agree.

Price form of the NO ladder (``getting_started/order_direction``, ``asyncapi.yaml``
``use_yes_price``), by ``price_form``:
- ``"flag"`` (the docs of 2026-08): ``use_yes_price: true`` puts NO levels on the YES
  scale (1 − the NO bid), absent or ``false`` keeps the NO-leg scale;
- ``"flipped"``: the announced default flip, absent means ``true``;
- ``"yes_only"``: the flag removed, every subscription gets the YES scale;
- ``"no_leg"``: a venue that does not honour the flag, every subscription gets NO-leg
  prices (what the client must notice rather than misread).

Keep-alive (``websockets/connection-keep-alive``): a ping frame with body ``heartbeat``
every ``ping_interval_s`` (10 s at Kalshi) on every connection; a client that does not
answer one with a pong within ``pong_timeout_s`` is disconnected. ``pings_sent`` and
``pongs`` count them.

The account and lifecycle channels (``fill``, ``user_orders``, ``market_lifecycle_v2``)
are ``self.account`` (``ws_kalshi_account``). A channel the venue does not have is
refused with error 8, ``orderbook_delta`` without markets with error 14.

Faults: ``skip_seq`` (the next frame jumps a sequence number), ``disconnect`` (close
every connection), ``silent`` (a dead stream: neither data nor pings; books still
change behind it), ``pinging = False`` (pings stop; data still flows).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tests.fakes.kalshi_exchange import d4, fp
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.ws_base import FakeWsServer
from tests.fakes.ws_kalshi_account import CHANNELS, AccountChannels

WS_PATH = "/trade-api/ws/v2"


@dataclass
class _Sub:
    ws: ServerConnection
    sid: int
    tickers: set[str]
    yes_scale: bool = False  # NO levels on the YES scale
    seq: int = 0
    market_ids: dict[str, str] = field(default_factory=dict)


PRICE_FORMS = ("flag", "flipped", "yes_only", "no_leg")


class FakeKalshiWs(FakeWsServer):
    path = WS_PATH

    def __init__(
        self,
        rest: FakeKalshi,
        *,
        price_form: str = "flag",
        ping_interval_s: float = 10.0,
        pong_timeout_s: float | None = None,
    ) -> None:
        super().__init__()
        if price_form not in PRICE_FORMS:
            raise ValueError(f"price_form must be one of {PRICE_FORMS}")
        self.rest = rest
        self.price_form = price_form
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s if pong_timeout_s is not None else ping_interval_s
        self.pinging = True
        self.pings_sent = 0
        self.pongs = 0
        self.subscribe_params: list[dict[str, Any]] = []
        self._skip = 0
        self._subs: list[_Sub] = []
        self._sids = itertools.count(1)
        self._pinged = asyncio.Condition()
        self.account = AccountChannels(rest, self._sids)
        self._open: set[ServerConnection] = set()

    def _serve_options(self) -> dict[str, Any]:
        return {"process_request": self._auth}

    # --- test controls ---------------------------------------------------------------

    def skip_seq(self) -> None:
        self._skip += 1

    async def disconnect(self) -> None:
        for ws in list(self._open):
            await ws.close()

    async def wait_pings(self, n: int) -> None:
        """Until ``n`` pings in all have been sent and answered."""
        async with self._pinged:
            await self._pinged.wait_for(lambda: self.pongs >= n)

    async def set_level(self, ticker: str, side: str, price: str, size: str) -> None:
        """Set others' ``side`` ("yes"/"no") bid at ``price`` (NO-leg scale for "no") to
        ``size`` in the REST fake, and send the delta to subscribers."""
        book = self.rest.exchange.books[ticker]
        ladder = book.yes if side == "yes" else book.no
        p, s = Decimal(price), Decimal(size)
        delta = s - ladder.get(p, Decimal(0))
        if s:
            ladder[p] = s
        else:
            ladder.pop(p, None)
        if self.silent or not delta:
            return
        now = datetime.now(UTC)
        for sub in self._subs:
            if ticker not in sub.tickers:
                continue
            shown = Decimal(1) - p if side == "no" and sub.yes_scale else p
            body = {
                "market_ticker": ticker,
                "market_id": sub.market_ids.get(ticker, ""),
                "price_dollars": d4(shown),
                "delta_fp": fp(delta),
                "side": side,
                "ts": now.isoformat().replace("+00:00", "Z"),
                "ts_ms": int(now.timestamp() * 1000),
            }
            await self._send(sub, "orderbook_delta", body)

    # --- server ----------------------------------------------------------------------

    def _auth(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != WS_PATH:
            return connection.respond(404, "not found\n")
        refused = self.rest._verify("GET", WS_PATH, request.headers)
        if refused is None:
            return None
        body = json.dumps(refused).encode()
        headers = Headers([("Content-Type", "application/json")])
        return Response(401, "Unauthorized", headers, body)

    async def _keep_alive(self, ws: ServerConnection) -> None:
        """Kalshi's pings; an unanswered one ends the connection."""
        while True:
            await asyncio.sleep(self.ping_interval_s)
            if self.silent or not self.pinging:
                continue
            try:
                pong = await ws.ping(b"heartbeat")
            except websockets.ConnectionClosed:
                return
            self.pings_sent += 1
            try:
                await asyncio.wait_for(pong, self.pong_timeout_s)
            except TimeoutError:
                await ws.close(1011, "keepalive ping timeout")
                return
            except websockets.ConnectionClosed:
                return
            async with self._pinged:
                self.pongs += 1
                self._pinged.notify_all()

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        self._open.add(ws)
        pinger = asyncio.create_task(self._keep_alive(ws))
        try:
            async for raw in ws:
                cmd = json.loads(raw)
                if cmd.get("cmd") == "subscribe":
                    await self._subscribe(ws, cmd)
                else:
                    await ws.send(
                        json.dumps(
                            {
                                "id": cmd.get("id"),
                                "type": "error",
                                "msg": {"code": 5, "msg": "Unknown command"},
                            }
                        )
                    )
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
            self._subs = [s for s in self._subs if s.ws is not ws]
            self.account.drop(ws)
            self._open.discard(ws)

    async def _subscribe(self, ws: ServerConnection, cmd: dict[str, Any]) -> None:
        params = cmd.get("params") or {}
        self.subscribe_params.append(params)
        channels = params.get("channels") or []
        if not channels:
            return await self._error(ws, cmd, 3, "Channels required")
        unknown = [c for c in channels if c != "orderbook_delta" and c not in CHANNELS]
        if unknown:
            return await self._error(ws, cmd, 8, "Unknown channel name")
        for channel in channels:
            if channel == "orderbook_delta":
                await self._subscribe_books(ws, cmd, params)
                continue
            sid = await self.account.subscribe(ws, channel, params)
            msg = {"channel": channel, "sid": sid}
            await ws.send(json.dumps({"type": "subscribed", "id": cmd.get("id"), "msg": msg}))

    async def _error(self, ws: ServerConnection, cmd: dict[str, Any], code: int, text: str) -> None:
        body = {"id": cmd.get("id"), "type": "error", "msg": {"code": code, "msg": text}}
        await ws.send(json.dumps(body))

    async def _subscribe_books(
        self, ws: ServerConnection, cmd: dict[str, Any], params: dict[str, Any]
    ) -> None:
        if not params.get("market_tickers") and not params.get("market_ticker"):
            return await self._error(ws, cmd, 14, "Market Ticker required")
        sid = next(self._sids)
        tickers = [t for t in params.get("market_tickers", []) if t in self.rest.exchange.books]
        flag = params.get("use_yes_price")
        if self.price_form in ("yes_only", "no_leg"):
            yes_scale = self.price_form == "yes_only"
        elif self.price_form == "flipped":
            yes_scale = flag is not False
        else:
            yes_scale = flag is True
        sub = _Sub(ws, sid, set(tickers), yes_scale)
        msg = {"channel": "orderbook_delta", "sid": sid}
        await ws.send(json.dumps({"type": "subscribed", "id": cmd.get("id"), "msg": msg}))
        for ticker in tickers:
            yes, no = self.rest.exchange.ladders(ticker)
            sub.market_ids[ticker] = f"{abs(hash(ticker)):032x}"
            shown = {Decimal(1) - p if yes_scale else p: s for p, s in no.items() if s > 0}
            body = {
                "market_ticker": ticker,
                "market_id": sub.market_ids[ticker],
                "yes_dollars_fp": [[d4(p), fp(s)] for p, s in sorted(yes.items()) if s > 0],
                "no_dollars_fp": [[d4(p), fp(s)] for p, s in sorted(shown.items())],
            }
            # "This key will not exist if there are no Yes offers" (and likewise NO).
            body = {k: v for k, v in body.items() if v != []}
            await self._send(sub, "orderbook_snapshot", body)
        self._subs.append(sub)
        async with self._subscribed:
            self.subscriptions += 1
            self._subscribed.notify_all()

    async def _send(self, sub: _Sub, kind: str, body: dict[str, Any]) -> None:
        sub.seq += 1 + self._skip
        self._skip = 0
        frame = {"type": kind, "sid": sub.sid, "seq": sub.seq, "msg": body}
        self.sent += 1
        await sub.ws.send(json.dumps(frame))

    async def stop(self) -> None:
        await self.account.stop()
        await super().stop()
