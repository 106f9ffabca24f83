"""The account and lifecycle channels of the fake Kalshi WebSocket (``asyncapi.yaml``):
``fill`` and ``user_orders`` pushed from the REST fake's exchange as its orders change
and fill, and ``market_lifecycle_v2`` (with ``event_lifecycle`` and ``event_fee_update``)
pushed by test controls that change the REST fake the same way, so stream and REST
agree.

Wire shapes as documented: these messages carry ``type``, ``sid`` and ``msg`` and no
``seq``; the user order's message type is ``user_order`` (channel ``user_orders``); a
fill carries ``yes_price_dollars`` only, ``fee_cost``, ``post_position_fp`` and
``exchange_index``; ``market_lifecycle_v2`` takes no market filter; a lifecycle message
carries ``exchange_index`` only when the market is created.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from websockets.asyncio.server import ServerConnection

from tests.fakes.kalshi_exchange import Order, d4, fp, rfc3339
from tests.fakes.kalshi_server import FakeKalshi

CHANNELS = ("fill", "user_orders", "market_lifecycle_v2")
_REST_ONLY_FILL = ("fill_id", "ticker", "no_price_dollars", "created_time", "subaccount_number")


@dataclass
class _Sub:
    ws: ServerConnection
    channel: str
    sid: int
    tickers: frozenset[str]  # empty: all


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


class AccountChannels:
    def __init__(self, rest: FakeKalshi, sids: itertools.count[int]) -> None:
        self.rest = rest
        self._sids = sids
        self._subs: list[_Sub] = []
        self._outbox: asyncio.Queue[tuple[_Sub, str]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self.sent: list[dict[str, Any]] = []  # every message pushed, in order
        self._changed = asyncio.Condition()
        rest.exchange.listeners.append(self._exchange_changed)

    # --- subscriptions --------------------------------------------------------------

    async def subscribe(self, ws: ServerConnection, channel: str, params: dict[str, Any]) -> int:
        tickers = frozenset(params.get("market_tickers") or ())
        if channel == "market_lifecycle_v2":
            tickers = frozenset()  # "market_ticker filters are not supported"
        sub = _Sub(ws, channel, next(self._sids), tickers)
        self._subs.append(sub)
        await self._notify()
        return sub.sid

    def drop(self, ws: ServerConnection) -> None:
        self._subs = [s for s in self._subs if s.ws is not ws]

    def subscribed(self, channel: str) -> int:
        return sum(s.channel == channel for s in self._subs)

    async def wait_subscribed(self, channel: str, n: int = 1) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.subscribed(channel) >= n)

    async def wait_sent(self, n: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.sent) >= n)

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None

    # --- lifecycle controls (the REST fake changes with them) ------------------------

    async def create_market(self, ticker: str, *, exchange_index: int, **fields: Any) -> None:
        market = self.rest.add_market(ticker, exchange_index=exchange_index, **fields)
        self.rest.exchange.events[market["event_ticker"]].setdefault(
            "exchange_index", exchange_index
        )
        opened = datetime.fromisoformat(market["open_time"].replace("Z", "+00:00"))
        closes = datetime.fromisoformat(market["close_time"].replace("Z", "+00:00"))
        await self.lifecycle(
            ticker,
            "created",
            exchange_index=exchange_index,
            open_ts=int(opened.timestamp()),
            close_ts=int(closes.timestamp()),
            price_level_structure=market["price_level_structure"],
            price_ranges=market["price_ranges"],
            additional_metadata={
                "name": market["title"],
                "title": market["title"],
                "yes_sub_title": market["yes_sub_title"],
                "no_sub_title": market["no_sub_title"],
                "rules_primary": market["rules_primary"],
                "rules_secondary": "",
                "can_close_early": market["can_close_early"],
                "event_ticker": market["event_ticker"],
            },
        )

    async def pause(self, ticker: str, paused: bool) -> None:
        self.rest.exchange.markets[ticker]["status"] = "inactive" if paused else "active"
        kind = "deactivated" if paused else "activated"
        await self.lifecycle(ticker, kind, is_deactivated=paused)

    async def determine(self, ticker: str, result: str) -> None:
        now = datetime.now(UTC)
        value = "1.0000" if result == "yes" else "0.0000"
        self.rest.exchange.markets[ticker].update(status="determined", result=result)
        await self.lifecycle(
            ticker,
            "determined",
            result=result,
            determination_ts=int(now.timestamp()),
            settlement_value=value,
        )

    async def settle(self, ticker: str, result: str) -> None:
        self.rest.settle(ticker, result)
        await self.lifecycle(ticker, "settled", settled_ts=int(datetime.now(UTC).timestamp()))

    async def event_fee_update(
        self, event_ticker: str, fee_type: str | None, multiplier: float | None
    ) -> None:
        """Set (or clear, with Nones) an event's fee override: charged from now on."""
        self.rest.set_event(
            event_ticker, fee_type_override=fee_type, fee_multiplier_override=multiplier
        )
        msg = {
            "event_ticker": event_ticker,
            "fee_type_override": fee_type,
            "fee_multiplier_override": multiplier,
        }
        await self._push("market_lifecycle_v2", "event_fee_update", msg, "")

    async def lifecycle(self, ticker: str, event_type: str, **fields: Any) -> None:
        msg = {"market_ticker": ticker, "event_type": event_type, **fields}
        await self._push("market_lifecycle_v2", "market_lifecycle_v2", msg, ticker)

    # --- account channels, from the exchange -----------------------------------------

    def _exchange_changed(self, kind: str, payload: Any) -> None:
        if kind == "fill":
            msg = self._fill(payload)
            self._queue("fill", "fill", msg, msg["market_ticker"])
        elif kind == "user_order":
            self._queue("user_orders", "user_order", _user_order(payload), payload.ticker)

    def _fill(self, fill: dict[str, Any]) -> dict[str, Any]:
        ticker = fill["market_ticker"]
        pos = self.rest.exchange.positions.get(ticker)
        order = self.rest.exchange.orders.get(fill["order_id"])
        msg = {k: v for k, v in fill.items() if k not in _REST_ONLY_FILL}
        msg.update(
            purchased_side=fill["outcome_side"],
            post_position_fp=fp(pos.contracts if pos else Decimal(0)),
            ts_ms=fill["ts"] * 1000,
        )
        if order is not None and order.client_order_id:
            msg["client_order_id"] = order.client_order_id
        return msg

    async def _push(self, channel: str, kind: str, msg: dict[str, Any], ticker: str) -> None:
        self._queue(channel, kind, msg, ticker)
        await self._outbox.join()

    def _queue(self, channel: str, kind: str, msg: dict[str, Any], ticker: str) -> None:
        for sub in self._subs:
            if sub.channel == channel and (not sub.tickers or ticker in sub.tickers):
                frame = json.dumps({"type": kind, "sid": sub.sid, "msg": msg})
                self._outbox.put_nowait((sub, frame))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        """One writer, so frames leave in the order the exchange changed."""
        while True:
            sub, frame = await self._outbox.get()
            try:
                await sub.ws.send(frame)
                self.sent.append(json.loads(frame))
            except Exception:  # the client left: its frames go nowhere
                pass
            finally:
                self._outbox.task_done()
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


def _user_order(order: Order) -> dict[str, Any]:
    """A ``user_order`` message: the REST order's fields, less the legacy ``action``,
    ``type`` and ``no_price_dollars``, plus ``is_yes`` and the ``*_ts_ms`` stamps."""
    body = {
        k: v for k, v in order.wire().items() if k not in ("action", "type", "no_price_dollars")
    }
    body.update(
        is_yes=order.book_side == "bid",
        created_ts_ms=_ms(order.created),
        last_updated_ts_ms=_ms(order.updated or order.created),
        yes_price_dollars=d4(order.yes_price),
    )
    body["created_time"] = rfc3339(order.created)
    return body
