"""A fake Polymarket US over real HTTP (aiohttp.web, 127.0.0.1, port 0).

One server answers both hosts: the public gateway paths unsigned, and the account and
order paths only with valid ``X-PM-*`` headers: a registered key id, a timestamp
within 30 s of the fake's clock, and an Ed25519 signature over ``timestamp + METHOD +
path`` (the path without its query). Matching and accounts: ``polymarket_us_exchange``.

Use::

    async with FakePolymarketUS() as fake:
        key_id, secret = fake.new_key()
        fake.add_market("nba-lal-bos", "Lakers vs Celtics", long_label="Lakers", ...)
        fake.set_book("nba-lal-bos", bids=[("0.40", 10)], offers=[("0.45", 5)])
        venue = PolymarketUSVenue(fake.url, fake.url, key_id, secret)

Faults: ``drop_next_order_reply`` (the order is matched, then the connection is cut),
``hold_next_order`` (the order reaches the matching engine only at ``release_held``,
unseen by any lookup until then, its client long gone; ``arrived`` is set once it is
matched), ``rest_next_order``
(accepted and left resting, unmatched), ``manual_trade`` (a trade on the account
that is none of the bot's orders), ``fail_next(status)``. The activities endpoint
pages (``limit``, ``cursor``, ``sortOrder``) as the SDK's parameters say.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tests.fakes.polymarket_us_exchange import (
    FakeMarket,
    Refusal,
    USExchange,
    amount,
    iso,
)

WINDOW_S = 30.0
PUBLIC_PREFIXES = ("/v1/markets", "/v1/market/")


def new_secret() -> tuple[str, Ed25519PublicKey]:
    """A fresh Ed25519 key as the portal hands it out: base64 of seed + public key."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key()
    raw_pub = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(seed + raw_pub).decode(), public


