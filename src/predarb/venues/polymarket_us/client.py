"""The Polymarket US venue: the CFTC-regulated exchange open to US residents.

Two hosts (the SDK's defaults): public market data on the gateway, unsigned; account
and orders on the API host, signed with Ed25519 (``auth``). Reads are retried with
jittered backoff on 429/5xx/timeouts (``JsonHttp``); an order is sent once and a lost
reply raises ``OrderStateUnknown``. The exchange has no client order id, so ``prepare``
gives the placer the order's lookup key (``lookup.Lookup``: market, intent, limit,
quantity, when it left), recorded before sending; ``get_order`` finds the order by it,
also after a restart: first among the open orders, then among the account's trades on
that market since it left. Nothing is ever sent again, and what cannot be told apart
is answered "cannot tell" (a ``VenueError``), never "it never arrived".

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
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
from aiolimiter import AsyncLimiter

from predarb.domain import (
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
    VenueClient,
    VenueError,
)
from predarb.venues.http import JsonHttp
from predarb.venues.polymarket_us import orders, wire, ws
from predarb.venues.polymarket_us.auth import PolymarketUSSigner
from predarb.venues.polymarket_us.errors import (
    PolymarketUSOrderStateUnknown,
    cannot_tell,
    to_error,
)
from predarb.venues.polymarket_us.intents import LONG, SHORT, long_side_price
from predarb.venues.polymarket_us.lookup import CLOCK_SLACK, CannotTell, Lookup
from predarb.venues.polymarket_us.wire import WireOrder, WireTrade

if TYPE_CHECKING:
    from predarb.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
V = Venue.POLYMARKET_US
GATEWAY_URL = "https://gateway.polymarket.us"
API_URL = "https://api.polymarket.us"
PAGE = 100
REMEMBERED_ORDERS = 10_000


@dataclass
class _Sent:
    order: OrderRequest
    lookup: Lookup  # what it was and when it left: how it is found after a lost answer
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
        self._claimed_orders: set[str] = set()  # open orders already given to a lost one

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
        if self._categories and not self._markets:
            # A category name the exchange does not use lists nothing: say so.
            log.warning(
                "polymarket_us: no markets in categories %s (POLY_US_CATEGORIES)",
                ",".join(self._categories),
                extra={"code": "no_markets_in_categories"},
            )
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
        """The order's lookup key (what it is and when it leaves), which the placer
        records before sending: the exchange has no client order id, so after a lost
        answer, before or after a restart, the order is found by it."""
        reason = orders.refusal(order, await self._market_or_none(order.contract.market_id))
        if reason:
            raise OrderRejected(V, reason, code=orders.REJECTED_LOCALLY)
        return Lookup.of(order, self._clock()).key

    async def place_order(self, order: OrderRequest) -> OrderResult:
        """One FOK or IOC limit order, priced on the long side. A FOK the book cannot
        fill comes back CANCELED; refusals REJECTED; a lost or unreadable reply raises
        ``OrderStateUnknown`` with the order's lookup key (then ``get_order`` finds it)."""
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
        try:
            reply = await self._private.write(
                "POST", "/v1/orders", orders.order_body(order, self._max_block_s), order=True
            )
            order_id, executions = wire.parse_create_reply(reply)
        except OrderStateUnknown as exc:
            raise PolymarketUSOrderStateUnknown(
                exc.message, venue_order_id=sent.lookup.key
            ) from exc
        except wire.WireError as exc:
            raise PolymarketUSOrderStateUnknown(
                f"unreadable order reply: {exc}", venue_order_id=sent.lookup.key
            ) from None
        sent.venue_order_id = order_id
        self._slugs[order_id] = order.contract.market_id
        if not executions:  # not executed synchronously: ask for the order itself
            looked = await self.get_order(order.client_order_id, order_id)
            return looked or OrderResult(order.client_order_id, OrderStatus.UNKNOWN, order_id)
        result = orders.from_reply(order, order_id, [e for e, _ in executions], self._clock())
        sent.result = result
        self._claimed_trades.update(f.fill_id for f in result.fills)
        self._report(orders.fee_mismatches(order, market, result.fills))
        return result

    def _report(self, mismatches: Iterable[orders.FeeMismatch]) -> None:
        for mismatch in mismatches:
            log.error(mismatch.describe(), extra={"code": "fee_mismatch"})
            if self.on_fee_mismatch is not None:
                self.on_fee_mismatch(mismatch)

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        """The order by its exchange id; else, its answer lost, found by its lookup key
        (``venue_order_id`` as ``prepare`` gave it, or what this process remembers).
        ``None`` only when nothing could be the order; a ``VenueError`` (code
        ``cannot_tell``) when there is nothing to look by or what is found could be
        another order's: the caller then keeps it unknown."""
        sent = self._sent.get(client_order_id)
        if sent is not None and sent.result is not None and sent.result.status.final:
            return sent.result
        lookup = Lookup.parse(venue_order_id)
        given = "" if lookup is not None or venue_order_id == client_order_id else venue_order_id
        order_id = given or (sent.venue_order_id if sent else "")
        if order_id:
            return await self._by_id(client_order_id, order_id, sent)
        if sent is None and lookup is not None:
            sent = await self._recalled(client_order_id, lookup)
        if sent is None:
            raise cannot_tell(
                f"order {client_order_id}: no exchange id and no lookup key recorded, "
                "so whether it reached the exchange cannot be told"
            )
        return await self._find_lost(sent)

    async def _recalled(self, client_order_id: str, lookup: Lookup) -> _Sent:
        """An order sent by an earlier run, known by its recorded lookup key."""
        contract = await self._contract(lookup.slug, lookup.intent.is_long)
        sent = _Sent(lookup.request(client_order_id, contract), lookup)
        self._sent[client_order_id] = sent
        return sent

    async def _contract(self, slug: str, long: bool) -> Contract:
        market = await self._market_or_none(slug)
        if market is not None:
            return market.contracts[0 if long else 1]
        return Contract(V, slug, "Yes", LONG) if long else Contract(V, slug, "No", SHORT)

    async def _by_id(
        self, client_order_id: str, order_id: str, sent: _Sent | None
    ) -> OrderResult | None:
        try:
            body = await self._private.get(f"/v1/order/{quote(order_id, safe='')}", auth=True)
        except NotFound:
            # The exchange named this order: "not found" cannot mean it never arrived.
            raise cannot_tell(f"order {order_id} not found at the exchange") from None
        wo = _parse(wire.parse_order_reply, body, "order")
        self._slugs[wo.order_id] = wo.slug
        status, filled, avg = orders.from_order(client_order_id, wo)
        fills = sent.result.fills if sent is not None and sent.result is not None else ()
        if not fills and status.final and filled > 0:
            order = sent.order if sent is not None else await self._request_of(client_order_id, wo)
            fills = await self._fills_of(order, wo)
        result = OrderResult(
            client_order_id, status, wo.order_id, filled, avg, wo.commission, fills
        )
        if sent is not None and status.final:
            sent.result = result
        return result

    async def _request_of(self, client_order_id: str, wo: WireOrder) -> OrderRequest:
        contract = await self._contract(wo.slug, wo.intent.is_long)
        own = long_side_price(wo.intent, wo.long_price)
        return OrderRequest(client_order_id, contract, wo.intent.action, own, wo.quantity)

    async def _fills_of(self, order: OrderRequest, wo: WireOrder) -> tuple[Fill, ...]:
        """The fills of a done order read by id (its answer lost, or a restart since):
        its trades, and its commission checked against theirs by the fee coefficient.
        None when its trades cannot be told from others' (logged: commission unchecked)."""
        lookup = Lookup.of_order(wo)
        market = await self._market_or_none(wo.slug)
        try:
            trades = await self._trades_of(lookup) if lookup is not None else []
        except CannotTell as exc:
            trades = []
            log.warning("polymarket_us: trades of %s: %s", wo.order_id, exc)
        if sum((t.shares for t in trades), ZERO) != wo.filled:
            log.warning(
                "polymarket_us: commission of order %s unchecked: its trades are not known",
                wo.order_id,
                extra={"code": "fee_unchecked"},
            )
            return ()
        fills = orders.fills_from_trades(order, trades, market, self._clock())
        self._claimed_trades.update(f.fill_id for f in fills)
        if market is not None:
            self._report(orders.commission_mismatch(order, market, fills, wo.commission))
        return fills

    async def _find_lost(self, sent: _Sent) -> OrderResult | None:
        """The order whose answer was lost: resting among the open orders, or done and
        visible as trades on its market since it left. ``None``: no trace."""
        order, lookup = sent.order, sent.lookup
        slug = order.contract.market_id
        body = await self._private.get("/v1/orders/open", {"slugs": slug}, auth=True)
        resting = [
            wo
            for wo in _parse(wire.parse_open_orders, body, "open orders")
            if lookup.is_order(wo) and wo.order_id not in self._claimed_orders
        ]
        if len(resting) > 1:
            ids = ", ".join(wo.order_id for wo in resting)
            raise cannot_tell(f"order {order.client_order_id} could be any of {ids}")
        if resting:
            sent.venue_order_id = resting[0].order_id
            self._claimed_orders.add(sent.venue_order_id)
            return await self._by_id(order.client_order_id, sent.venue_order_id, sent)
        try:
            trades = await self._trades_of(lookup)
        except CannotTell as exc:
            raise cannot_tell(f"order {order.client_order_id}: {exc}") from None
        if not trades:
            return None
        market = self._markets.get(slug)
        fills = orders.fills_from_trades(order, trades, market, self._clock())
        result = orders.summarize(order, sent.venue_order_id, fills)
        sent.result = result
        self._claimed_trades.update(f.fill_id for f in fills)
        return result

    async def _trades_of(self, lookup: Lookup) -> list[WireTrade]:
        """The account's trades on the lookup's market that are the order's (newest
        pages first, back to when it left). Raises ``CannotTell``."""
        found: list[WireTrade] = []
        cursor = ""
        oldest = lookup.at - CLOCK_SLACK
        for _ in range(self._max_pages):
            params: dict[str, Any] = {
                "marketSlug": lookup.slug,
                "types": "ACTIVITY_TYPE_TRADE",
                "sortOrder": "SORT_ORDER_DESCENDING",
                "limit": PAGE,
            }
            if cursor:
                params["cursor"] = cursor
            body = await self._private.get("/v1/portfolio/activities", params, auth=True)
            trades, cursor = _parse(wire.parse_trades, body, "activities")
            found.extend(t for t in trades if t.trade_id not in self._claimed_trades)
            if not cursor or any(t.ts is not None and t.ts < oldest for t in trades):
                return lookup.trades(found[::-1])  # oldest first
        raise CannotTell(f"more than {self._max_pages} pages of trades on {lookup.slug}")

    async def get_fills(self, client_order_id: str = "") -> list[Fill]:
        sent = self._sent.get(client_order_id)
        return list(sent.result.fills) if sent and sent.result else []

    async def cancel_order(self, venue_order_id: str) -> None:
        self._require_key()
        if Lookup.parse(venue_order_id) is not None:
            raise cannot_tell("a lookup key is not an order id: look the order up first")
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
        sent = _Sent(order, Lookup.of(order, self._clock()))
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
