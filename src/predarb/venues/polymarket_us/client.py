"""The Polymarket US venue: the CFTC-regulated exchange open to US residents.

Two hosts (the SDK's defaults): public market data on the gateway, unsigned; account
and orders on the API host, signed with Ed25519 (``auth``). Reads are retried with
jittered backoff on 429/5xx/timeouts (``JsonHttp``); an order is sent once and a lost
reply raises ``OrderStateUnknown``. The exchange has no client order id, so the order
is then found by lookup (``get_order``): first among the open orders, then among the
account's trades on that market since it was sent; nothing is ever sent again.

Markets are traded by slug; each has one book, of its long (YES) side. Domain
contracts are ``Contract(POLYMARKET_US, slug, outcome label, "long" | "short")``.
Settlement is automatic: a resolved market's positions are paid into the balance.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
from aiolimiter import AsyncLimiter

from predarb.domain import (
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
    VenueClient,
    VenueError,
)
from predarb.venues.http import JsonHttp
from predarb.venues.polymarket_us import orders, wire, ws
from predarb.venues.polymarket_us.auth import PolymarketUSSigner
from predarb.venues.polymarket_us.errors import to_error
from predarb.venues.polymarket_us.intents import LONG, SHORT

if TYPE_CHECKING:
    from predarb.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
V = Venue.POLYMARKET_US
GATEWAY_URL = "https://gateway.polymarket.us"
API_URL = "https://api.polymarket.us"
PAGE = 100
REMEMBERED_ORDERS = 10_000
# An order's createTime is the exchange's clock: allow it to run this far behind ours.
CLOCK_SLACK = timedelta(seconds=5)


@dataclass
class _Sent:
    order: OrderRequest
    at: datetime
    venue_order_id: str = ""
    result: OrderResult | None = None


class PolymarketUSVenue(VenueClient):
    venue = V

    def __init__(
        self,
        gateway_url: str = GATEWAY_URL,
        api_url: str = API_URL,
        key_id: str | None = None,
        secret_key: str | None = None,
        *,
        categories: Iterable[str] = (),
        read_rate: float = 10,
        write_rate: float = 5,
        timeout_s: float = 10,
        max_backoff_s: float = 4.0,
        max_pages: int = 50,
        max_block_s: float = 5,
        on_fee_mismatch: Callable[[orders.FeeMismatch], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        http_client: httpx.AsyncClient | None = None,
        ws_url: str | None = None,
    ) -> None:
        """Without ``key_id`` and ``secret_key`` only market data works.
        ``categories`` limits ``list_markets`` (e.g. ``("sports",)``)."""
        if bool(key_id) != bool(secret_key):
            raise AuthError(
                V, "POLY_US_KEY_ID and POLY_US_SECRET_KEY must be set together", code="config"
            )
        self._signer = PolymarketUSSigner(key_id, secret_key) if key_id and secret_key else None
        common: dict[str, Any] = dict(
            to_error=to_error, timeout_s=timeout_s, max_backoff_s=max_backoff_s
        )
        self._public = JsonHttp(
            V.value, gateway_url, read_limiter=AsyncLimiter(read_rate, 1), **common
        )
        self._private = JsonHttp(
            V.value,
            api_url,
            sign=self._signer,
            read_limiter=AsyncLimiter(read_rate, 1),
            write_limiter=AsyncLimiter(write_rate, 1),
            client=http_client,
            **common,
        )
        self._ws_url = ws_url or ws.ws_url(api_url)
        self._categories = tuple(categories)
        self._max_pages = max_pages
        self._max_block_s = max_block_s
        self.on_fee_mismatch = on_fee_mismatch
        self._clock = clock
        self._markets: dict[str, Market] = {}
        self._sent: OrderedDict[str, _Sent] = OrderedDict()  # by client order id
        self._slugs: dict[str, str] = {}  # venue order id -> slug (cancel needs it)
        self._claimed_trades: set[str] = set()  # trade ids already given to an order

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> PolymarketUSVenue:
        secret = settings.poly_us_secret_key
        return cls(
            settings.poly_us_gateway_url,
            settings.poly_us_api_url,
            settings.poly_us_key_id,
            secret.get_secret_value() if secret is not None else None,
            **kwargs,
        )

    @property
    def has_credentials(self) -> bool:
        return self._signer is not None

    def book_stream(self, **kwargs: Any) -> ws.PolymarketUSBookStream | None:
        """Streamed books; the markets WebSocket needs a key, so ``None`` without one."""
        if self._signer is None:
            return None
        return ws.PolymarketUSBookStream(
            self._ws_url, self._signer, self, self._markets.get, **kwargs
        )

    # --- market data (public) ---------------------------------------------------

    async def list_markets(self) -> list[Market]:
        """Open markets (all pages, of ``categories`` only when given)."""
        out: list[Market] = []
        for offset in range(0, self._max_pages * PAGE, PAGE):
            params: dict[str, Any] = {"active": "true", "closed": "false", "limit": PAGE}
            params["offset"] = offset
            if self._categories:
                params["categories"] = list(self._categories)
            body = await self._public.get("/v1/markets", params)
            items = _parse(wire.parse_markets_page, body, "markets")
            for market in wire.each(items, wire.parse_market, "market"):
                self._markets[market.market_id] = market
                if market.status is MarketStatus.OPEN:
                    out.append(market)
            if len(items) < PAGE:
                break
        return out

    async def market(self, slug: str) -> Market:
        """A market by slug (cached; ``GET /v1/market/slug/{slug}`` when not yet seen)."""
        known = self._markets.get(slug)
        if known is not None:
            return known
        body = await self._public.get(f"/v1/market/slug/{quote(slug, safe='')}")
        market = _parse(
            lambda b: wire.parse_market(wire.obj(b, "body").get("market")), body, "market"
        )
        self._markets[slug] = market
        return market

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        slugs = list(dict.fromkeys(c.market_id for c in contracts if c.venue is V))
        found = await asyncio.gather(*(self._book(s) for s in slugs))
        wanted = set(contracts)
        return {b.contract: b for pair in found for b in pair if b.contract in wanted}

    async def _book(self, slug: str) -> tuple[OrderBook, ...]:
        try:
            market = await self.market(slug)
            body = await self._public.get(f"/v1/markets/{quote(slug, safe='')}/book")
            return wire.parse_book(body, market, self._clock())
        except (VenueError, wire.WireError) as exc:
            log.warning(
                "polymarket_us: order book unavailable", extra={"slug": slug, "error": str(exc)}
            )
            return ()

    async def get_resolution(self, market_id: str) -> Resolution | None:
        """The settlement of a market that stopped trading. An open market's settlement
        value is never trusted (the endpoint's answer before resolution is not
        documented, and a 0 read as "long lost" would settle a live position)."""
        slug = quote(market_id, safe="")
        try:
            body = await self._public.get(f"/v1/market/slug/{slug}")
            market = _parse(
                lambda b: wire.parse_market(wire.obj(b, "body").get("market")), body, "market"
            )
            self._markets[market_id] = market
            if market.status in (MarketStatus.OPEN, MarketStatus.PAUSED):
                return None
            body = await self._public.get(f"/v1/markets/{slug}/settlement")
        except NotFound:
            return None
        return _parse(
            lambda b: wire.parse_resolution(b, self._markets.get(market_id), market_id),
            body,
            "settlement",
        )

    async def health(self) -> bool:
        try:
            await self._public.get("/v1/markets", {"limit": 1})
        except VenueError:
            return False
        return True

    # --- trading (signed) ---------------------------------------------------------

    async def connect(self) -> None:
        if self._signer is not None:
            await self.get_balance()  # proves the keys: AuthError when refused

    async def prepare(self, order: OrderRequest) -> str:
        reason = orders.refusal(order, await self._market_or_none(order.contract.market_id))
        if reason:
            raise OrderRejected(V, reason, code=orders.REJECTED_LOCALLY)
        return order.client_order_id

    async def place_order(self, order: OrderRequest) -> OrderResult:
        """One FOK or IOC limit order, priced on the long side. A FOK the book cannot
        fill comes back CANCELED; refusals REJECTED; a lost or unreadable reply raises
        ``OrderStateUnknown`` (then ``get_order`` finds it)."""
        self._require_key()
        market = await self._market_or_none(order.contract.market_id)
        reason = orders.refusal(order, market)
        if reason or market is None:
            return OrderResult(
                order.client_order_id,
                OrderStatus.REJECTED,
                error_code=orders.REJECTED_LOCALLY,
                error=reason,
            )
        sent = self._remember(order)
        reply = await self._private.write(
            "POST", "/v1/orders", orders.order_body(order, self._max_block_s), order=True
        )
        try:
            order_id, executions = wire.parse_create_reply(reply)
        except wire.WireError as exc:
            raise OrderStateUnknown(V, f"unreadable order reply: {exc}") from None
        sent.venue_order_id = order_id
        self._slugs[order_id] = order.contract.market_id
        if not executions:  # not executed synchronously: ask for the order itself
            looked = await self.get_order(order.client_order_id, order_id)
            return looked or OrderResult(order.client_order_id, OrderStatus.UNKNOWN, order_id)
        pairs = [(e, o) for e, o in executions]
        result = orders.from_reply(order, order_id, [e for e, _ in pairs], self._clock())
        self._settle_sent(sent, result, market)
        return result

    def _settle_sent(self, sent: _Sent, result: OrderResult, market: Market | None) -> None:
        sent.result = result
        self._claimed_trades.update(f.fill_id for f in result.fills)
        if market is None:
            return
        for mismatch in orders.fee_mismatches(sent.order, market, result.fills):
            log.error(mismatch.describe(), extra={"code": "fee_mismatch"})
            if self.on_fee_mismatch is not None:
                self.on_fee_mismatch(mismatch)

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        sent = self._sent.get(client_order_id)
        if sent is not None and sent.result is not None and sent.result.status.final:
            return sent.result
        order_id = venue_order_id or (sent.venue_order_id if sent else "")
        if order_id:
            return await self._by_id(client_order_id, order_id, sent)
        if sent is None:
            return None  # sent by another process and never answered: nothing to match
        return await self._find_lost(sent)

    async def _by_id(
        self, client_order_id: str, order_id: str, sent: _Sent | None
    ) -> OrderResult | None:
        try:
            body = await self._private.get(f"/v1/order/{quote(order_id, safe='')}", auth=True)
        except NotFound:
            return None
        wo = _parse(wire.parse_order_reply, body, "order")
        self._slugs[wo.order_id] = wo.slug
        status, filled, avg = orders.from_order(client_order_id, wo)
        fills: tuple[Fill, ...] = ()
        if sent is not None and sent.result is not None:
            fills = sent.result.fills
        return OrderResult(client_order_id, status, wo.order_id, filled, avg, wo.commission, fills)

    async def _find_lost(self, sent: _Sent) -> OrderResult | None:
        """The order whose reply was lost: resting among the open orders, or done and
        visible as trades on its market since it left. ``None``: no trace (yet)."""
        order, since = sent.order, sent.at - CLOCK_SLACK
        slug = order.contract.market_id
        body = await self._private.get("/v1/orders/open", {"slugs": slug}, auth=True)
        for wo in _parse(wire.parse_open_orders, body, "open orders"):
            if orders.matches(order, wo, since):
                sent.venue_order_id = wo.order_id
                return await self._by_id(order.client_order_id, wo.order_id, sent)
        params = {"marketSlug": slug, "types": "ACTIVITY_TYPE_TRADE", "limit": 100}
        body = await self._private.get("/v1/portfolio/activities", params, auth=True)
        trades = [
            t
            for t in _parse(wire.parse_trades, body, "activities")
            if t.slug == slug
            and t.aggressor
            and t.trade_id not in self._claimed_trades
            and (t.ts is None or t.ts >= since)
        ]
        if not trades:
            return None
        market = self._markets.get(slug)
        fills = orders.fills_from_trades(
            order, sorted(trades, key=lambda t: t.ts or since), market, self._clock()
        )
        result = orders.summarize(order, sent.venue_order_id, fills)
        sent.result = result
        self._claimed_trades.update(f.fill_id for f in fills)
        return result

    async def get_fills(self, client_order_id: str = "") -> list[Fill]:
        sent = self._sent.get(client_order_id)
        return list(sent.result.fills) if sent and sent.result else []

    async def cancel_order(self, venue_order_id: str) -> None:
        self._require_key()
        slug = self._slugs.get(venue_order_id)
        try:
            if slug is None:
                body = await self._private.get(
                    f"/v1/order/{quote(venue_order_id, safe='')}", auth=True
                )
                slug = _parse(wire.parse_order_reply, body, "order").slug
            await self._private.write(
                "POST", f"/v1/order/{quote(venue_order_id, safe='')}/cancel", {"marketSlug": slug}
            )
        except NotFound:
            return  # already gone

    async def open_orders(self) -> list[OrderResult]:
        self._require_key()
        body = await self._private.get("/v1/orders/open", auth=True)
        out = []
        for wo in _parse(wire.parse_open_orders, body, "open orders"):
            self._slugs[wo.order_id] = wo.slug
            status, filled, avg = orders.from_order(wo.order_id, wo)
            out.append(OrderResult(wo.order_id, status, wo.order_id, filled, avg, wo.commission))
        return out

    async def get_balance(self) -> Decimal:
        self._require_key()
        return _parse(
            wire.parse_balance,
            await self._private.get("/v1/account/balances", auth=True),
            "balances",
        )

    async def get_positions(self) -> list[VenuePosition]:
        self._require_key()
        out: list[VenuePosition] = []
        cursor = ""
        for _ in range(self._max_pages):
            params = {"limit": PAGE, "cursor": cursor}
            body = await self._private.get("/v1/portfolio/positions", params, auth=True)
            positions, cursor = _parse(wire.parse_positions, body, "positions")
            for p in positions:
                market = await self._market_or_none(p.slug)
                long_c, short_c = (
                    market.contracts
                    if market is not None
                    else (Contract(V, p.slug, "Yes", LONG), Contract(V, p.slug, "No", SHORT))
                )
                contract = long_c if p.net > 0 else short_c
                out.append(VenuePosition(contract, abs(p.net), p.cost))
            if not cursor:
                break
        return out

    async def close(self) -> None:
        await self._public.close()
        await self._private.close()

    # --- helpers -------------------------------------------------------------------

    async def _market_or_none(self, slug: str) -> Market | None:
        try:
            return await self.market(slug)
        except (NotFound, BadResponse):
            return None

    def _remember(self, order: OrderRequest) -> _Sent:
        sent = _Sent(order, self._clock())
        self._sent[order.client_order_id] = sent
        while len(self._sent) > REMEMBERED_ORDERS:
            self._sent.popitem(last=False)
        return sent

    def _require_key(self) -> None:
        if self._signer is None:
            raise AuthError(V, "POLY_US_KEY_ID and POLY_US_SECRET_KEY are required", code="config")


def _parse(parse: Callable[[Any], T], body: Any, what: str) -> T:
    try:
        return parse(body)
    except wire.WireError as exc:
        raise BadResponse(V, f"malformed {what}: {exc}") from None
