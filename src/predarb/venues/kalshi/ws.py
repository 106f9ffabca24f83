"""Kalshi order books over the WebSocket (spec A.7, venue-apis 0.1 #3/#4):
``orderbook_delta`` channel.

``KalshiBookState`` (no I/O) turns frames into books: an ``orderbook_snapshot`` sets a
market's two bid ladders, each ``orderbook_delta`` adds a signed count at one price.
Every frame of a subscription carries ``seq``, which must grow by one; a gap, a delta
before its snapshot, a level going negative, a crossed book or an unreadable delta
raise ``StreamGap``.

Price form: we subscribe with ``use_yes_price: true``, the form Kalshi keeps when it
flips the default and then removes the flag (``getting_started/order_direction``): the
NO ladder comes on the YES scale, so a NO level reported at 0.52 is a NO bid at 0.48.
Sending ``true`` selects that form today, after the flip and after the removal alike.
No frame says which form it is in, so each connection finds out (``ws_form``): from a
snapshot that is a valid book in one form only, else by comparing it with the REST book
read just before subscribing; a NO-leg stream is then read as such (logged once), and
one whose form cannot be told is resynced from REST rather than guessed.

``KalshiBookStream`` owns the connection: the upgrade is signed like a REST call
(``GET /trade-api/ws/v2``). Liveness comes from Kalshi's protocol pings (every 10 s,
payload ``heartbeat``, ``websockets/connection-keep-alive``): the orderbook channel has
no application heartbeat, so a quiet book sends no data for minutes, and only a stream
with neither a frame nor a ping for ``stale_after_s`` counts as dead. After any
disconnect, gap or silence the books are read again over REST, then a new connection
brings fresh snapshots.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode

from predarb.domain import CENT, ONE, ZERO, Contract, Level, OrderBook, Venue
from predarb.marketdata import BookSink, ReconnectingStream, StreamGap
from predarb.venues.base import VenueClient, VenueError
from predarb.venues.kalshi import wire, ws_form
from predarb.venues.kalshi.auth import KalshiSigner

log = logging.getLogger(__name__)

WS_PATH = "/trade-api/ws/v2"
SUBSCRIBE_ID = 1
STALE_AFTER_S = 30.0  # three of Kalshi's 10 s pings missed


class PingWatchingConnection(ClientConnection):
    """A client connection that notes when the venue last pinged (the library still
    answers each ping with its pong)."""

    pinged_at: float | None = None  # time.monotonic() of the last ping received
    pings: int = 0

    def process_event(self, event: object) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            self.pinged_at = time.monotonic()
            self.pings += 1
        super().process_event(event)  # type: ignore[arg-type]


async def open_signed(url: str, signer: KalshiSigner) -> PingWatchingConnection | None:
    """The signed upgrade (``GET /trade-api/ws/v2``); None when it failed (logged)."""
    path = urlsplit(url).path
    try:
        ws = await connect(
            url,
            additional_headers=signer.headers("GET", path),
            max_size=2**24,
            open_timeout=10,
            create_connection=PingWatchingConnection,
        )
    except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
        log.warning("kalshi ws: connect failed", extra={"error": str(exc)[:200]})
        return None
    assert isinstance(ws, PingWatchingConnection)
    return ws


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


def read_frame(frame: str | bytes) -> dict[str, Any]:
    """A frame's JSON object. Raises ``StreamGap`` for one that is not JSON, not an
    object, or the venue's ``error`` reply (the session cannot go on)."""
    try:
        msg = json.loads(frame)
    except ValueError:
        raise StreamGap("unreadable frame") from None
    if not isinstance(msg, dict):
        raise StreamGap("frame is not an object")
    if msg.get("type") == "error":
        inner = msg.get("msg")
        detail = inner.get("msg") if isinstance(inner, dict) else inner
        raise StreamGap(f"venue error: {str(detail)[:100]}")
    return msg


