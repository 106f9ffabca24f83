"""The Kalshi venue: Trade API v2 over one warm ``httpx.AsyncClient``.

Market data is public and sent unsigned, so paper mode needs no key. Everything under
``/portfolio`` is signed (``auth.KalshiSigner``). Reads are retried with jittered
backoff on 429/5xx/timeouts (``JsonHttp``); an order POST is sent once, retried only on
429 (the venue refused it unseen), and a lost reply raises ``OrderStateUnknown``: the
caller resolves it with ``get_order(client_order_id)``, never by sending it again.

Client-side token buckets default to the Basic tier (spec A.6): 200 read and 100 write
tokens per second at 10 tokens a request, i.e. 20 reads and 10 writes per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
from aiolimiter import AsyncLimiter

from predarb.arbitrage.fees import KalshiFeeBook
from predarb.domain import (
    CENT,
    ZERO,
    Contract,
    Fill,
    Market,
    MarketStatus,
    OrderBook,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Resolution,
    Venue,
    VenuePosition,
)
from predarb.venues.base import (
    AuthError,
    BadResponse,
    NotFound,
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
    VenueClient,
    VenueError,
    VenueUnavailable,
)
from predarb.venues.http import JsonHttp, PreparedWrite
from predarb.venues.kalshi import fees, wire, wire_orders, ws, ws_account
from predarb.venues.kalshi.auth import PRESIGNED_MAX_AGE_S, KalshiSigner
from predarb.venues.kalshi.errors import FOK_KILLED, RetiredEndpoint, to_error
from predarb.venues.kalshi.fees import same_fees
from predarb.venues.kalshi.history import KalshiHistory
from predarb.venues.kalshi.lifecycle import MarketLifecycle, MarketWatcher
from predarb.venues.kalshi.news import OrderNewsBoard

if TYPE_CHECKING:
    from predarb.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
ORDERS = "/portfolio/events/orders"
TRANSFER = "/portfolio/intra_exchange_instance_transfer"
TRANSFERS = "/portfolio/intra_exchange_instance_transfers"
BOOKS_PER_CALL = 100  # GET /markets/orderbooks takes 1..100 tickers, as repeated keys
BULK_RETRY_S = 300.0  # after the bulk book read is refused, per-market reads this long
CENTICENTS = Decimal(10_000)  # transfer amounts are integer centicents ($1 = 10000)
REMEMBERED_ORDERS = 10_000
# A prepared order's signed timestamp must still be accepted when it leaves (the venue
# takes about ±5 s): prepared longer ago than this, it is signed again at sending. Its
# headers may have been signed up to PRESIGNED_MAX_AGE_S before it was prepared.
PREPARED_TTL_S = 2.0 - PRESIGNED_MAX_AGE_S
MAX_PREPARED = 100
# How often the order path's headers are signed ahead (``KalshiSigner.presign``).
PRESIGN_INTERVAL_S = 0.5


class KalshiVenue(VenueClient):
    venue = Venue.KALSHI

    def __init__(
        self,
        base_url: str,
        key_id: str | None = None,
        private_key_path: Path | None = None,
        *,
        read_rate: float = 20,
        write_rate: float = 10,
        timeout_s: float = 10,
        series_tickers: Iterable[str] = (),
        max_pages: int = 100,
        order_retries: int = 3,
        max_backoff_s: float = 4.0,
        fee_cache_s: float = fees.SERIES_CACHE_S,
        fee_changes_s: float = fees.CHANGES_S,
        fee_stale_s: float = fees.STALE_S,
        http_client: httpx.AsyncClient | None = None,
        ws_url: str | None = None,
        user_stream: bool = False,
    ) -> None:
        """``base_url`` includes ``/trade-api/v2``. Without ``key_id`` and
        ``private_key_path`` only market data works. ``read_rate``/``write_rate`` are
        requests per second; ``series_tickers`` limits ``list_markets`` to those series.
        ``user_stream``: with a key, ``connect`` also opens the account and lifecycle
        channels (``ws_account``). Fees (``fees``): series fees cached ``fee_cache_s``,
        announced changes read again every ``fee_changes_s`` (``connect`` keeps doing
        so, key or not), nothing priced once they are ``fee_stale_s`` old."""
        if bool(key_id) != bool(private_key_path):
            raise AuthError(
                Venue.KALSHI,
                "KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH must be set together",
                code="config",
            )
        self._signer = (
            KalshiSigner.from_file(key_id, private_key_path)
            if key_id and private_key_path
            else None
        )
        self._http = JsonHttp(
            Venue.KALSHI.value,
            base_url,
            to_error=to_error,
            sign=self._signer,
            read_limiter=AsyncLimiter(read_rate, 1),
            write_limiter=AsyncLimiter(write_rate, 1),
            timeout_s=timeout_s,
            max_backoff_s=max_backoff_s,
            client=http_client,
        )
        self._series = tuple(series_tickers)
        self._write_rate = write_rate
        self._ws_url = ws_url or ws.ws_url(base_url)
        self._max_pages = max_pages
        self._order_retries = order_retries
        self._max_backoff_s = max_backoff_s
        self.fee_book = KalshiFeeBook()
        self.fees = fees.KalshiFees(
            self._http,
            lambda path, key, params: self._pages(path, key, params),
            self.fee_book,
            series_cache_s=fee_cache_s,
            changes_s=fee_changes_s,
            stale_s=fee_stale_s,
        )
        self._fee_task: asyncio.Task[None] | None = None
        self._priced_fresh = False  # whether the markets last priced had a fresh schedule
        self._grids: dict[str, tuple[wire.PriceRange, ...]] = {}
        self._shards: dict[str, int] = {}  # ticker -> exchange shard
        self._events: dict[str, wire.WireEvent] = {}  # event ticker -> its series, shard
        self._order_markets: dict[str, str] = {}  # venue order id -> ticker
        self._bulk_refused_at: float | None = None
        # Orders sent by this process: which contract each traded (V2 orders only know
        # the YES book side) and the venue id of each client id.
        self._sent: OrderedDict[str, OrderRequest] = OrderedDict()
        self._sent_at: dict[str, datetime] = {}  # when each was sent (wall clock)
        self._client_ids: dict[str, str] = {}
        self._venue_ids: dict[str, str] = {}  # client id -> venue id, once known
        # Orders prepared for sending (body built, headers signed, limiter token taken),
        # or already refused locally, by client order id.
        self._prepared: OrderedDict[str, _Ready | OrderResult] = OrderedDict()
        self._presigner: asyncio.Task[None] | None = None
        self._user_stream = user_stream
        self.account_stream: ws_account.KalshiAccountStream | None = None
        self._account_task: asyncio.Task[None] | None = None
        self.news = OrderNewsBoard()
        self.lifecycle = MarketLifecycle(
            self.fee_book, self._grids, self._shards, self.fees.fees_of
        )
        self.history = KalshiHistory(
            self._http, lambda path, key, params: self._pages(path, key, params, auth=True)
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> KalshiVenue:
        kwargs.setdefault("user_stream", True)
        return cls(
            settings.kalshi_base_url,
            settings.kalshi_api_key_id,
            settings.kalshi_private_key_path,
            **kwargs,
        )

    @property
    def has_credentials(self) -> bool:
        return self._signer is not None

    def book_stream(self, **kwargs: Any) -> ws.KalshiBookStream | None:
        """Streamed books (``orderbook_delta``); the channel needs a key, so ``None``
        without one."""
        if self._signer is None:
            return None
        return ws.KalshiBookStream(self._ws_url, self._signer, self, tick=self._tick, **kwargs)

    # --- market data (public) ------------------------------------------------------

    async def list_markets(self) -> list[Market]:
        """Open markets of open events (all pages, or of ``series_tickers`` only)."""
        raw: list[Any] = []
        for series in self._series or ("",):
            params = {"status": "open", "with_nested_markets": "true", "limit": 200}
            raw += [
                e
                async for e in self._pages("/events", "events", {**params, "series_ticker": series})
            ]
        events = list(wire.each(raw, wire.parse_event, "event"))
        await self.fees.load(events)
        markets: list[Market] = []
        for event in events:
            for market in self._parse_markets(event.markets, event=event):
                if market.status is MarketStatus.OPEN:
                    markets.append(market)
        return markets

    async def fetch_markets(
        self,
        *,
        tickers: Sequence[str] = (),
        series_ticker: str = "",
        event_ticker: str = "",
        status: str = "",
    ) -> list[Market]:
        """``GET /markets`` with its filters (``status`` uses the filter vocabulary:
        unopened, open, paused, closed, settled)."""
        params: dict[str, Any] = {"limit": 1000, "mve_filter": "exclude"}
        params.update(tickers=",".join(tickers), series_ticker=series_ticker)
        params.update(event_ticker=event_ticker, status=status)
        raw = [item async for item in self._pages("/markets", "markets", params)]
        names = {r.get("event_ticker") for r in raw if isinstance(r, dict)}
        events = await self._events_of(n for n in names if isinstance(n, str))
        await self.fees.load(events.values())
        out: list[Market] = []
        for item in raw:
            ev = item.get("event_ticker") if isinstance(item, dict) else None
            out.extend(self._parse_markets([item], event=events.get(ev or "")))
        return out

    async def get_market(self, ticker: str) -> Market:
        """A market, from the live API or, once settled before the historical cutoff,
        from ``/historical/markets``."""
        raw = await self._market_body(ticker)
        ev = raw.get("event_ticker") if isinstance(raw, dict) else None
        events = await self._events_of([ev] if isinstance(ev, str) else [])
        await self.fees.load(events.values())
        markets = self._parse_markets([raw], event=events.get(ev or ""))
        if not markets:
            raise BadResponse(Venue.KALSHI, f"market {ticker} could not be parsed")
        return markets[0]

    async def _market_body(self, ticker: str) -> Any:
        path = f"/markets/{quote(ticker, safe='')}"
        try:
            body = await self._http.get(path)
        except NotFound:  # older than the live window: served by /historical only
            body = await self._http.get("/historical" + path)
        return _parse(lambda b: wire.obj(b, "body").get("market"), body, "market")

    async def _events_of(self, tickers: Iterable[str]) -> dict[str, wire.WireEvent]:
        """Each event's series, shard and fee override (``GET /events/{e}``, cached:
        events stay served by their own endpoint however old)."""
        out: dict[str, wire.WireEvent] = {}
        for ticker in set(tickers):
            if ticker not in self._events:
                try:
                    body = await self._http.get(f"/events/{quote(ticker, safe='')}")
                    event = _parse(
                        lambda b: wire.parse_event(wire.obj(b, "body").get("event")), body, "event"
                    )
                except VenueError as exc:
                    log.warning(
                        "kalshi: event unavailable", extra={"event": ticker, "error": str(exc)}
                    )
                    continue
                self._events[ticker] = dataclasses.replace(event, markets=())
            out[ticker] = self._events[ticker]
        return out

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        """``GET /markets/orderbooks`` (the tickers as repeated keys, 100 a request); a
        refused bulk read falls back to one ``/markets/{t}/orderbook`` per market."""
        tickers = list(dict.fromkeys(c.market_id for c in contracts if c.venue is Venue.KALSHI))
        books: dict[Contract, OrderBook] = {}
        for start in range(0, len(tickers), BOOKS_PER_CALL):
            chunk = tickers[start : start + BOOKS_PER_CALL]
            entries = await self._bulk_books(chunk)
            if entries is None:
                entries = [e for t in chunk if (e := await self._one_book(t)) is not None]
            for entry in entries:
                try:
                    ticker = wire.text(wire.obj(entry, "orderbooks[]"), "ticker")
                    yes, no = wire.parse_orderbook(entry, ticker, tick=self._tick(ticker))
                except wire.WireError as exc:
                    log.warning("kalshi: skipped malformed order book", extra={"error": str(exc)})
                    continue
                books[yes.contract], books[no.contract] = yes, no
        wanted = set(contracts)
        return {c: b for c, b in books.items() if c in wanted}

    async def _bulk_books(self, chunk: list[str]) -> list[Any] | None:
        """The bulk read's entries; ``None`` when the venue refused it (then per market)."""
        refused = self._bulk_refused_at
        if refused is not None and time.monotonic() - refused < BULK_RETRY_S:
            return None
        try:
            body = await self._http.get("/markets/orderbooks", {"tickers": chunk})
            entries = wire.obj(body, "orderbooks body").get("orderbooks")
        except (VenueUnavailable, BadResponse, wire.WireError) as exc:  # not a refusal
            log.warning(
                "kalshi: order books unavailable",
                extra={"tickers": len(chunk), "error": str(exc)},
            )
            return []
        except VenueError as exc:
            log.warning(
                "kalshi: bulk order books refused, reading each market",
                extra={"tickers": len(chunk), "error": str(exc)},
            )
            self._bulk_refused_at = time.monotonic()
            return None
        self._bulk_refused_at = None
        return entries if isinstance(entries, list) else []

    async def _one_book(self, ticker: str) -> dict[str, Any] | None:
        try:
            body = await self._http.get(f"/markets/{quote(ticker, safe='')}/orderbook")
        except VenueError as exc:
            log.warning(
                "kalshi: order book unavailable", extra={"ticker": ticker, "error": str(exc)}
            )
            return None
        return {**body, "ticker": ticker} if isinstance(body, dict) else None

    async def series_fee(self, series: str) -> wire.SeriesFee:
        """The series' fee type and multiplier (``GET /series/{s}``), cached."""
        return await self.fees.series_fee(series)

    async def refresh_fees(self) -> None:
        """Read the announced fee changes again, and re-price the listed markets whose
        fees from now on differ (a change newly announced, or one seen late; all of
        them once the schedule goes stale, and again once it is read): the watchers
        are told (``fee``)."""
        news = await self.fees.load((), force=True)
        every = self.fees.fresh != self._priced_fresh  # stale, or read again: all of them
        self._priced_fresh = self.fees.fresh
        now = _now()
        changed = []
        for market in list(self.lifecycle.markets.values()):
            if not every and not news.touches(market):
                continue
            fee, changes = self.fees.fees_of(market, now)
            priced = dataclasses.replace(market, fee=fee, fee_changes=changes)
            if not same_fees(priced, market, now):
                changed.append(priced)
        if changed:
            log.info("kalshi: fees re-priced", extra={"markets": len(changed)})
            self.lifecycle.tell("fee", changed)

    async def _keep_fees_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.fees.changes_s)
            try:
                await self.refresh_fees()
            except Exception:  # the next round tries again; stale fees price nothing
                log.exception("kalshi: fee refresh failed")

    def apply_event_fee_update(self, msg: Any) -> None:
        """An ``event_fee_update`` message: the override applies from now on, to the
        markets already listed too (their watchers are told)."""
        event_ticker, _, override = wire.parse_event_fee_change(msg)
        self.lifecycle.event_fee(ws_account.EventFeeNews(event_ticker, override), _now())

    def watch_markets(self, watcher: MarketWatcher) -> None:
        """``watcher(kind, markets)`` gets every market the lifecycle channel changed:
        ``fee`` (a new event fee override), ``determined``, ``settled``, ``activated``,
        ``deactivated``, ``close_date_updated``, ``price_level_structure_updated``."""
        self.lifecycle.watchers.append(watcher)

    async def wait_order_news(
        self, client_order_id: str, venue_order_id: str, timeout_s: float
    ) -> bool:
        """Until the account stream has news of this order (True) or ``timeout_s``
        passed (False); a plain delay while no stream runs."""
        return await self.news.wait(client_order_id, venue_order_id, timeout_s)

    def _on_news(self, items: Sequence[ws_account.News]) -> None:
        for item in items:
            if isinstance(item, ws_account.OrderNews):
                self._order_markets[item.order.order_id] = item.order.ticker
                if item.order.exchange_index is not None:
                    self._shards[item.order.ticker] = item.order.exchange_index
                self.news.order(item.order)
            elif isinstance(item, ws_account.FillNews):
                self.news.fill(item.order_id, item.client_order_id, item.fill)
            elif isinstance(item, ws_account.MarketNews):
                self.lifecycle.market(item)
            elif isinstance(item, ws_account.EventNews):
                self.lifecycle.event(item)
            else:
                self.lifecycle.event_fee(item, _now())

    async def get_resolution(self, market_id: str) -> Resolution | None:
        return _parse(wire.parse_resolution, await self._market_body(market_id), "market")

    async def health(self) -> bool:
        try:
            body = await self._http.get("/exchange/status")
            return _parse(wire.parse_exchange_status, body, "exchange status")
        except VenueError:
            return False

    # --- trading (signed) ----------------------------------------------------------

    async def prepare(self, order: OrderRequest) -> str:
        """Build, sign and rate-limit ``order`` now, so ``place_order`` only sends it."""
        self._require_key()
        built = await self._body(order)
        if isinstance(built, OrderResult):
            ready: _Ready | OrderResult = built
        else:
            ready = _Ready(built, await self._http.prepare_write("POST", ORDERS, built))
        self._prepared[order.client_order_id] = ready
        while len(self._prepared) > MAX_PREPARED:
            self._prepared.popitem(last=False)
        return order.client_order_id

    async def place_order(self, order: OrderRequest) -> OrderResult:
        """One FOK/IOC (or GTC) order, sent on the YES book as ``wire_orders`` maps it
        (buy NO at q = ask at 1 − q). A FOK the book cannot fill comes back CANCELED with
        ``error_code``; other refusals REJECTED; a lost or unreadable reply raises
        ``OrderStateUnknown``. The price must lie on the market's grid and the count have
        at most 2 decimals, else REJECTED locally without sending. An order passed to
        ``prepare`` first leaves as prepared (signed again if it waited too long)."""
        self._require_key()
        ready = self._prepared.pop(order.client_order_id, None)
        if isinstance(ready, OrderResult):
            return ready
        if ready is None:
            built = await self._body(order)
            if isinstance(built, OrderResult):
                return built
            ready = _Ready(built, None)
        elif ready.write is None or time.monotonic() - ready.write.signed_at > PREPARED_TTL_S:
            ready = _Ready(ready.body, None)
        self._remember(order)
        reply = await self._post_order(order, ready)
        if isinstance(reply, OrderResult):
            return reply
        try:
            result = wire_orders.ack_result(wire_orders.parse_order_ack(reply), order)
        except wire.WireError as exc:
            log.error(
                "kalshi: unreadable order ack",
                extra={"client_order_id": order.client_order_id, "error": str(exc)},
            )
            raise OrderStateUnknown(Venue.KALSHI, f"unreadable order ack: {exc}") from None
        self._client_ids[result.venue_order_id] = order.client_order_id
        self._venue_ids[order.client_order_id] = result.venue_order_id
        self._order_markets[result.venue_order_id] = order.contract.market_id
        return result

    async def _body(self, order: OrderRequest) -> dict[str, Any] | OrderResult:
        """The order's wire body, or its local refusal (nothing sent)."""
        ticker = order.contract.market_id
        try:
            grid = await self._grid(ticker)
            return wire_orders.order_body(order, grid, self._shards.get(ticker))
        except VenueError as exc:  # the market's price grid is unknown
            return _refused(order, OrderStatus.REJECTED, exc)
        except wire.WireError as exc:
            return OrderResult(
                order.client_order_id,
                OrderStatus.REJECTED,
                error_code="invalid_order",
                error=str(exc),
            )

    async def _post_order(self, order: OrderRequest, ready: _Ready) -> Any:
        for attempt in range(self._order_retries + 1):
            try:
                if attempt == 0 and ready.write is not None:
                    return await self._http.send_prepared(ready.write, order=True)
                return await self._http.write("POST", ORDERS, ready.body, order=True)
            except RateLimited as exc:  # refused before it reached the book: safe to resend
                if attempt == self._order_retries:
                    return _refused(order, OrderStatus.REJECTED, exc)
                await self._backoff(attempt)
            except BadResponse as exc:  # a 2xx we cannot read may hide an accepted order
                raise OrderStateUnknown(
                    Venue.KALSHI, f"unreadable order reply: {exc.message}"
                ) from exc
            except (OrderStateUnknown, AuthError, RetiredEndpoint):
                raise
            except OrderRejected as exc:
                killed = exc.code == FOK_KILLED
                return _refused(
                    order, OrderStatus.CANCELED if killed else OrderStatus.REJECTED, exc
                )
            except VenueUnavailable:
                raise
            except VenueError as exc:
                return _refused(order, OrderStatus.REJECTED, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        """By venue id when known, else by scanning ``GET /portfolio/orders`` (which has
        no client id filter; narrowed to the ticker when this process sent the order).
        An order done before the historical cutoff is found in ``/historical/orders``
        (``history``), looked for only when it may be there."""
        self._require_key()
        # The account stream knows each order's venue id: one read instead of a scan.
        venue_order_id = (
            venue_order_id
            or self._venue_ids.get(client_order_id, "")
            or self.news.venue_ids.get(client_order_id, "")
        )
        sent = self._sent.get(client_order_id)
        ticker = self._order_markets.get(venue_order_id) or (
            sent.contract.market_id if sent else ""
        )
        if venue_order_id:
            live = await self._live_order(venue_order_id)
            if live is not None:
                return self._result(live)
        else:
            params = {"limit": 1000, "ticker": ticker or None}
            async for item in self._pages("/portfolio/orders", "orders", params, auth=True):
                if isinstance(item, dict) and item.get("client_order_id") == client_order_id:
                    return self._result(_parse(wire_orders.parse_order, item, "order"))
        if not await self.history.may_hold_order(self._sent_at.get(client_order_id)):
            return None
        item = await self.history.order(ticker, client_order_id, venue_order_id)
        if item is None:
            return None
        return self._result(_parse(wire_orders.parse_order, item, "order"))

    async def _live_order(self, venue_order_id: str) -> wire_orders.WireOrder | None:
        """``GET /portfolio/orders/{id}`` (every shard); None when the live window does
        not hold it."""
        try:
            body = await self._http.get(
                f"/portfolio/orders/{quote(venue_order_id, safe='')}", auth=True
            )
        except NotFound:
            return None
        return _parse(
            lambda b: wire_orders.parse_order(wire.obj(b, "body").get("order")), body, "order"
        )

    async def cancel_order(self, venue_order_id: str) -> None:
        """Cancel V2 on the order's own shard: without ``market_ticker`` (or
        ``exchange_index``) Kalshi looks on shard 0 only and answers 404 for the rest."""
        self._require_key()
        path = f"{ORDERS}/{quote(venue_order_id, safe='')}"
        params = await self._cancel_route(venue_order_id)
        for attempt in range(self._order_retries + 1):
            try:
                reply = await self._http.write("DELETE", path, params=params)
            except NotFound:  # already canceled, executed or unknown: all look the same
                return
            except VenueUnavailable:  # cancelling twice is harmless
                if attempt == self._order_retries:
                    raise
                await self._backoff(attempt)
                continue
            try:
                reduced = str(wire_orders.parse_cancel(reply))
            except wire.WireError:
                reduced = "unreadable reply"  # the 200 says it is gone; the count is detail
            log.info("kalshi: canceled", extra={"order_id": venue_order_id, "reduced_by": reduced})
            return

    async def _cancel_route(self, venue_order_id: str) -> dict[str, Any]:
        ticker = self._order_markets.get(venue_order_id)
        sent = self._sent.get(self._client_ids.get(venue_order_id, ""))
        ticker = ticker or (sent.contract.market_id if sent else "")
        if not ticker:  # an order of an earlier run: GET by id reads every shard
            try:  # (an order only the archive holds is done: nothing to cancel)
                found = await self._live_order(venue_order_id)
                if found is not None:
                    self._result(found)
            except VenueError as exc:
                log.warning("kalshi: order to cancel unreadable", extra={"error": str(exc)})
            ticker = self._order_markets.get(venue_order_id, "")
        if not ticker:
            return {}
        return {"market_ticker": ticker, "exchange_index": self._shards.get(ticker)}

    async def open_orders(self) -> list[OrderResult]:
        self._require_key()
        items = [
            i
            async for i in self._pages(
                "/portfolio/orders", "orders", {"status": "resting", "limit": 1000}, auth=True
            )
        ]
        return [self._result(o) for o in wire.each(items, wire_orders.parse_order, "order")]

    async def get_fills(self, client_order_id: str = "") -> list[Fill]:
        """The fills of one order (all of the live window's without ``client_order_id``).
        Fills older than the historical cutoff are only in ``/historical/fills``: read
        there when the live ones fall short of what the order filled."""
        self._require_key()
        params: dict[str, Any] = {"limit": 1000}
        order: OrderResult | None = None
        if client_order_id:
            order = await self.get_order(client_order_id)
            if order is None:
                return []
            params["order_id"] = order.venue_order_id
        items = [i async for i in self._pages("/portfolio/fills", "fills", params, auth=True)]
        fills = self._fills(items, client_order_id)
        if order is None or sum((f.contracts for f in fills), ZERO) >= order.filled:
            return fills
        if not await self.history.may_hold_fills(self._sent_at.get(client_order_id)):
            return fills
        ticker = self._order_markets.get(order.venue_order_id, "")
        archived = self._fills(
            await self.history.fills(ticker, order.venue_order_id), client_order_id
        )
        seen = {f.fill_id for f in fills}
        return [f for f in archived if f.fill_id not in seen] + fills

    def _fills(self, items: list[Any], client_order_id: str) -> list[Fill]:
        def parse(item: Any) -> Fill:
            order_id = item.get("order_id") if isinstance(item, dict) else None
            coid = client_order_id or self._client_ids.get(order_id or "", "")
            return wire_orders.parse_fill(item, coid, self._sent.get(coid))

        return list(wire.each(items, parse, "fill"))

    def order_rate(self) -> tuple[int, float]:
        # Kalshi's Basic tier refills 100 write tokens a second and an order costs 10
        # (A.6 of the venue notes): 10 orders a second, the write limiter's default.
        return int(self._write_rate), 1.0

    async def get_balance(self) -> Decimal:
        self._require_key()
        return _parse(
            wire.parse_balance, await self._http.get("/portfolio/balance", auth=True), "balance"
        )

    async def get_shard_balances(self) -> dict[int, Decimal]:
        """Cash on each exchange shard (``balance_breakdown``): an order is paid from
        its market's shard only."""
        self._require_key()
        body = await self._http.get("/portfolio/balance", auth=True)
        return _parse(wire.parse_shard_balances, body, "balance")

    def shard_of(self, ticker: str) -> int | None:
        """The exchange shard of a market listed or traded by this process."""
        return self._shards.get(ticker)

    async def transfer(self, amount: Decimal, destination: int, source: int = 0) -> str:
        """Move ``amount`` dollars between shards of the account (rounded up to the
        centicent); returns the transfer id. Sent once: a lost reply raises
        ``OrderStateUnknown`` (the balances say later whether it happened)."""
        self._require_key()
        units = int((amount * CENTICENTS).to_integral_value(ROUND_CEILING))
        body = {
            "source": "event_contract",
            "destination": "event_contract",
            "amount": units,
            "source_exchange_shard": source,
            "destination_exchange_shard": destination,
        }
        reply = await self._http.write("POST", TRANSFER, body, order=True)
        return _parse(wire.parse_transfer_id, reply, "transfer reply")

    async def transfer_status(self, transfer_id: str) -> str:
        """``pending`` or ``complete``."""
        self._require_key()
        body = await self._http.get(f"{TRANSFERS}/{quote(transfer_id, safe='')}", auth=True)
        return _parse(wire.parse_transfer_status, body, "transfer")

    async def get_positions(self) -> list[VenuePosition]:
        self._require_key()
        items: list[Any] = []
        cursor = ""
        for _ in range(self._max_pages):  # positions page under "market_positions"
            body = await self._http.get(
                "/portfolio/positions", {"limit": 1000, "cursor": cursor}, auth=True
            )
            page, cursor = _parse(lambda b: wire.page(b, "market_positions"), body, "positions")
            items.extend(page)
            if not cursor:
                break
        return [p for p in wire.each(items, wire.parse_position, "position") if p is not None]

    async def get_settlements(self, ticker: str = "") -> list[wire.Settlement]:
        self._require_key()
        params = {"limit": 1000, "ticker": ticker}
        items = [
            i async for i in self._pages("/portfolio/settlements", "settlements", params, auth=True)
        ]
        return list(wire.each(items, wire.parse_settlement, "settlement"))

    async def connect(self) -> None:
        """Keep the announced fee changes fresh (``refresh_fees`` every
        ``fee_changes_s``). With a key: keep the order path's auth headers signed ahead,
        so an order leaves without an RSA signature on its path; and open the account
        stream."""
        if self._fee_task is None:  # public reads: paper mode needs them too
            self._fee_task = asyncio.create_task(self._keep_fees_fresh(), name="kalshi-fees")
        if self._signer is not None and self._presigner is None:
            self._presigner = asyncio.create_task(
                self._keep_presigned(self._signer), name="kalshi-presign"
            )
        if self._signer is not None and self._user_stream and self._account_task is None:
            self.account_stream = ws_account.KalshiAccountStream(
                self._ws_url, self._signer, self._on_news, self.news.broke
            )
            self.news.live = True
            self._account_task = asyncio.create_task(
                self.account_stream.run(), name="kalshi-account-ws"
            )

    async def _keep_presigned(self, signer: KalshiSigner) -> None:
        path = self._http.base_path + ORDERS
        while True:
            signer.presign("POST", path)
            await asyncio.sleep(PRESIGN_INTERVAL_S)

    async def close(self) -> None:
        if self._fee_task is not None:
            self._fee_task.cancel()
            self._fee_task = None
        if self._presigner is not None:
            self._presigner.cancel()
            self._presigner = None
        if self._account_task is not None:
            self._account_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._account_task
            self._account_task = None
            self.news.live = False
            self.news.broke()
        await self._http.close()

    # --- helpers -------------------------------------------------------------------

    async def _pages(
        self, path: str, key: str, params: Mapping[str, Any], *, auth: bool = False
    ) -> AsyncIterator[Any]:
        """Every item of a cursor-paged list. A garbage cursor silently restarts at page
        one on Kalshi, so a cursor seen twice ends the walk."""
        cursor, seen = "", set()
        for _ in range(self._max_pages):
            body = await self._http.get(path, {**params, "cursor": cursor}, auth=auth)
            items, cursor = _parse(lambda b: wire.page(b, key), body, key)
            for item in items:
                yield item
            if not cursor or cursor in seen:
                return
            seen.add(cursor)
        log.warning("kalshi: page limit reached", extra={"path": path, "pages": self._max_pages})

    def _parse_markets(
        self, raw: Iterable[Any], *, event: wire.WireEvent | None = None
    ) -> list[Market]:
        now = datetime.now(UTC)
        out = []
        for item in raw:
            try:
                market = wire.parse_market(item, event=event)
                self._grids[market.market_id] = wire.price_ranges(item)
            except wire.WireError as exc:
                ident = item.get("ticker") if isinstance(item, dict) else None
                log.warning(
                    "kalshi: skipped malformed market", extra={"id": ident, "error": str(exc)}
                )
                continue
            self._shards[market.market_id] = market.exchange_index
            # "Time when this market's fee waiver expires": no fee until then.
            waived = wire.fee_waived_until(item)
            if waived is not None:
                self.fees.waivers[market.market_id] = waived
            fee, changes = self.fees.fees_of(market, now)
            self._priced_fresh = self.fees.fresh
            market = dataclasses.replace(market, fee=fee, fee_changes=changes)
            self.lifecycle.remember(market)
            out.append(market)
        return out

    async def _grid(self, ticker: str) -> tuple[wire.PriceRange, ...]:
        """The market's price grid (and, read with it, its shard)."""
        if ticker not in self._grids:
            await self.get_market(ticker)
        return self._grids[ticker]

    def _tick(self, ticker: str) -> Decimal:
        grid = self._grids.get(ticker)
        return wire.tick_size(grid) if grid else CENT

    def _remember(self, order: OrderRequest) -> None:
        self._sent[order.client_order_id] = order
        self._sent_at[order.client_order_id] = _now()
        while len(self._sent) > REMEMBERED_ORDERS:
            coid, _ = self._sent.popitem(last=False)
            self._sent_at.pop(coid, None)

    def _result(self, order: wire_orders.WireOrder) -> OrderResult:
        self._order_markets[order.order_id] = order.ticker
        if order.client_order_id:
            self._venue_ids[order.client_order_id] = order.order_id
        if order.exchange_index is not None:
            self._shards[order.ticker] = order.exchange_index
        sent = self._sent.get(order.client_order_id)
        try:
            return wire_orders.order_result(order, sent.contract.side.lower() if sent else None)
        except wire.WireError as exc:
            raise BadResponse(Venue.KALSHI, str(exc)) from None

    def _require_key(self) -> None:
        if self._signer is None:
            raise AuthError(
                Venue.KALSHI, "no Kalshi API key configured (paper mode)", code="no_credentials"
            )

    async def _backoff(self, attempt: int) -> None:
        await asyncio.sleep(random.uniform(0, min(self._max_backoff_s, 0.1 * 2**attempt)))


@dataclass(frozen=True, slots=True)
class _Ready:
    body: dict[str, Any]
    write: PreparedWrite | None  # None: sign and send afresh


def _parse(parse: Callable[[Any], T], body: Any, what: str) -> T:
    try:
        return parse(body)
    except wire.WireError as exc:
        raise BadResponse(Venue.KALSHI, f"malformed {what}: {exc}") from None


def _refused(order: OrderRequest, status: OrderStatus, exc: VenueError) -> OrderResult:
    return OrderResult(order.client_order_id, status, error_code=exc.code, error=exc.message)


def _now() -> datetime:
    return datetime.now(UTC)
