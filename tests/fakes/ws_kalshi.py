"""A fake Kalshi WebSocket (``/trade-api/ws/v2``, spec A.7) beside a ``FakeKalshi``.

The upgrade must carry valid ``KALSHI-ACCESS-*`` headers (verified by the REST fake's
own RSA-PSS check over ``GET /trade-api/ws/v2``). ``subscribe`` with
``orderbook_delta`` answers ``subscribed`` and one ``orderbook_snapshot`` per ticker
from the REST fake's books, then ``set_level`` changes a book there and sends the
``orderbook_delta``, so REST and stream always agree. NO prices are on the NO-leg scale
(the fake ignores ``use_yes_price``: it always sends ``false``'s scale).

Faults: ``skip_seq`` (the next frame jumps a sequence number), ``disconnect`` (close
every connection), ``silent`` (stop sending; books still change behind the stream).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tests.fakes.kalshi_exchange import d4, fp
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.ws_base import FakeWsServer

WS_PATH = "/trade-api/ws/v2"


@dataclass
class _Sub:
    ws: ServerConnection
    sid: int
    tickers: set[str]
    seq: int = 0
    market_ids: dict[str, str] = field(default_factory=dict)


class FakeKalshiWs(FakeWsServer):
    path = WS_PATH

    def __init__(self, rest: FakeKalshi) -> None:
        super().__init__()
        self.rest = rest
        self._skip = 0
        self._subs: list[_Sub] = []
        self._sids = itertools.count(1)

    def _serve_options(self) -> dict[str, Any]:
        return {"process_request": self._auth}

    # --- test controls ---------------------------------------------------------------

    def skip_seq(self) -> None:
        self._skip += 1

    async def disconnect(self) -> None:
        for sub in list(self._subs):
            await sub.ws.close()

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
            body = {
                "market_ticker": ticker,
                "market_id": sub.market_ids.get(ticker, ""),
                "price_dollars": d4(p),
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

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        try:
            async for raw in ws:
                cmd = json.loads(raw)
                if cmd.get("cmd") == "subscribe":
                    await self._subscribe(ws, cmd)
                else:
                    await ws.send(
                        json.dumps(
                            {"id": cmd.get("id"), "type": "error", "msg": {"code": 8, "msg": "?"}}
                        )
                    )
        finally:
            self._subs = [s for s in self._subs if s.ws is not ws]

    async def _subscribe(self, ws: ServerConnection, cmd: dict[str, Any]) -> None:
        params = cmd.get("params") or {}
        if "orderbook_delta" not in params.get("channels", []):
            return
        sid = next(self._sids)
        tickers = [t for t in params.get("market_tickers", []) if t in self.rest.exchange.books]
        sub = _Sub(ws, sid, set(tickers))
        msg = {"channel": "orderbook_delta", "sid": sid}
        await ws.send(json.dumps({"type": "subscribed", "id": cmd.get("id"), "msg": msg}))
        for ticker in tickers:
            yes, no = self.rest.exchange.ladders(ticker)
            sub.market_ids[ticker] = f"{abs(hash(ticker)):032x}"
            body = {
                "market_ticker": ticker,
                "market_id": sub.market_ids[ticker],
                "yes_dollars_fp": [[d4(p), fp(s)] for p, s in sorted(yes.items()) if s > 0],
                "no_dollars_fp": [[d4(p), fp(s)] for p, s in sorted(no.items()) if s > 0],
            }
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
