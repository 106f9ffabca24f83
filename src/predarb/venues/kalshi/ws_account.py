"""Kalshi's account and lifecycle channels over the WebSocket (``asyncapi.yaml``):
``fill`` and ``user_orders`` (what became of our orders, as it happens) and
``market_lifecycle_v2`` (markets created with their shard, paused, re-timed,
determined, settled, given a new price grid, and events' fee overrides).

``parse_account_frame`` (no I/O) turns one frame into news. These channels carry no
``seq`` (``fill``, ``user_order`` and the lifecycle messages have only ``type``, ``sid``
and ``msg``), so a gap cannot be seen: the news is a hint to look sooner, and REST stays
the record. A message that cannot be read is logged and skipped; an ``error`` frame
ends the session.

``KalshiAccountStream`` keeps one signed connection subscribed to the three channels,
judged alive by Kalshi's pings like the book stream, and reconnects with backoff. After
every break ``on_break`` tells the consumer that news may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import websockets

from predarb.domain import ONE, Fill
from predarb.marketdata import CLOSE_TIMEOUT_S, StaleStream, StreamGap, next_frame
from predarb.venues.kalshi import wire, wire_orders
from predarb.venues.kalshi.auth import KalshiSigner
from predarb.venues.kalshi.ws import STALE_AFTER_S, open_signed, read_frame

log = logging.getLogger(__name__)

CHANNELS = ("fill", "user_orders", "market_lifecycle_v2")
SUBSCRIBE_ID = 2


@dataclass(frozen=True, slots=True)
class OrderNews:
    """A ``user_order`` message: the order as it stands now."""

    order: wire_orders.WireOrder


@dataclass(frozen=True, slots=True)
class FillNews:
    order_id: str
    client_order_id: str  # "" when the message has none
    fill: Fill
    exchange_index: int | None


@dataclass(frozen=True, slots=True)
class MarketNews:
    """A ``market_lifecycle_v2`` message; fields absent from it are None."""

    kind: str  # created, activated, deactivated, close_date_updated, determined, ...
    ticker: str
    event_ticker: str = ""
    exchange_index: int | None = None
    close_time: datetime | None = None
    result: str = ""
    settlement_value: Decimal | None = None
    paused: bool | None = None
    price_ranges: tuple[wire.PriceRange, ...] = ()


@dataclass(frozen=True, slots=True)
class EventNews:
    """``event_lifecycle``: a new event, with the shard its markets live on."""

    event_ticker: str
    series_ticker: str
    exchange_index: int | None


@dataclass(frozen=True, slots=True)
class EventFeeNews:
    """``event_fee_update``: an event's fee override set, or cleared (None)."""

    event_ticker: str
    override: wire.SeriesFee | None


News = OrderNews | FillNews | MarketNews | EventNews | EventFeeNews


def _epoch(o: dict[str, Any], key: str) -> datetime | None:
    value = o.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _fill(o: dict[str, Any]) -> FillNews:
    # The WS fill carries the YES price only ("Price for the yes side of the fill").
    yes = wire.price(o, "yes_price_dollars")
    body = {**o, "no_price_dollars": f"{ONE - yes:.4f}"}
    coid = wire.text(o, "client_order_id", required=False)
    return FillNews(
        order_id=wire.text(o, "order_id"),
        client_order_id=coid,
        fill=wire_orders.parse_fill(body, coid),
        exchange_index=wire.shard(o),
    )


def _market(o: dict[str, Any]) -> MarketNews:
    extra = o.get("additional_metadata")
    event = extra.get("event_ticker") if isinstance(extra, dict) else None
    paused = o.get("is_deactivated")
    value = o.get("settlement_value")
    return MarketNews(
        kind=wire.text(o, "event_type"),
        ticker=wire.text(o, "market_ticker"),
        event_ticker=event if isinstance(event, str) else "",
        exchange_index=wire.shard(o),
        close_time=_epoch(o, "close_ts"),
        result=wire.text(o, "result", required=False),
        settlement_value=None if value in (None, "") else wire.fixed(value, "settlement_value"),
        paused=paused if isinstance(paused, bool) else None,
        price_ranges=wire.price_ranges(o) if o.get("price_ranges") else (),
    )


