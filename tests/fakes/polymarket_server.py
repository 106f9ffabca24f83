"""A fake Polymarket: Gamma on one loopback port, the CLOB V2 on another.

It speaks the wire formats of venue-apis.md part B/D and checks what Polymarket
checks: L1 EIP-712 signatures on key creation, the L2 HMAC of every authenticated
request, and the EIP-712 signer of every posted order (V2 domain, neg-risk exchange
for neg-risk tokens), which must be the wallet registered for the API key. FOK/FAK
orders fill or die against the fake's own books; fees follow ``C × r × p × (1 − p)``.

Use::

    async with FakePolymarket() as fake:
        m = fake.add_market("m1", outcomes=("Yes", "No"), tick="0.01", fee_rate="0.04")
        fake.set_book(m.tokens["Yes"], bids=[("0.40", "100")], asks=[("0.45", "100")])
        key, secret, passphrase = fake.register_wallet(address, balance="100")
        venue = PolymarketVenue(fake.clob_url, fake.gamma_url, private_key=..., api_creds=...)

Test hooks: ``fail_next`` (status + body), ``drop_next`` (handle, then cut the
connection: the reply is lost), ``malformed_next`` (200 with a raw body),
``settle_trades`` (MATCHED -> MINED/CONFIRMED/FAILED), ``resolve_market``,
``add_gamma_market``/``add_gamma_event`` (serve recorded fixtures verbatim).
Everything the fake saw is in ``requests``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

D = Decimal
UNITS = D(1_000_000)
EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
MAX_ALLOWANCE = str(2**256 - 1)
FOK_KILL = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_KILL = (
    "no orders found to match with FAK order. "
    "FAK orders are partially filled or killed if no match is found."
)
_V2_FIELDS = (
    *("salt", "maker", "signer", "tokenId", "makerAmount", "takerAmount", "side"),
    *("expiration", "signatureType", "timestamp", "metadata", "builder", "signature"),
)
_ORDER_TYPE = [
    {"name": n, "type": t}
    for n, t in (
        ("salt", "uint256"),
        ("maker", "address"),
        ("signer", "address"),
        ("tokenId", "uint256"),
        ("makerAmount", "uint256"),
        ("takerAmount", "uint256"),
        ("side", "uint8"),
        ("signatureType", "uint8"),
        ("timestamp", "uint256"),
        ("metadata", "bytes32"),
        ("builder", "bytes32"),
    )
]
_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


@dataclass
class FakeMarket:
    market_id: str
    condition_id: str
    tokens: dict[str, str]  # outcome label -> token id
    raw: dict[str, Any]  # the Gamma market object served


@dataclass
class Book:
    market: str
    tick: Decimal
    min_size: Decimal
    neg_risk: bool
    fee_rate: Decimal
    bids: list[list[Decimal]] = field(default_factory=list)  # best first: [price, size]
    asks: list[list[Decimal]] = field(default_factory=list)


@dataclass
class Wallet:
    address: str
    key: str
    secret: str
    passphrase: str
    balance: Decimal = field(default_factory=Decimal)
    positions: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class Fault:
    method: str
    path: str
    status: int = 0
    body: Any = None
    raw: str | None = None
    drop: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def creds_for(address: str) -> tuple[str, str, str]:
    """Deterministic L2 credentials per wallet (create and derive agree)."""
    digest = hashlib.sha256(address.lower().encode()).digest()
    key = str(uuid.UUID(bytes=digest[:16]))
    return key, base64.urlsafe_b64encode(digest).decode(), digest.hex()[:32]


def order_typed_data(order: dict[str, Any], neg_risk: bool, chain_id: int = 137) -> dict[str, Any]:
    side = 0 if order["side"] == "BUY" else 1
    return {
        "primaryType": "Order",
        "types": {"EIP712Domain": _DOMAIN_TYPE, "Order": _ORDER_TYPE},
        "domain": {
            "name": "Polymarket CTF Exchange",
            "version": "2",
            "chainId": chain_id,
            "verifyingContract": NEG_RISK_EXCHANGE if neg_risk else EXCHANGE,
        },
        "message": {
            "salt": int(order["salt"]),
            "maker": order["maker"],
            "signer": order["signer"],
            "tokenId": int(order["tokenId"]),
            "makerAmount": int(order["makerAmount"]),
            "takerAmount": int(order["takerAmount"]),
            "side": side,
            "signatureType": int(order["signatureType"]),
            "timestamp": int(order["timestamp"]),
            "metadata": bytes.fromhex(order["metadata"][2:].zfill(64)),
            "builder": bytes.fromhex(order["builder"][2:].zfill(64)),
        },
    }


def recover_order(order: dict[str, Any], neg_risk: bool) -> tuple[str, str]:
    """(recovered signer, order hash) of a V2 order as the exchange would see it."""
    encoded = encode_typed_data(full_message=order_typed_data(order, neg_risk))
    digest = keccak(b"\x19" + encoded.version + encoded.header + encoded.body)
    return str(Account.recover_message(encoded, signature=order["signature"])), "0x" + digest.hex()


def _recover_l1(headers: Any, chain_id: int = 137) -> str:
    typed = {
        "primaryType": "ClobAuth",
        "types": {
            "EIP712Domain": _DOMAIN_TYPE[:3],
            "ClobAuth": [
                {"name": "address", "type": "address"},
                {"name": "timestamp", "type": "string"},
                {"name": "nonce", "type": "uint256"},
                {"name": "message", "type": "string"},
            ],
        },
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": chain_id},
        "message": {
            "address": headers["POLY_ADDRESS"],
            "timestamp": headers["POLY_TIMESTAMP"],
            "nonce": int(headers.get("POLY_NONCE", "0")),
            "message": "This message attests that I control the given wallet",
        },
    }
    encoded = encode_typed_data(full_message=typed)
    return str(Account.recover_message(encoded, signature=headers["POLY_SIGNATURE"]))


def _s(x: Decimal) -> str:
    return format(x.normalize(), "f")


def _err(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakePolymarket:
    def __init__(self, *, page_size: int = 100, clock_skew_s: int = 30) -> None:
        self.page_size = page_size
        self.clock_skew_s = clock_skew_s
        self.version = 2
        self.markets: dict[str, dict[str, Any]] = {}  # Gamma id -> raw market
        self.events: dict[str, dict[str, Any]] = {}  # Gamma id -> raw event (nested markets)
        self.books: dict[str, Book] = {}
        self.token_market: dict[str, str] = {}  # token -> condition id
        self.wallets: dict[str, Wallet] = {}  # API key -> wallet
        self.orders: dict[str, dict[str, Any]] = {}  # hash -> OpenOrder (+ "_owner")
        self.trades: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.auth_failures = 0
        self.signer_failures = 0
        self.trade_status = "TRADE_STATUS_MATCHED"  # status of new trades
        self._runners: list[web.AppRunner] = []
        self.gamma_url = self.clob_url = ""

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> tuple[str, str]:
        """Start both servers; returns (clob_url, gamma_url)."""
        self.gamma_url = await self._serve(self._gamma_app())
        self.clob_url = await self._serve(self._clob_app())
        return self.clob_url, self.gamma_url

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> FakePolymarket:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    # ------------------------------------------------------------ seeding

    def add_market(
        self,
        market_id: str,
        *,
        question: str = "",
        outcomes: Iterable[str] = ("Yes", "No"),
        tick: str = "0.01",
        min_size: str = "5",
        neg_risk: bool = False,
        fee_rate: str = "0.04",
        event_id: str = "",
        event_slug: str = "",
        tags: Iterable[str] = (),
        end_date: str = "2030-01-01T00:00:00Z",
        accepting: bool = True,
        description: str = "",
        slug: str = "",
    ) -> FakeMarket:
        outcomes = list(outcomes)
        digest = hashlib.sha256(market_id.encode()).hexdigest()
        cid = "0x" + digest
        tokens = {
            o: str(int(hashlib.sha256(f"{market_id}:{o}".encode()).hexdigest(), 16))
            for o in outcomes
        }
        rate = D(fee_rate)
        raw: dict[str, Any] = {
            "id": market_id,
            "question": question or f"Question {market_id}?",
            "conditionId": cid,
            "slug": slug or f"market-{market_id}",
            "description": description or f"Rules of {market_id}.",
            "groupItemTitle": "",
            "outcomes": json.dumps(outcomes),
            "outcomePrices": json.dumps(["0.5"] * len(outcomes)),
            "clobTokenIds": json.dumps(list(tokens.values())),
            "endDate": end_date,
            "active": True,
            "closed": False,
            "archived": False,
            "acceptingOrders": accepting,
            "enableOrderBook": True,
            "negRisk": neg_risk,
            "orderPriceMinTickSize": float(tick),
            "orderMinSize": float(min_size),
            "umaResolutionStatus": "",
            "feesEnabled": rate > 0,
            "feeSchedule": {
                "rate": float(rate),
                "exponent": 1,
                "takerOnly": True,
                "rebateRate": 0.25,
            }
            if rate > 0
            else None,
            "version": "v1",
        }
        self.add_gamma_market(raw)
        ev_id = event_id or f"ev-{market_id}"
        event = self.events.setdefault(
            ev_id,
            {
                "id": ev_id,
                "slug": event_slug or f"event-{ev_id}",
                "title": f"Event {ev_id}",
                "active": True,
                "closed": False,
                "negRisk": neg_risk,
                "tags": [{"id": str(i), "label": t.title(), "slug": t} for i, t in enumerate(tags)],
                "markets": [],
            },
        )
        raw["events"] = [{k: v for k, v in event.items() if k not in ("markets", "tags")}]
        event["markets"].append(raw)
        for book in (self.books[t] for t in tokens.values()):
            book.tick, book.min_size, book.neg_risk, book.fee_rate = (
                D(tick),
                D(min_size),
                neg_risk,
                rate,
            )
        return FakeMarket(market_id, cid, tokens, raw)

    def add_gamma_market(self, raw: dict[str, Any]) -> None:
        """Serve a Gamma market object (e.g. a recorded fixture) and open CLOB books for
        its tokens."""
        self.markets[str(raw["id"])] = raw
        tokens = raw.get("clobTokenIds")
        tokens = json.loads(tokens) if isinstance(tokens, str) else tokens or []
        rate = D(str((raw.get("feeSchedule") or {}).get("rate", 0)))
        for token in tokens:
            self.token_market[token] = raw.get("conditionId", "")
            self.books.setdefault(
                token,
                Book(
                    raw.get("conditionId", ""),
                    D(str(raw.get("orderPriceMinTickSize") or "0.01")),
                    D(str(raw.get("orderMinSize") or "5")),
                    bool(raw.get("negRisk")),
                    rate if raw.get("feesEnabled") else D(0),
                ),
            )

    def add_gamma_event(self, raw: dict[str, Any]) -> None:
        self.events[str(raw["id"])] = raw
        for m in raw.get("markets") or []:
            self.add_gamma_market(m)

    def set_book(
        self,
        token: str,
        *,
        bids: Iterable[tuple[str, str]] = (),
        asks: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Levels best first (bids high to low, asks low to high)."""
        book = self.books[token]
        book.bids = [[D(p), D(s)] for p, s in bids]
        book.asks = [[D(p), D(s)] for p, s in asks]

    def register_wallet(self, address: str, *, balance: str = "0") -> tuple[str, str, str]:
        key, secret, passphrase = creds_for(address)
        wallet = self.wallets.setdefault(key, Wallet(address, key, secret, passphrase))
        wallet.balance = D(balance)
        return key, secret, passphrase

    def wallet(self, address: str) -> Wallet:
        return next(w for w in self.wallets.values() if w.address.lower() == address.lower())

    def resolve_market(self, market_id: str, winner: str | None) -> None:
        """Close and resolve: ``winner`` outcome pays 1, or ``None`` for a 50/50."""
        raw = self.markets[market_id]
        outcomes = json.loads(raw["outcomes"])
        prices = (
            ["0.5"] * len(outcomes)
            if winner is None
            else ["1" if o == winner else "0" for o in outcomes]
        )
        raw.update(closed=True, acceptingOrders=False, umaResolutionStatus="resolved")
        raw.update(outcomePrices=json.dumps(prices), closedTime="2026-11-22 12:00:00+00")

    # ------------------------------------------------------------ faults

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        default = {
            "error": {429: "Too Many Requests", 425: "engine restarting"}.get(status, "boom")
        }
        self.faults.append(
            Fault(
                method, path, status, body if body is not None else default, headers=headers or {}
            )
        )

    def drop_next(self, method: str, path: str) -> None:
        """Handle the next such request, then cut the connection without a reply."""
        self.faults.append(Fault(method, path, drop=True))

    def malformed_next(self, method: str, path: str, raw: str) -> None:
        self.faults.append(Fault(method, path, status=200, raw=raw))

    def settle_trades(self, status: str, trade_ids: Iterable[str] | None = None) -> None:
        """Move trades to MINED, CONFIRMED or FAILED (a FAILED trade is reverted)."""
        for tid in trade_ids if trade_ids is not None else list(self.trades):
            trade = self.trades[tid]
            if trade["status"] == "TRADE_STATUS_FAILED":
                continue
            trade["status"] = f"TRADE_STATUS_{status}"
            if status == "FAILED":
                self._revert(trade)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        fault = next(
            (f for f in self.faults if f.method == request.method and f.path == request.path), None
        )
        if fault is None:
            return await handler(request)
        self.faults.remove(fault)
        if fault.drop:
            await handler(request)
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=200)
        if fault.raw is not None:
            return web.Response(
                status=fault.status, text=fault.raw, content_type="application/json"
            )
        return web.json_response(fault.body, status=fault.status, headers=fault.headers)

    # ------------------------------------------------------------ Gamma

    def _gamma_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/markets", self._g_markets)
        app.router.add_get("/markets/keyset", self._g_markets_keyset)
        app.router.add_get("/markets/{id}", self._g_market)
        app.router.add_get("/events", self._g_events)
        app.router.add_get("/events/{id}", self._g_event)
        return app

    def _filter_markets(self, q: Any) -> list[dict[str, Any]]:
        out = list(self.markets.values())
        if q.getall("id", []):
            out = [m for m in out if str(m["id"]) in q.getall("id")]
        if "slug" in q:
            out = [m for m in out if m.get("slug") == q["slug"]]
        closed = q.get("closed", "false") == "true"
        if "id" not in q and "slug" not in q:
            out = [m for m in out if bool(m.get("closed")) == closed]
        return out

    async def _g_markets(self, request: web.Request) -> web.Response:
        q = request.query
        items = self._filter_markets(q)
        offset, limit = int(q.get("offset", 0)), int(q.get("limit", self.page_size))
        return web.json_response(items[offset : offset + limit])

    async def _g_markets_keyset(self, request: web.Request) -> web.Response:
        q = request.query
        items = self._filter_markets(q)
        start, limit = int(q.get("after_cursor") or 0), min(int(q.get("limit", 100)), 100)
        page = items[start : start + limit]
        nxt = str(start + limit) if start + limit < len(items) else None
        return web.json_response({"markets": page, "next_cursor": nxt})

    async def _g_market(self, request: web.Request) -> web.Response:
        raw = self.markets.get(request.match_info["id"])
        return web.json_response(raw) if raw else _err(404, "market not found")

    async def _g_events(self, request: web.Request) -> web.Response:
        q = request.query
        items = list(self.events.values())
        if "closed" in q:
            items = [e for e in items if bool(e.get("closed")) == (q["closed"] == "true")]
        if "active" in q:
            items = [e for e in items if bool(e.get("active")) == (q["active"] == "true")]
        if "tag_id" in q:
            items = [
                e for e in items if any(t.get("id") == q["tag_id"] for t in e.get("tags") or [])
            ]
        if "slug" in q:
            items = [e for e in items if e.get("slug") == q["slug"]]
        offset, limit = int(q.get("offset", 0)), int(q.get("limit", self.page_size))
        return web.json_response(items[offset : offset + limit])

    async def _g_event(self, request: web.Request) -> web.Response:
        raw = self.events.get(request.match_info["id"])
        return web.json_response(raw) if raw else _err(404, "event not found")

    # ------------------------------------------------------------ CLOB public

    def _clob_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/ok", self._static(lambda: "OK"))
        r.add_get("/time", self._static(lambda: int(time.time())))
        r.add_get("/version", self._static(lambda: {"version": self.version}))
        r.add_get("/book", self._book)
        r.add_post("/books", self._books)
        r.add_get("/tick-size", self._tick_size)
        r.add_get("/neg-risk", self._neg_risk)
        r.add_get("/fee-rate", self._static(lambda: {"base_fee": 0}))
        r.add_get("/clob-markets/{cid}", self._clob_market)
        r.add_get("/markets-by-token/{tid}", self._market_by_token)
        r.add_post("/auth/api-key", self._api_key)
        r.add_get("/auth/derive-api-key", self._api_key)
        r.add_post("/order", self._post_order)
        r.add_get("/data/order/{id}", self._get_order)
        r.add_get("/data/orders", self._get_orders)
        r.add_get("/data/trades", self._get_trades)
        r.add_delete("/order", self._cancel)
        r.add_get("/balance-allowance", self._balance)
        r.add_get("/balance-allowance/update", self._balance)
        return app

    @staticmethod
    def _static(value: Callable[[], Any]) -> Handler:
        async def handler(_: web.Request) -> web.Response:
            return web.json_response(value())

        return handler

    def book_json(self, token: str) -> dict[str, Any]:
        b = self.books[token]
        body: dict[str, Any] = {
            "market": b.market,
            "asset_id": token,
            "timestamp": str(int(time.time() * 1000)),
            "hash": "",
            # The wire lists the best level last on both sides.
            "bids": [{"price": _s(p), "size": _s(s)} for p, s in reversed(b.bids)],
            "asks": [{"price": _s(p), "size": _s(s)} for p, s in reversed(b.asks)],
            "min_order_size": _s(b.min_size),
            "tick_size": _s(b.tick),
            "neg_risk": b.neg_risk,
            "last_trade_price": "",
        }
        compact = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        body["hash"] = hashlib.sha1(compact.encode()).hexdigest()
        return body

    def _token(self, request: web.Request) -> str | web.Response:
        token = request.query.get("token_id", "")
        if not token.isdigit():
            return _err(400, "Invalid token id")
        if token not in self.books:
            return _err(404, "No orderbook exists for the requested token id")
        return token

    async def _book(self, request: web.Request) -> web.Response:
        token = self._token(request)
        return (
            token if isinstance(token, web.Response) else web.json_response(self.book_json(token))
        )

    async def _books(self, request: web.Request) -> web.Response:
        body = await request.json()
        ids = [p.get("token_id", "") for p in body if isinstance(p, dict)]
        return web.json_response([self.book_json(t) for t in ids if t in self.books])

    async def _tick_size(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if isinstance(token, web.Response):
            return token
        return web.json_response({"minimum_tick_size": float(self.books[token].tick)})

    async def _neg_risk(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if isinstance(token, web.Response):
            return token
        return web.json_response({"neg_risk": self.books[token].neg_risk})

    async def _clob_market(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        raw = next((m for m in self.markets.values() if m.get("conditionId") == cid), None)
        if raw is None:
            return _err(404, "market not found")
        tokens = json.loads(raw["clobTokenIds"])
        book = self.books[tokens[0]]
        return web.json_response(
            {
                "t": [
                    {"t": t, "o": o}
                    for t, o in zip(tokens, json.loads(raw["outcomes"]), strict=True)
                ],
                "mts": float(book.tick),
                "mos": float(book.min_size),
                "mbf": 0,
                "tbf": 0,
                "nr": book.neg_risk,
                "rfqe": False,
                "fd": {"r": float(book.fee_rate), "e": 1, "to": True},
                "gst": None,
                "oas": 0,
            }
        )

    async def _market_by_token(self, request: web.Request) -> web.Response:
        cid = self.token_market.get(request.match_info["tid"])
        return web.json_response({"condition_id": cid}) if cid else _err(404, "market not found")

    # ------------------------------------------------------------ CLOB auth

    async def _api_key(self, request: web.Request) -> web.Response:
        h = request.headers
        try:
            ok = abs(int(h["POLY_TIMESTAMP"]) - time.time()) <= self.clock_skew_s and (
                _recover_l1(h).lower() == h["POLY_ADDRESS"].lower()
            )
        except Exception:
            ok = False
        if not ok:
            self.auth_failures += 1
            return _err(401, "Invalid L1 Request headers")
        wallet = next(
            (w for w in self.wallets.values() if w.address.lower() == h["POLY_ADDRESS"].lower()),
            None,
        )
        if wallet is None:
            self.register_wallet(h["POLY_ADDRESS"])
            wallet = self.wallet(h["POLY_ADDRESS"])
        return web.json_response(
            {"apiKey": wallet.key, "secret": wallet.secret, "passphrase": wallet.passphrase}
        )

    async def _l2(self, request: web.Request) -> Wallet | web.Response:
        h = request.headers
        wallet = self.wallets.get(h.get("POLY_API_KEY", ""))
        body = await request.read()
        try:
            ts = h["POLY_TIMESTAMP"]
            key = base64.urlsafe_b64decode(wallet.secret) if wallet else b""
            message = ts.encode() + request.method.encode() + request.path.encode() + body
            expected = base64.urlsafe_b64encode(
                hmac.new(key, message, hashlib.sha256).digest()
            ).decode()
            ok = (
                wallet is not None
                and h.get("POLY_PASSPHRASE") == wallet.passphrase
                and h.get("POLY_ADDRESS", "").lower() == wallet.address.lower()
                and abs(int(ts) - time.time()) <= self.clock_skew_s
                and hmac.compare_digest(expected, h.get("POLY_SIGNATURE", ""))
            )
        except Exception:
            ok = False
        if not ok or wallet is None:
            self.auth_failures += 1
            return _err(401, "Unauthorized/Invalid api key")
        return wallet

    # ------------------------------------------------------------ CLOB orders

    async def _post_order(self, request: web.Request) -> web.Response:
        wallet = await self._l2(request)
        if isinstance(wallet, web.Response):
            return wallet
        try:
            body = json.loads(await request.read())
            order = body["order"]
            assert isinstance(order, dict) and all(k in order for k in _V2_FIELDS)
            assert not any(k in order for k in ("nonce", "feeRateBps", "taker"))
            assert isinstance(order["salt"], int) and isinstance(order["signatureType"], int)
            assert order["side"] in ("BUY", "SELL")
            assert all(
                isinstance(order[k], str) for k in _V2_FIELDS if k not in ("salt", "signatureType")
            )
            maker_amt, taker_amt = D(int(order["makerAmount"])), D(int(order["takerAmount"]))
            assert maker_amt > 0 and taker_amt > 0
            order_type = body["orderType"]
            assert order_type in ("FOK", "FAK", "GTC", "GTD")
        except Exception:
            return _err(400, "Invalid order payload")
        if body.get("owner") != wallet.key:
            return _err(400, "the order owner has to be the owner of the API KEY")
        if order["signer"].lower() != wallet.address.lower():
            self.signer_failures += 1
            return _err(400, "the order signer address has to be the address of the API KEY")
        token = order["tokenId"]
        book = self.books.get(token)
        if book is None:
            return _err(400, "Invalid token id")
        recovered, order_hash = recover_order(order, book.neg_risk)
        eoa_mismatch = order["signatureType"] == 0 and order["maker"].lower() != recovered.lower()
        if recovered.lower() != wallet.address.lower() or eoa_mismatch:
            self.signer_failures += 1
            return _err(400, "invalid signature")
        if order_hash in self.orders:
            return _err(400, f"order {order_hash} is invalid. Duplicated.")
        side = order["side"]
        shares = (taker_amt if side == "BUY" else maker_amt) / UNITS
        price = (maker_amt if side == "BUY" else taker_amt) / UNITS / shares
        if price % book.tick or not book.tick <= price <= 1 - book.tick:
            return _err(
                400,
                f"order {order_hash} is invalid. Price ({_s(price)}) breaks minimum tick size "
                f"rule: {_s(book.tick)}",
            )
        if shares < book.min_size:
            return _err(
                400,
                f"order {order_hash} is invalid. Size ({_s(shares)}) lower than the "
                f"minimum: {_s(book.min_size)}",
            )
        raw_market = next(
            (m for m in self.markets.values() if m.get("conditionId") == book.market), {}
        )
        if raw_market.get("closed") or raw_market.get("acceptingOrders") is False:
            return _err(400, "the market is not accepting orders")
        have = wallet.balance if side == "BUY" else wallet.positions.get(token, D(0))
        if have < (shares * price if side == "BUY" else shares):
            return _err(400, "not enough balance / allowance")
        levels = book.asks if side == "BUY" else book.bids
        crossing = [lv for lv in levels if (lv[0] <= price if side == "BUY" else lv[0] >= price)]
        available = sum((lv[1] for lv in crossing), D(0))
        if order_type == "FOK" and available < shares:
            return _err(400, FOK_KILL, orderID=order_hash)
        if order_type == "FAK" and available == 0:
            return _err(400, FAK_KILL, orderID=order_hash)
        trades, filled, paid = self._match(wallet, order, order_hash, book, crossing, shares)
        levels[:] = [lv for lv in levels if lv[1] > 0]
        resting = order_type in ("GTC", "GTD") and filled < shares
        self.orders[order_hash] = {
            "id": order_hash,
            "status": "LIVE" if resting else ("MATCHED" if filled else "CANCELED"),
            "owner": wallet.key,
            "maker_address": order["maker"],
            "market": book.market,
            "asset_id": token,
            "side": side,
            "original_size": _s(shares),
            "size_matched": _s(filled),
            "price": _s(price),
            "outcome": self._outcome(token),
            "expiration": order["expiration"],
            "order_type": order_type,
            "associate_trades": [t["id"] for t in trades],
            "created_at": int(time.time()),
        }
        making, taking = (paid, filled) if side == "BUY" else (filled, paid)
        return web.json_response(
            {
                "success": True,
                "orderID": order_hash,
                "status": "matched" if filled else "live",
                "makingAmount": str(int(making * UNITS)) if filled else "",
                "takingAmount": str(int(taking * UNITS)) if filled else "",
                "tradeIDs": [t["id"] for t in trades],
                "errorMsg": "",
            }
        )

    def _outcome(self, token: str) -> str:
        for raw in self.markets.values():
            tokens = raw.get("clobTokenIds")
            tokens = json.loads(tokens) if isinstance(tokens, str) else tokens or []
            if token in tokens:
                return str(json.loads(raw["outcomes"])[tokens.index(token)])
        return ""

    def _match(
        self,
        wallet: Wallet,
        order: dict[str, Any],
        order_hash: str,
        book: Book,
        crossing: list[list[Decimal]],
        shares: Decimal,
    ) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
        side, token = order["side"], order["tokenId"]
        trades, filled, paid, now = [], D(0), D(0), str(int(time.time()))
        for level in crossing:
            qty = min(level[1], shares - filled)
            if qty <= 0:
                break
            level[1] -= qty
            px = level[0]
            fee = (qty * book.fee_rate * px * (1 - px)).quantize(D("0.00001"))
            tid = str(uuid.uuid4())
            trade = {
                "id": tid,
                "taker_order_id": order_hash,
                "market": book.market,
                "asset_id": token,
                "side": side,
                "size": _s(qty),
                "fee_rate_bps": _s(book.fee_rate * 10_000),
                "price": _s(px),
                "status": self.trade_status,
                "match_time": now,
                "last_update": now,
                "outcome": self._outcome(token),
                "bucket_index": 0,
                "owner": wallet.key,
                "maker_address": order["maker"],
                "transaction_hash": "0x" + hashlib.sha256(tid.encode()).hexdigest(),
                "trader_side": "TAKER",
                "maker_orders": [
                    {
                        "order_id": "0x" + hashlib.sha256(f"maker:{tid}".encode()).hexdigest(),
                        "owner": "00000000-0000-0000-0000-00000000feed",
                        "maker_address": "0x000000000000000000000000000000000000feed",
                        "matched_amount": _s(qty),
                        "price": _s(px),
                        "fee_rate_bps": "0",
                        "asset_id": token,
                        "outcome": self._outcome(token),
                        "side": "SELL" if side == "BUY" else "BUY",
                    }
                ],
            }
            self.trades[tid] = trade
            self._apply(wallet, side, token, qty, qty * px, fee, 1)
            trades.append(trade)
            filled += qty
            paid += qty * px
        return trades, filled, paid

    def _apply(
        self,
        wallet: Wallet,
        side: str,
        token: str,
        qty: Decimal,
        cash: Decimal,
        fee: Decimal,
        sign: int,
    ) -> None:
        held = wallet.positions.get(token, D(0))
        if side == "BUY":
            wallet.balance -= sign * (cash + fee)
            wallet.positions[token] = held + sign * qty
        else:
            wallet.balance += sign * (cash - fee)
            wallet.positions[token] = held - sign * qty

    def _revert(self, trade: dict[str, Any]) -> None:
        wallet = self.wallets[trade["owner"]]
        qty, px = D(trade["size"]), D(trade["price"])
        fee = (qty * D(trade["fee_rate_bps"]) / 10_000 * px * (1 - px)).quantize(D("0.00001"))
        self._apply(wallet, trade["side"], trade["asset_id"], qty, qty * px, fee, -1)

    async def _get_order(self, request: web.Request) -> web.Response:
        wallet = await self._l2(request)
        if isinstance(wallet, web.Response):
            return wallet
        order = self.orders.get(request.match_info["id"])
        if order is None or order["owner"] != wallet.key:
            return _err(404, "Order not found")
        return web.json_response(order)

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        cursor = request.query.get("next_cursor") or "MA=="
        start = int(base64.b64decode(cursor).decode())
        page = items[start : start + self.page_size]
        end = start + self.page_size
        nxt = base64.b64encode(str(end).encode()).decode() if end < len(items) else "LTE="
        return web.json_response(
            {"limit": self.page_size, "next_cursor": nxt, "count": len(page), "data": page}
        )

    async def _get_orders(self, request: web.Request) -> web.Response:
        wallet = await self._l2(request)
        if isinstance(wallet, web.Response):
            return wallet
        q = request.query
        items = [
            o
            for o in self.orders.values()
            if o["owner"] == wallet.key
            and o["status"] == "LIVE"
            and all(
                o[f] == q[k]
                for k, f in (("id", "id"), ("market", "market"), ("asset_id", "asset_id"))
                if k in q
            )
        ]
        return self._page(request, items)

    async def _get_trades(self, request: web.Request) -> web.Response:
        wallet = await self._l2(request)
        if isinstance(wallet, web.Response):
            return wallet
        q = request.query
        items = [
            t
            for t in self.trades.values()
            if t["owner"] == wallet.key
            and all(
                t[f] == q[k]
                for k, f in (("id", "id"), ("market", "market"), ("asset_id", "asset_id"))
                if k in q
            )
            and t["maker_address"].lower() == q.get("maker_address", t["maker_address"]).lower()
        ]
        return self._page(request, items)

    async def _cancel(self, request: web.Request) -> web.Response:
        wallet = await self._l2(request)
        if isinstance(wallet, web.Response):
            return wallet
        try:
            order_id = json.loads(await request.read())["orderID"]
        except Exception:
            return _err(400, "Invalid order payload")
        order = self.orders.get(order_id)
        if order is None or order["owner"] != wallet.key or order["status"] != "LIVE":
            return web.json_response(
                {"canceled": [], "not_canceled": {order_id: "Order not found or already canceled"}}
            )
        order["status"] = "CANCELED"
        return web.json_response({"canceled": [order_id], "not_canceled": {}})

    async def _balance(self, request: web.Request) -> web.Response:
        wallet = await self._l2(request)
        if isinstance(wallet, web.Response):
            return wallet
        q = request.query
        if q.get("asset_type", "COLLATERAL") == "COLLATERAL":
            amount = wallet.balance
        else:
            amount = wallet.positions.get(q.get("token_id", ""), D(0))
        return web.json_response(
            {
                "balance": str(int(amount * UNITS)),
                "allowances": {EXCHANGE: MAX_ALLOWANCE, NEG_RISK_EXCHANGE: MAX_ALLOWANCE},
            }
        )
