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
import logging
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
from aiolimiter import AsyncLimiter

from predarb.domain import (
    CENT,
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
from predarb.venues.kalshi import wire, wire_orders, ws
from predarb.venues.kalshi.auth import PRESIGNED_MAX_AGE_S, KalshiSigner
from predarb.venues.kalshi.errors import FOK_KILLED, RetiredEndpoint, to_error

if TYPE_CHECKING:
    from predarb.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
ORDERS = "/portfolio/events/orders"
BOOKS_PER_CALL = 100  # GET /markets/orderbooks takes up to 100 tickers
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
        fee_cache_s: float = 3600,
        http_client: httpx.AsyncClient | None = None,
        ws_url: str | None = None,
    ) -> None:
        """``base_url`` includes ``/trade-api/v2``. Without ``key_id`` and
        ``private_key_path`` only market data works. ``read_rate``/``write_rate`` are
        requests per second; ``series_tickers`` limits ``list_markets`` to those series."""
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
        self._ws_url = ws_url or ws.ws_url(base_url)
        self._max_pages = max_pages
        self._order_retries = order_retries
        self._max_backoff_s = max_backoff_s
        self._fee_cache_s = fee_cache_s
        self._fees: dict[str, tuple[float, wire.SeriesFee]] = {}
        self._grids: dict[str, tuple[wire.PriceRange, ...]] = {}
        # Orders sent by this process: which contract each traded (V2 orders only know
        # the YES book side) and the venue id of each client id.
        self._sent: OrderedDict[str, OrderRequest] = OrderedDict()
        self._client_ids: dict[str, str] = {}
        # Orders prepared for sending (body built, headers signed, limiter token taken),
        # or already refused locally, by client order id.
        self._prepared: OrderedDict[str, _Ready | OrderResult] = OrderedDict()
        self._presigner: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> KalshiVenue:
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
        fees = await self._series_fees(e.series_ticker for e in events if not e.fee_override)
        markets: list[Market] = []
        for event in events:
            fee = event.fee_override or fees.get(event.series_ticker)
            for market in self._parse_markets(event.markets, event=event, fee=fee):
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
        series = {
            wire.series_of(r["event_ticker"])
            for r in raw
            if isinstance(r, dict) and isinstance(r.get("event_ticker"), str)
        }
        fees = await self._series_fees(series)
        out: list[Market] = []
        for item in raw:
            ev = item.get("event_ticker") if isinstance(item, dict) else None
            fee = fees.get(wire.series_of(ev)) if isinstance(ev, str) else None
            out.extend(self._parse_markets([item], fee=fee))
        return out

    async def get_market(self, ticker: str) -> Market:
        body = await self._http.get(f"/markets/{quote(ticker, safe='')}")
        raw = _parse(lambda b: wire.obj(b, "body").get("market"), body, "market")
        fee = await self.series_fee(wire.series_of(ticker))
        markets = self._parse_markets([raw], fee=fee)
        if not markets:
            raise BadResponse(Venue.KALSHI, f"market {ticker} could not be parsed")
        return markets[0]

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        tickers = list(dict.fromkeys(c.market_id for c in contracts if c.venue is Venue.KALSHI))
        books: dict[Contract, OrderBook] = {}
        for start in range(0, len(tickers), BOOKS_PER_CALL):
            chunk = tickers[start : start + BOOKS_PER_CALL]
            try:
                body = await self._http.get("/markets/orderbooks", {"tickers": ",".join(chunk)})
                entries = wire.obj(body, "orderbooks body").get("orderbooks")
            except (VenueError, wire.WireError) as exc:
                log.warning(
                    "kalshi: order books unavailable",
                    extra={"tickers": len(chunk), "error": str(exc)},
                )
                continue
            for entry in entries if isinstance(entries, list) else []:
                try:
                    ticker = wire.text(wire.obj(entry, "orderbooks[]"), "ticker")
                    yes, no = wire.parse_orderbook(entry, ticker, tick=self._tick(ticker))
                except wire.WireError as exc:
                    log.warning("kalshi: skipped malformed order book", extra={"error": str(exc)})
                    continue
                books[yes.contract], books[no.contract] = yes, no
        wanted = set(contracts)
        return {c: b for c, b in books.items() if c in wanted}

    async def series_fee(self, series: str) -> wire.SeriesFee:
        """The series' fee type and multiplier (``GET /series/{s}``), cached."""
        cached = self._fees.get(series)
        if cached and time.monotonic() - cached[0] < self._fee_cache_s:
            return cached[1]
        try:
            body = await self._http.get(f"/series/{quote(series, safe='')}")
            fee = _parse(wire.parse_series_fee, body, "series")
        except VenueError as exc:
            log.warning(
                "kalshi: series fee unknown, using the default",
                extra={"series": series, "error": str(exc)},
            )
            return wire.SeriesFee()
        self._fees[series] = (time.monotonic(), fee)
        return fee

    async def get_resolution(self, market_id: str) -> Resolution | None:
        body = await self._http.get(f"/markets/{quote(market_id, safe='')}")
        return _parse(
            lambda b: wire.parse_resolution(wire.obj(b, "body").get("market")), body, "market"
        )

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
        return result

    async def _body(self, order: OrderRequest) -> dict[str, str] | OrderResult:
        """The order's wire body, or its local refusal (nothing sent)."""
        try:
            return wire_orders.order_body(order, await self._grid(order.contract.market_id))
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
        no client id filter; narrowed to the ticker when this process sent the order)."""
        self._require_key()
        if venue_order_id:
            try:
                body = await self._http.get(
                    f"/portfolio/orders/{quote(venue_order_id, safe='')}", auth=True
                )
            except NotFound:
                return None
            order = _parse(
                lambda b: wire_orders.parse_order(wire.obj(b, "body").get("order")), body, "order"
            )
            return self._result(order)
        sent = self._sent.get(client_order_id)
        params = {"limit": 1000, "ticker": sent.contract.market_id if sent else None}
        async for item in self._pages("/portfolio/orders", "orders", params, auth=True):
            if isinstance(item, dict) and item.get("client_order_id") == client_order_id:
                return self._result(_parse(wire_orders.parse_order, item, "order"))
        return None

    async def cancel_order(self, venue_order_id: str) -> None:
        self._require_key()
        path = f"{ORDERS}/{quote(venue_order_id, safe='')}"
        for attempt in range(self._order_retries + 1):
            try:
                reply = await self._http.write("DELETE", path)
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
        self._require_key()
        params: dict[str, Any] = {"limit": 1000}
        if client_order_id:
            order = await self.get_order(client_order_id)
            if order is None:
                return []
            params["order_id"] = order.venue_order_id
        items = [i async for i in self._pages("/portfolio/fills", "fills", params, auth=True)]

        def parse(item: Any) -> Fill:
            order_id = item.get("order_id") if isinstance(item, dict) else None
            coid = client_order_id or self._client_ids.get(order_id or "", "")
            return wire_orders.parse_fill(item, coid, self._sent.get(coid))

        return list(wire.each(items, parse, "fill"))

    async def get_balance(self) -> Decimal:
        self._require_key()
        return _parse(
            wire.parse_balance, await self._http.get("/portfolio/balance", auth=True), "balance"
        )

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
        """With a key: keep the order path's auth headers signed ahead, so an order
        leaves without an RSA signature on its path."""
        if self._signer is not None and self._presigner is None:
            self._presigner = asyncio.create_task(
                self._keep_presigned(self._signer), name="kalshi-presign"
            )

    async def _keep_presigned(self, signer: KalshiSigner) -> None:
        path = self._http.base_path + ORDERS
        while True:
            signer.presign("POST", path)
            await asyncio.sleep(PRESIGN_INTERVAL_S)

    async def close(self) -> None:
        if self._presigner is not None:
            self._presigner.cancel()
            self._presigner = None
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
        self,
        raw: Iterable[Any],
        *,
        event: wire.WireEvent | None = None,
        fee: wire.SeriesFee | None = None,
    ) -> list[Market]:
        out = []
        for item in raw:
            try:
                market = wire.parse_market(item, event=event, fee=fee)
                self._grids[market.market_id] = wire.price_ranges(item)
            except wire.WireError as exc:
                ident = item.get("ticker") if isinstance(item, dict) else None
                log.warning(
                    "kalshi: skipped malformed market", extra={"id": ident, "error": str(exc)}
                )
                continue
            out.append(market)
        return out

    async def _series_fees(self, series: Iterable[str]) -> dict[str, wire.SeriesFee]:
        return {s: await self.series_fee(s) for s in set(series) if s}

    async def _grid(self, ticker: str) -> tuple[wire.PriceRange, ...]:
        if ticker not in self._grids:
            await self.get_market(ticker)
        return self._grids[ticker]

    def _tick(self, ticker: str) -> Decimal:
        grid = self._grids.get(ticker)
        return wire.tick_size(grid) if grid else CENT

    def _remember(self, order: OrderRequest) -> None:
        self._sent[order.client_order_id] = order
        while len(self._sent) > REMEMBERED_ORDERS:
            self._sent.popitem(last=False)

    def _result(self, order: wire_orders.WireOrder) -> OrderResult:
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
    body: dict[str, str]
    write: PreparedWrite | None  # None: sign and send afresh


def _parse(parse: Callable[[Any], T], body: Any, what: str) -> T:
    try:
        return parse(body)
    except wire.WireError as exc:
        raise BadResponse(Venue.KALSHI, f"malformed {what}: {exc}") from None


def _refused(order: OrderRequest, status: OrderStatus, exc: VenueError) -> OrderResult:
    return OrderResult(order.client_order_id, status, error_code=exc.code, error=exc.message)