def _event(o: dict[str, Any]) -> EventNews:
    return EventNews(
        wire.text(o, "event_ticker"), wire.text(o, "series_ticker", required=False), wire.shard(o)
    )


def _event_fee(o: dict[str, Any]) -> EventFeeNews:
    ticker, _, override = wire.parse_event_fee_change(o)
    return EventFeeNews(ticker, override)


PARSERS: dict[str, Callable[[dict[str, Any]], News]] = {
    "user_order": lambda o: OrderNews(wire_orders.parse_order(o)),
    "fill": _fill,
    "market_lifecycle_v2": _market,
    "event_lifecycle": _event,
    "event_fee_update": _event_fee,
}


def parse_account_frame(frame: str | bytes) -> list[News]:
    """One text frame -> its news (none for acks and other types). Raises
    ``StreamGap`` for an ``error`` frame or one that is not JSON."""
    msg = read_frame(frame)
    kind = msg.get("type")
    parse = PARSERS.get(kind) if isinstance(kind, str) else None
    if parse is None:
        return []
    try:
        return [parse(wire.obj(msg.get("msg"), str(kind)))]
    except wire.WireError as exc:
        log.warning("kalshi ws: unreadable %s skipped", kind, extra={"error": str(exc)})
        return []


class KalshiAccountStream:
    def __init__(
        self,
        url: str,
        signer: KalshiSigner,
        on_news: Callable[[Sequence[News]], None],
        on_break: Callable[[], None],
        *,
        stale_after_s: float = STALE_AFTER_S,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.url = url
        self._signer = signer
        self._on_news = on_news
        self._on_break = on_break
        self.stale_after_s = stale_after_s
        self.max_backoff_s = max_backoff_s
        self.connections = 0
        self.breaks = 0
        self.subscribed = asyncio.Event()  # set while a session has its acks
        self.received = 0  # news items handed on
        self._got = asyncio.Condition()

    async def run(self) -> None:
        failures = 0
        while True:
            reason = await self._session()
            self.subscribed.clear()
            self.breaks += 1
            self._on_break()
            log.info("kalshi account ws: reconnecting", extra={"reason": reason})
            failures = failures + 1 if reason == "connect failed" else 0
            backoff = min(self.max_backoff_s, 0.1 * 2 ** max(failures, 1))
            await asyncio.sleep(random.uniform(0, backoff))

    async def wait_received(self, n: int) -> None:
        """Until ``n`` news items in all have been handed on."""
        async with self._got:
            await self._got.wait_for(lambda: self.received >= n)

    async def _session(self) -> str:
        ws = await open_signed(self.url, self._signer)
        if ws is None:
            return "connect failed"
        self.connections += 1
        acked: set[str] = set()
        async with ws:
            params = {"channels": list(CHANNELS)}
            await ws.send(json.dumps({"id": SUBSCRIBE_ID, "cmd": "subscribe", "params": params}))
            heard = time.monotonic()
            try:
                while True:
                    try:
                        frame = await next_frame(
                            ws, self.stale_after_s, heard, lambda: ws.pinged_at
                        )
                    except StaleStream:
                        return "stale stream"
                    except websockets.ConnectionClosed:
                        return "disconnected"
                    heard = time.monotonic()
                    try:
                        news = parse_account_frame(frame)
                    except StreamGap as exc:
                        log.warning("kalshi account ws: %s", exc)
                        return str(exc)
                    if not news:
                        acked |= _acked(frame)
                        if acked >= set(CHANNELS):
                            self.subscribed.set()
                        continue
                    self._on_news(news)
                    self.received += len(news)
                    async with self._got:
                        self._got.notify_all()
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_S)
                raise


def _acked(frame: str | bytes) -> set[str]:
    try:
        msg = json.loads(frame)
    except ValueError:
        return set()
    if isinstance(msg, dict) and msg.get("type") == "subscribed":
        inner = msg.get("msg")
        if isinstance(inner, dict) and isinstance(inner.get("channel"), str):
            return {inner["channel"]}
    return set()