class FakePolymarketUS:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.exchange = USExchange()
        self.keys: dict[str, Ed25519PublicKey] = {}
        self.clock = clock
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, signed)
        self.order_bodies: list[dict[str, Any]] = []
        self.refused_signatures = 0
        self._drop_order_reply = 0
        self._hold: asyncio.Event | None = None
        self._held = asyncio.Event()
        self._rest_next = False
        self.arrived = asyncio.Event()  # set when a held order reached the book
        self._fail: list[int] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(
            [
                web.get("/v1/markets", self._markets),
                web.get("/v1/market/slug/{slug}", self._market),
                web.get("/v1/markets/{slug}/book", self._book),
                web.get("/v1/markets/{slug}/settlement", self._settlement),
                web.post("/v1/orders", self._create),
                web.get("/v1/orders/open", self._open),
                web.get("/v1/order/{id}", self._order),
                web.post("/v1/order/{id}/cancel", self._cancel),
                web.get("/v1/account/balances", self._balances),
                web.get("/v1/portfolio/positions", self._positions),
                web.get("/v1/portfolio/activities", self._activities),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakePolymarketUS:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- seeding ----------------------------------------------------------------------

    def new_key(self) -> tuple[str, str]:
        secret, public = new_secret()
        key_id = f"00000000-0000-4000-8000-{len(self.keys):012d}"
        self.keys[key_id] = public
        return key_id, secret

    def add_market(self, slug: str, title: str = "", **kwargs: Any) -> FakeMarket:
        for key in ("tick", "min_qty", "fee_coefficient"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = Decimal(kwargs[key])
        market = FakeMarket(slug, title or slug, **kwargs)
        self.exchange.markets[slug] = market
        return market

    def set_book(
        self,
        slug: str,
        *,
        bids: list[tuple[str, int]] = (),  # type: ignore[assignment]
        offers: list[tuple[str, int]] = (),  # type: ignore[assignment]
    ) -> None:
        market = self.exchange.markets[slug]
        market.bids = [[Decimal(p), Decimal(q)] for p, q in bids]
        market.offers = [[Decimal(p), Decimal(q)] for p, q in offers]

    def settle(self, slug: str, long_payout: str | Decimal) -> Decimal:
        return self.exchange.settle(slug, Decimal(long_payout))

    def drop_next_order_reply(self) -> None:
        self._drop_order_reply += 1

    def hold_next_order(self) -> None:
        self._hold = asyncio.Event()
        self._held = self._hold

    def release_held(self) -> None:
        self._held.set()

    def rest_next_order(self) -> None:
        self._rest_next = True

    def manual_trade(self, slug: str, long_price: str, qty: int, *, ago_s: float = 0.0) -> str:
        trade = self.exchange.manual_trade(
            slug, Decimal(long_price), Decimal(qty), self.clock() - ago_s
        )
        return trade.id

    def fail_next(self, status: int) -> None:
        self._fail.append(status)

    @property
    def order_posts(self) -> int:
        return len(self.order_bodies)

    # --- auth ----------------------------------------------------------------------------

    def verify(self, request: web.Request) -> str:
        """Empty when the request is signed as the exchange requires, else why not."""
        return self.verify_headers(request.method, request.path, request.headers)

    def verify_headers(self, method: str, path: str, headers: Any) -> str:
        key_id = headers.get("X-PM-Access-Key", "")
        ts = headers.get("X-PM-Timestamp", "")
        sig = headers.get("X-PM-Signature", "")
        public = self.keys.get(key_id)
        if public is None:
            return "unknown API key"
        if not ts.isdigit() or abs(int(ts) / 1000 - self.clock()) > WINDOW_S:
            return "timestamp outside the 30 s window"
        try:
            public.verify(base64.b64decode(sig), f"{ts}{method}{path}".encode())
        except (InvalidSignature, ValueError):
            return "bad signature"
        return ""

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        public = request.path.startswith(PUBLIC_PREFIXES) and request.method == "GET"
        signed = "X-PM-Signature" in request.headers
        self.requests.append((request.method, request.path, signed))
        if self._fail:
            return web.json_response({"message": "injected"}, status=self._fail.pop(0))
        if not public:
            why = self.verify(request)
            if why:
                self.refused_signatures += 1
                return web.json_response({"code": "unauthenticated", "message": why}, status=401)
        try:
            return await handler(request)
        except Refusal as exc:
            return web.json_response({"message": exc.message}, status=exc.status)

    # --- public ------------------------------------------------------------------------

    def _get_market(self, request: web.Request) -> FakeMarket:
        market = self.exchange.markets.get(request.match_info["slug"])
        if market is None:
            raise Refusal("market not found", 404)
        return market

    async def _markets(self, request: web.Request) -> web.Response:
        q = request.query
        items = list(self.exchange.markets.values())
        if q.get("active") == "true":
            items = [m for m in items if m.status == "MARKET_STATUS_OPEN"]
        cats = q.getall("categories", [])
        if cats:
            items = [m for m in items if m.category in cats]
        offset, limit = int(q.get("offset", 0)), int(q.get("limit", 20))
        return web.json_response({"markets": [m.to_json() for m in items[offset : offset + limit]]})

    async def _market(self, request: web.Request) -> web.Response:
        return web.json_response({"market": self._get_market(request).to_json()})

    async def _book(self, request: web.Request) -> web.Response:
        return web.json_response({"marketData": self.book_json(self._get_market(request))})

    def book_json(self, m: FakeMarket) -> dict[str, Any]:
        state = "MARKET_STATE_OPEN" if m.status == "MARKET_STATUS_OPEN" else "MARKET_STATE_CLOSED"
        level = lambda lv: {"px": amount(lv[0]), "qty": str(lv[1])}  # noqa: E731
        data = {
            "marketSlug": m.slug,
            "bids": [level(lv) for lv in sorted(m.bids, key=lambda lv: -lv[0])],
            "offers": [level(lv) for lv in sorted(m.offers, key=lambda lv: lv[0])],
            "state": state,
            "transactTime": iso(self.clock()),
        }
        return data

    async def _settlement(self, request: web.Request) -> web.Response:
        m = self._get_market(request)
        if m.settlement is None:
            raise Refusal("market not settled", 404)
        return web.json_response({"slug": m.slug, "settlement": float(m.settlement)})

    # --- orders --------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.text())
        except ValueError:
            raise Refusal("body is not JSON") from None
        self.order_bodies.append(body)
        held, self._hold = self._hold, None
        if held is not None:
            await held.wait()  # meanwhile the client has given up on this reply
        rest, self._rest_next = self._rest_next, False
        order, trades = self.exchange.place(body, self.clock(), rest=rest)
        if held is not None:
            self.arrived.set()
        executions = [
            {
                "id": f"exe-{t.id}",
                "order": order.to_json(),
                "lastShares": str(t.qty),
                "lastPx": amount(t.price),
                "type": "EXECUTION_TYPE_FILL"
                if t is trades[-1] and order.filled == order.quantity
                else "EXECUTION_TYPE_PARTIAL_FILL",
                "tradeId": t.id,
                "aggressor": True,
                "commissionNotionalCollected": amount(t.commission),
                "transactTime": iso(t.ts),
            }
            for t in trades
        ]
        if order.filled < order.quantity:
            executions.append(
                {
                    "id": f"exe-{order.id}-cxl",
                    "order": order.to_json(),
                    "type": "EXECUTION_TYPE_CANCELED",
                    "text": "not filled: killed" if not trades else "rest cancelled (IOC)",
                }
            )
        if self._drop_order_reply:
            self._drop_order_reply -= 1
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=200)  # never reaches the client
        return web.json_response({"id": order.id, "executions": executions})

    async def _open(self, request: web.Request) -> web.Response:
        slugs = request.query.getall("slugs", [])
        items = [
            o.to_json()
            for o in self.exchange.orders.values()
            if o.state in ("ORDER_STATE_NEW", "ORDER_STATE_PARTIALLY_FILLED")
            and (not slugs or o.slug in slugs)
        ]
        return web.json_response({"orders": items})

    async def _order(self, request: web.Request) -> web.Response:
        order = self.exchange.orders.get(request.match_info["id"])
        if order is None:
            raise Refusal("order not found", 404)
        return web.json_response({"order": order.to_json()})

    async def _cancel(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text() or "{}")
        order = self.exchange.orders.get(request.match_info["id"])
        if order is None:
            raise Refusal("order not found", 404)
        if body.get("marketSlug") != order.slug:
            raise Refusal("marketSlug is required and must be the order's market")
        if order.state == "ORDER_STATE_NEW":
            order.state = "ORDER_STATE_CANCELED"
        return web.json_response({})

    # --- account ----------------------------------------------------------------------

    async def _balances(self, request: web.Request) -> web.Response:
        cash = float(self.exchange.balance)
        return web.json_response(
            {"balances": [{"currentBalance": cash, "buyingPower": cash, "currency": "USD"}]}
        )

    async def _positions(self, request: web.Request) -> web.Response:
        positions = {
            slug: {
                "netPosition": str(net),
                "cost": amount(self.exchange.costs.get(slug, Decimal(0))),
                "expired": False,
                "marketMetadata": {"slug": slug},
            }
            for slug, net in self.exchange.positions.items()
            if net != 0
        }
        return web.json_response({"positions": positions, "eof": True})

    async def _activities(self, request: web.Request) -> web.Response:
        q = request.query
        slug = q.get("marketSlug")
        trades = [t for t in self.exchange.trades if slug is None or t.slug == slug]
        if q.get("sortOrder", "SORT_ORDER_DESCENDING") == "SORT_ORDER_DESCENDING":
            trades.reverse()
        start, limit = int(q.get("cursor") or 0), int(q.get("limit", 20))
        page = trades[start : start + limit]
        items = [
            {
                "type": "ACTIVITY_TYPE_TRADE",
                "trade": {
                    "id": t.id,
                    "marketSlug": t.slug,
                    "state": "TRADE_STATE_BUSTED"
                    if t.id in self.exchange.busted
                    else "TRADE_STATE_CLEARED",
                    "createTime": iso(t.ts),
                    "price": amount(t.price),
                    "qty": str(t.qty),
                    "isAggressor": True,
                },
            }
            for t in page
        ]
        eof = start + limit >= len(trades)
        body: dict[str, Any] = {"activities": items, "eof": eof}
        if not eof:
            body["nextCursor"] = str(start + limit)
        return web.json_response(body)
