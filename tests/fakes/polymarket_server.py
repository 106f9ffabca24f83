"""A fake Polymarket: Gamma on one loopback port, the CLOB V2 on another.

It speaks the wire formats of venue-apis.md part B/D and checks what Polymarket
checks: L1 EIP-712 signatures on key creation, the L2 HMAC of every authenticated
request, and the EIP-712 signer of every posted order (V2 domain, neg-risk exchange
for neg-risk tokens), which must be the wallet registered for the API key. FOK/FAK
orders fill or die against the fake's own books; fees follow ``C × r × p × (1 − p)``.

The state and the matching live in ``polymarket_exchange`` (``FakePolymarket`` inherits
``PolymarketExchange``), the EIP-712 and L1 signature checks in ``polymarket_signing``;
this module is the two aiohttp servers, the authentication and the test hooks.

Use::

    async with FakePolymarket() as fake:
        m = fake.add_market("m1", outcomes=("Yes", "No"), tick="0.01", fee_rate="0.04")
        fake.set_book(m.tokens["Yes"], bids=[("0.40", "100")], asks=[("0.45", "100")])
        key, secret, passphrase = fake.register_wallet(address, balance="100")
        venue = PolymarketVenue(fake.clob_url, fake.gamma_url, private_key=..., api_creds=...)

Test hooks: ``fail_next`` (status + body), ``drop_next`` (handle, then cut the
connection: the reply is lost), ``malformed_next`` (200 with a raw body),
``delay_next_order`` (the order reaches the book late: lookups meanwhile find nothing),
``settle_trades`` (MATCHED -> MINED/CONFIRMED/FAILED), ``resolve_market``,
``add_gamma_market``/``add_gamma_event`` (serve recorded fixtures verbatim).
Everything the fake saw is in ``requests``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP
from typing import Any

from aiohttp import web

from tests.fakes.polymarket_exchange import (
    Book,
    D,
    FakeMarket,
    PolymarketExchange,
    Wallet,
    _s,
    market_amounts_error,
)
from tests.fakes.polymarket_signing import (
    EXCHANGE,
    NEG_RISK_EXCHANGE,
    _recover_l1,
    creds_for,
    order_typed_data,
    recover_order,
)

__all__ = [
    "EXCHANGE",
    "FAK_KILL",
    "FOK_KILL",
    "MAX_ALLOWANCE",
    "NEG_RISK_EXCHANGE",
    "UNITS",
    "Book",
    "D",
    "FakeMarket",
    "FakePolymarket",
    "Fault",
    "Handler",
    "Wallet",
    "creds_for",
    "order_typed_data",
    "recover_order",
]

UNITS = D(1_000_000)
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


@dataclass
class Fault:
    method: str
    path: str
    status: int = 0
    body: Any = None
    raw: str | None = None
    drop: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def _keyset_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"keyset:{position}".encode()).decode()


def _keyset_position(cursor: str | None) -> int:
    """Where an opaque keyset cursor points (0 without one)."""
    return int(base64.urlsafe_b64decode(cursor).decode().split(":")[1]) if cursor else 0


def _err(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakePolymarket(PolymarketExchange):
    def __init__(self, *, page_size: int = 100, clock_skew_s: int = 30) -> None:
        super().__init__()
        self.page_size = page_size
        self.clock_skew_s = clock_skew_s
        self.version = 2
        self.keyset_enabled = True  # False: /events/keyset answers 404
        self.offset_sunset = False  # True: offset /events answers 404
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.auth_failures = 0
        self.balance_updates: list[dict[str, str]] = []  # queries of /balance-allowance/update
        self.signer_failures = 0
        self.batches: list[int] = []  # sizes of the POST /orders requests seen
        # Tokens under a sports taker delay: their market orders answer ``delayed`` and
        # are held until ``release_delayed``.
        self.delayed_tokens: set[str] = set()
        self.held: list[tuple[Wallet, dict[str, Any], str, str]] = []
        self._handled = asyncio.Condition()
        self._arrival_delay_s = 0.0
        self.order_reply_delay_s = 0.0  # every order answered this late (benchmarks)
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

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until ``predicate`` holds, checked after each request the fake handled."""
        async with asyncio.timeout(timeout), self._handled:
            await self._handled.wait_for(predicate)

    def delay_next_order(self, seconds: float) -> None:
        """The next order reaches the matching engine ``seconds`` late (unseen by any
        lookup until then), then is matched and answered."""
        self._arrival_delay_s = seconds

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await self._faulted(request, handler)
        finally:
            async with self._handled:
                self._handled.notify_all()

    async def _faulted(self, request: web.Request, handler: Handler) -> web.StreamResponse:
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
        # The bot lists markets through their events (keyset, offset as the fallback)
        # and reads one market by id; ``/markets/keyset`` is not served: nothing uses it.
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/markets", self._g_markets)
        app.router.add_get("/markets/{id}", self._g_market)
        app.router.add_get("/events", self._g_events)
        app.router.add_get("/events/keyset", self._g_events_keyset)
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

    async def _g_market(self, request: web.Request) -> web.Response:
        raw = self.markets.get(request.match_info["id"])
        return web.json_response(raw) if raw else _err(404, "market not found")

    async def _g_events(self, request: web.Request) -> web.Response:
        if self.offset_sunset:
            return _err(404, "not found")
        q = request.query
        offset, limit = int(q.get("offset", 0)), int(q.get("limit", self.page_size))
        return web.json_response(self._filter_events(q)[offset : offset + limit])

    async def _g_events_keyset(self, request: web.Request) -> web.Response:
        """``{"events": [...], "next_cursor": ...}``; no ``next_cursor`` on the last page;
        ``offset`` is refused, ``limit`` at most 500."""
        if not self.keyset_enabled:
            return _err(404, "not found")
        q = request.query
        if "offset" in q:
            return _err(400, "offset is not supported, use after_cursor")
        items = self._filter_events(q)
        start, limit = _keyset_position(q.get("after_cursor")), min(int(q.get("limit", 20)), 500)
        body: dict[str, Any] = {"events": items[start : start + limit]}
        if start + limit < len(items):
            body["next_cursor"] = _keyset_cursor(start + limit)
        return web.json_response(body)

    def _filter_events(self, q: Any) -> list[dict[str, Any]]:
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
        return items

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
        r.add_post("/orders", self._post_orders)
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
        tokens = self._traded_ids(raw)
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
        if self._arrival_delay_s:
            delay, self._arrival_delay_s = self._arrival_delay_s, 0.0
            await asyncio.sleep(delay)
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _err(400, "Invalid order payload")
        answer = self._accept(wallet, body)
        if self.order_reply_delay_s:
            await asyncio.sleep(self.order_reply_delay_s)
        return answer

    async def _post_orders(self, request: web.Request) -> web.Response:
        """``POST /orders``: up to 15 orders, each answered in the array as ``/order``
        would answer it (a refusal as ``success: false`` with its ``errorMsg``)."""
        wallet = await self._l2(request)
        if isinstance(wallet, web.Response):
            return wallet
        try:
            bodies = json.loads(await request.read())
            assert isinstance(bodies, list) and bodies
        except (ValueError, AssertionError):
            return _err(400, "Invalid order payload")
        if len(bodies) > 15:
            return _err(400, "Too many orders in payload, max allowed: 15")
        self.batches.append(len(bodies))
        answers = []
        for body in bodies:
            resp = self._accept(wallet, body)
            item = json.loads(resp.body)  # type: ignore[arg-type]
            if resp.status != 200:
                item = {
                    "success": False,
                    "orderID": item.get("orderID", ""),
                    "status": "",
                    "makingAmount": "",
                    "takingAmount": "",
                    "errorMsg": item["error"],
                }
            answers.append(item)
        if self.order_reply_delay_s:
            await asyncio.sleep(self.order_reply_delay_s)
        return web.json_response(answers)

    def release_delayed(self) -> None:
        """End the taker delay: each held order meets the book as it is now (a FOK that
        no longer fills is killed, its status ``CANCELED`` as for ``unmatched``)."""
        held, self.held = self.held, []
        for wallet, order, order_hash, order_type in held:
            self._execute(wallet, order, order_hash, order_type)

    def _accept(self, wallet: Wallet, body: Any) -> web.Response:
        try:
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
        # Protocol-V2 positions trade on ExchangeV3; CTF tokens on the CLOB's version.
        version = 3 if token in self.v3_tokens else self.version
        recovered, order_hash = recover_order(order, book.neg_risk, version)
        eoa_mismatch = order["signatureType"] == 0 and order["maker"].lower() != recovered.lower()
        if recovered.lower() != wallet.address.lower() or eoa_mismatch:
            other, _ = recover_order(order, book.neg_risk, 5 - version)
            if other.lower() == wallet.address.lower():
                return _err(400, f"order {order_hash} is invalid. order_version_mismatch")
            self.signer_failures += 1
            return _err(400, "invalid signature")
        if order_hash in self.orders:
            return _err(400, f"order {order_hash} is invalid. Duplicated.")
        side = order["side"]
        shares = (taker_amt if side == "BUY" else maker_amt) / UNITS
        price = (maker_amt if side == "BUY" else taker_amt) / UNITS / shares
        market_order = order_type in ("FOK", "FAK")
        if market_order and (refusal := market_amounts_error(side, maker_amt, taker_amt, book)):
            return _err(400, refusal)
        # A market order's price is its amounts' ratio: the SDK's rounding of the taker
        # amount leaves it a hair off the grid (0.580009), never a tick fraction away.
        grid = price.quantize(book.tick, ROUND_HALF_UP) if market_order else price
        off_grid = bool(grid % book.tick) or abs(price - grid) > price * D("0.001")
        if off_grid or not book.tick <= price <= 1 - book.tick:
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
        if market_order and token in self.delayed_tokens:
            # Sports taker delay: accepted now, matched when the delay ends.
            self.held.append((wallet, order, order_hash, order_type))
            self.orders[order_hash] = self._order_row(wallet, order, order_hash, order_type, [])
            self.orders[order_hash]["status"] = "DELAYED"
            return web.json_response(
                {
                    "success": True,
                    "orderID": order_hash,
                    "status": "delayed",
                    "makingAmount": "",
                    "takingAmount": "",
                    "errorMsg": "",
                }
            )
        status, answer = self._execute(wallet, order, order_hash, order_type)
        return web.json_response(answer, status=status)

    def _execute(
        self, wallet: Wallet, order: dict[str, Any], order_hash: str, order_type: str
    ) -> tuple[int, dict[str, Any]]:
        """Match an accepted order against the book; the reply ``/order`` sends."""
        book = self.books[order["tokenId"]]
        side, market_order = order["side"], order_type in ("FOK", "FAK")
        maker_amt, taker_amt = D(int(order["makerAmount"])), D(int(order["takerAmount"]))
        shares = (taker_amt if side == "BUY" else maker_amt) / UNITS
        price = (maker_amt if side == "BUY" else taker_amt) / UNITS / shares
        levels = book.asks if side == "BUY" else book.bids
        crossing = [lv for lv in levels if (lv[0] <= price if side == "BUY" else lv[0] >= price)]
        # A market BUY spends its maker amount in full: better prices buy extra shares.
        budget = maker_amt / UNITS if market_order and side == "BUY" else None
        if budget is not None:
            short = sum((lv[0] * lv[1] for lv in crossing), D(0)) < budget
        else:
            short = sum((lv[1] for lv in crossing), D(0)) < shares
        killed = None
        if order_type == "FOK" and short:
            killed = {"error": FOK_KILL, "orderID": order_hash}
        if order_type == "FAK" and not crossing:
            killed = {"error": FAK_KILL}
        if killed is not None:
            if order_hash in self.orders:  # a delayed order killed at the end of its delay
                self.orders[order_hash]["status"] = "CANCELED"
            return 400, killed
        trades, filled, paid = self._match(
            wallet, order, order_hash, book, crossing, shares, budget
        )
        levels[:] = [lv for lv in levels if lv[1] > 0]
        resting = order_type in ("GTC", "GTD") and filled < shares
        row = self._order_row(wallet, order, order_hash, order_type, trades)
        row["status"] = "LIVE" if resting else ("MATCHED" if filled else "CANCELED")
        row["size_matched"] = _s(filled)
        self.orders[order_hash] = row
        making, taking = (paid, filled) if side == "BUY" else (filled, paid)
        return 200, {
            "success": True,
            "orderID": order_hash,
            "status": "matched" if filled else "live",
            "makingAmount": str(int(making * UNITS)) if filled else "",
            "takingAmount": str(int(taking * UNITS)) if filled else "",
            "tradeIDs": [t["id"] for t in trades],
            "errorMsg": "",
        }

    def _order_row(
        self,
        wallet: Wallet,
        order: dict[str, Any],
        order_hash: str,
        order_type: str,
        trades: list[dict[str, Any]],
    ) -> dict[str, Any]:
        side, token = order["side"], order["tokenId"]
        maker_amt, taker_amt = D(int(order["makerAmount"])), D(int(order["takerAmount"]))
        shares = (taker_amt if side == "BUY" else maker_amt) / UNITS
        price = (maker_amt if side == "BUY" else taker_amt) / UNITS / shares
        return {
            "id": order_hash,
            "status": "LIVE",
            "owner": wallet.key,
            "maker_address": order["maker"],
            "market": self.books[token].market,
            "asset_id": token,
            "side": side,
            "original_size": _s(shares),
            "size_matched": "0",
            "price": _s(price),
            "outcome": self._outcome(token),
            "expiration": order["expiration"],
            "order_type": order_type,
            "associate_trades": [t["id"] for t in trades],
            "created_at": int(time.time()),
        }

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
        if request.path.endswith("/update"):
            self.balance_updates.append(dict(q))
        asset, token = q.get("asset_type", "COLLATERAL"), q.get("token_id", "")
        ledger = "CONDITIONAL-V2" if token in self.v3_tokens else "CONDITIONAL"
        if asset == "COLLATERAL":
            amount = wallet.balance
        elif asset == ledger:
            amount = wallet.positions.get(token, D(0))
        else:  # the other ledger holds nothing of this id
            amount = D(0)
        return web.json_response(
            {
                "balance": str(int(amount * UNITS)),
                "allowances": {EXCHANGE: MAX_ALLOWANCE, NEG_RISK_EXCHANGE: MAX_ALLOWANCE},
            }
        )
