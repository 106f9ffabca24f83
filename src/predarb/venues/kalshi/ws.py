"""Kalshi order books over the WebSocket (spec A.7): ``orderbook_delta`` channel.

``KalshiBookState`` (no I/O) turns frames into books: an ``orderbook_snapshot`` sets a
market's two bid ladders, each ``orderbook_delta`` adds a signed count at one price.
Every frame of a subscription carries ``seq``, which must grow by one; a gap, a delta
before its snapshot, a level going negative, a crossed book or an unreadable delta
raise ``StreamGap``. We subscribe with ``use_yes_price: false`` so the NO ladder is on
the NO-leg scale, as in REST.

``KalshiBookStream`` owns the connection: the upgrade is signed like a REST call
(``GET /trade-api/ws/v2``), the library answers the server's pings, and a stream with no
frame for ``stale_after_s`` counts as dead. After any disconnect, gap or silence the
books are read again over REST, then a new connection brings fresh snapshots.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import connect

from predarb.domain import CENT, ONE, ZERO, Contract, Level, OrderBook, Venue
from predarb.marketdata import BookSink, ReconnectingStream, StreamGap
from predarb.venues.base import VenueClient
from predarb.venues.kalshi import wire
from predarb.venues.kalshi.auth import KalshiSigner

log = logging.getLogger(__name__)

WS_PATH = "/trade-api/ws/v2"
SUBSCRIBE_ID = 1


def ws_url(base_url: str) -> str:
    """The WebSocket URL beside a REST base (A.1): ``external-api`` hosts have an
    ``external-api-ws`` twin, the others serve both; a loopback fake keeps its port."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    host = parts.netloc
    if host.startswith("external-api."):
        host = "external-api-ws." + host[len("external-api.") :]
    prefix = parts.path.split("/trade-api", 1)[0]
    return urlunsplit((scheme, host, prefix + WS_PATH, "", ""))


class KalshiBookState:
    """Bid ladders per ticker, kept from one connection's snapshot and deltas."""

    def __init__(self, tick: Callable[[str], Decimal] = lambda _t: CENT) -> None:
        self._tick = tick
        self._yes: dict[str, dict[Decimal, Decimal]] = {}
        self._no: dict[str, dict[Decimal, Decimal]] = {}
        self._seq: dict[int, int] = {}
        self.delta_sid: int | None = None

    def feed(self, frame: str | bytes) -> list[OrderBook]:
        """One text frame -> the books it changed (YES and NO of one market)."""
        try:
            msg = json.loads(frame)
        except ValueError:
            raise StreamGap("unreadable frame") from None
        if not isinstance(msg, dict):
            raise StreamGap("frame is not an object")
        kind = msg.get("type")
        if kind == "subscribed":
            inner = msg.get("msg")
            if isinstance(inner, dict) and inner.get("channel") == "orderbook_delta":
                sid = inner.get("sid")
                self.delta_sid = sid if isinstance(sid, int) else None
            return []
        if kind == "error":
            inner = msg.get("msg")
            detail = inner.get("msg") if isinstance(inner, dict) else inner
            raise StreamGap(f"venue error: {str(detail)[:100]}")
        if kind not in ("orderbook_snapshot", "orderbook_delta"):
            return []
        self._check_seq(msg)
        try:
            if kind == "orderbook_snapshot":
                return self._snapshot(msg.get("msg"))
            return self._delta(msg.get("msg"))
        except wire.WireError as exc:
            raise StreamGap(f"bad {kind}: {exc}") from None

    def _check_seq(self, msg: dict[str, Any]) -> None:
        sid, seq = msg.get("sid"), msg.get("seq")
        if not isinstance(sid, int) or not isinstance(seq, int) or isinstance(seq, bool):
            raise StreamGap("frame without sid/seq")
        last = self._seq.get(sid)
        if last is not None and seq != last + 1:
            raise StreamGap(f"sequence gap on sid {sid}: {last} -> {seq}")
        self._seq[sid] = seq

    def _snapshot(self, raw: Any) -> list[OrderBook]:
        yes, no = wire.parse_ws_snapshot(raw, no_on_yes_scale=False)
        ticker = yes.contract.market_id
        self._yes[ticker] = {lv.price: lv.size for lv in yes.bids}
        self._no[ticker] = {lv.price: lv.size for lv in no.bids}
        return self._books(ticker)

    def _delta(self, raw: Any) -> list[OrderBook]:
        o = wire.obj(raw, "delta")
        ticker = wire.text(o, "market_ticker")
        side = o.get("side")
        ladders = self._yes if side == "yes" else self._no if side == "no" else None
        if ladders is None:
            raise StreamGap(f"{ticker}: delta side {side!r:.10}")
        ladder = ladders.get(ticker)
        if ladder is None:
            raise StreamGap(f"{ticker}: delta before its snapshot")
        price = wire.fixed(o.get("price_dollars"), "price_dollars", high=ONE)
        delta = _signed(o.get("delta_fp"))
        size = ladder.get(price, ZERO) + delta
        if size < 0:
            raise StreamGap(f"{ticker}: level {price} would go negative")
        if size == 0:
            ladder.pop(price, None)
        else:
            ladder[price] = size
        return self._books(ticker)

    def _books(self, ticker: str) -> list[OrderBook]:
        yes = [Level(p, s) for p, s in sorted(self._yes[ticker].items(), reverse=True)]
        no = [Level(p, s) for p, s in sorted(self._no[ticker].items(), reverse=True)]
        # The REST parser's builder: same complement rule, same crossed-book check.
        yes_book, no_book = wire._books(yes, no, ticker, self._tick(ticker), None)
        return [yes_book, no_book]


def _signed(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise wire.WireError("delta_fp: expected a string")
    if value.startswith("-"):
        return -wire.fixed(value[1:], "delta_fp", high=wire.MAX_COUNT)
    return wire.fixed(value, "delta_fp", high=wire.MAX_COUNT)


class KalshiBookStream(ReconnectingStream):
    venue = Venue.KALSHI

    def __init__(
        self,
        url: str,
        signer: KalshiSigner,
        rest: VenueClient,
        *,
        tick: Callable[[str], Decimal] = lambda _t: CENT,
        stale_after_s: float = 30.0,
        max_backoff_s: float = 5.0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        super().__init__(
            rest, stale_after_s=stale_after_s, max_backoff_s=max_backoff_s, clock_ns=clock_ns
        )
        self.url = url
        self._signer = signer
        self._tick = tick

    async def _session(self, contracts: Sequence[Contract], sink: BookSink) -> str:
        tickers = sorted({c.market_id for c in contracts if c.venue is Venue.KALSHI})
        path = urlsplit(self.url).path
        try:
            ws = await connect(
                self.url,
                additional_headers=self._signer.headers("GET", path),
                max_size=2**24,
                open_timeout=10,
            )
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            log.warning("kalshi ws: connect failed", extra={"error": str(exc)[:200]})
            return "connect failed"
        self.connections += 1
        state = KalshiBookState(self._tick)
        async with ws:
            params: dict[str, Any] = {
                "channels": ["orderbook_delta"],
                "market_tickers": tickers,
                "use_yes_price": False,
            }
            await ws.send(json.dumps({"id": SUBSCRIBE_ID, "cmd": "subscribe", "params": params}))
            return await self.pump(
                ws, state.feed, sink, len(tickers), lambda b: b.contract.market_id
            )