class KalshiBookState:
    """Bid ladders per ticker, kept from one connection's snapshot and deltas.

    ``yes_scale`` is the NO ladder's form when known (True: the YES scale that
    ``use_yes_price`` asks for; False: NO-leg prices); None: found from the frames
    (``ws_form``), with ``reference`` (the REST NO bids by ticker) to settle a snapshot
    that reads as a valid book in both."""

    def __init__(
        self,
        tick: Callable[[str], Decimal] = lambda _t: CENT,
        *,
        yes_scale: bool | None = True,
        reference: Mapping[str, Mapping[Decimal, Decimal]] | None = None,
    ) -> None:
        self._tick = tick
        self.yes_scale = yes_scale
        self._reference = reference or {}
        self._yes: dict[str, dict[Decimal, Decimal]] = {}
        self._no: dict[str, dict[Decimal, Decimal]] = {}
        self._seq: dict[int, int] = {}
        self.delta_sid: int | None = None

    def feed(self, frame: str | bytes) -> list[OrderBook]:
        """One text frame -> the books it changed (YES and NO of one market)."""
        msg = read_frame(frame)
        kind = msg.get("type")
        if kind == "subscribed":
            inner = msg.get("msg")
            if isinstance(inner, dict) and inner.get("channel") == "orderbook_delta":
                sid = inner.get("sid")
                self.delta_sid = sid if isinstance(sid, int) else None
            return []
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
        o = wire.obj(raw, "snapshot")
        ticker = wire.text(o, "market_ticker")
        yes = {lv.price: lv.size for lv in wire.ladder(o.get("yes_dollars_fp"), "yes_dollars_fp")}
        sent_no = wire.ladder(o.get("no_dollars_fp"), "no_dollars_fp")
        if self.yes_scale is None:
            self.yes_scale = ws_form.snapshot_form(
                ticker, yes, sent_no, self._reference.get(ticker)
            )
        elif self.yes_scale and ws_form.crossed(yes, ws_form.as_no_bids(sent_no, True)):
            raise StreamGap(f"{ticker}: snapshot crossed, or not in the YES-price form")
        no = ws_form.as_no_bids(sent_no, self.yes_scale is not False)
        if any(not ZERO < p < ONE for p in (*yes, *no)):
            raise StreamGap(f"{ticker}: a level at 0 or 1")
        self._yes[ticker], self._no[ticker] = yes, no
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
        if side == "no" and self.yes_scale is None:
            self.yes_scale = ws_form.delta_form(ticker, self._yes[ticker], ladder, price, delta)
        if side == "no" and self.yes_scale is not False:
            price = ONE - price  # the NO bid this YES-scale level stands for
        if price <= 0 or price >= ONE:
            raise StreamGap(f"{ticker}: delta price {price} outside (0, 1)")
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
        if yes and no and yes[0].price + no[0].price >= ONE:
            # Kalshi would have matched a locked or crossed book: a lost delta.
            raise StreamGap(f"{ticker}: crossed book")
        # The REST parser's builder: same complement rule.
        yes_book, no_book = wire._books(yes, no, ticker, self._tick(ticker), None)
        return [yes_book, no_book]


def _signed(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise wire.WireError("delta_fp: expected a string")
    return wire.fixed(value, "delta_fp", low=-wire.MAX_COUNT, high=wire.MAX_COUNT)


class KalshiBookStream(ReconnectingStream):
    venue = Venue.KALSHI

    def __init__(
        self,
        url: str,
        signer: KalshiSigner,
        rest: VenueClient,
        *,
        tick: Callable[[str], Decimal] = lambda _t: CENT,
        stale_after_s: float = STALE_AFTER_S,
        max_backoff_s: float = 5.0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        super().__init__(
            rest, stale_after_s=stale_after_s, max_backoff_s=max_backoff_s, clock_ns=clock_ns
        )
        self.url = url
        self._signer = signer
        self._tick = tick
        self._doubts = 0  # sessions in a row that ended with the price form in doubt
        self.no_leg_seen = False  # told once: the venue sent NO-leg prices

    async def _session(self, contracts: Sequence[Contract], sink: BookSink) -> str:
        if self._doubts:  # the form was in doubt last time: do not reconnect in a loop
            await asyncio.sleep(min(self.max_backoff_s, 0.1 * 2**self._doubts))
        tickers = sorted({c.market_id for c in contracts if c.venue is Venue.KALSHI})
        ws = await open_signed(self.url, self._signer)
        if ws is None:
            return "connect failed"
        self.connections += 1
        async with ws:
            # The REST book, read just before the snapshots: what settles their form.
            state = KalshiBookState(
                self._tick, yes_scale=None, reference=await self._rest_no_bids(tickers)
            )
            params: dict[str, Any] = {
                "channels": ["orderbook_delta"],
                "market_tickers": tickers,
                "use_yes_price": True,
            }
            await ws.send(json.dumps({"id": SUBSCRIBE_ID, "cmd": "subscribe", "params": params}))
            reason = await self.pump(
                ws,
                lambda frame: self._feed(state, frame),
                sink,
                len(tickers),
                lambda b: b.contract.market_id,
                alive_at=lambda: ws.pinged_at,
            )
        if reason.endswith(ws_form.FORM_UNKNOWN):
            if not self._doubts:
                log.warning("kalshi ws: price form in doubt, books read over REST instead")
            self._doubts += 1
        else:
            self._doubts = 0
        return reason

    def _feed(self, state: KalshiBookState, frame: str | bytes) -> list[OrderBook]:
        books = state.feed(frame)
        if state.yes_scale is False and not self.no_leg_seen:
            self.no_leg_seen = True
            log.warning("kalshi ws: NO ladder in the NO-leg form despite use_yes_price")
        return books

    async def _rest_no_bids(self, tickers: Sequence[str]) -> dict[str, dict[Decimal, Decimal]]:
        contracts = [Contract(Venue.KALSHI, t, "no") for t in tickers]
        try:
            books = await self._rest.get_order_books(contracts)
        except VenueError as exc:
            log.warning("kalshi ws: REST books unavailable", extra={"error": str(exc)})
            return {}
        return {c.market_id: {lv.price: lv.size for lv in b.bids} for c, b in books.items()}
