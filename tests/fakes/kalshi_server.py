"""A fake Kalshi Trade API v2 over real HTTP (aiohttp.web, 127.0.0.1, port 0).

It speaks the wire format of ``shared/venue-apis.md`` (part A, checklist in part D):
everything is mounted under ``/trade-api/v2``; ``/portfolio/*`` needs RSA-PSS signed
headers, and any signature sent to a public path is verified too; prices and counts
are fixed-point strings; V2 orders match against the fake's own books (see
``kalshi_exchange``); legacy V1 order mutations answer 410.

Use::

    async with FakeKalshi() as fake:              # fake.base_url ends in /trade-api/v2
        key_id = fake.new_key(tmp_path / "k.pem")  # writes a 0600 PEM, registers it
        fake.add_market("KXTEST-26-A")             # fixture-shaped defaults, status active
        fake.set_book("KXTEST-26-A", yes=[("0.40", 10)], no=[("0.55", 5)])  # bids
        fake.exchange.balance = Decimal("100")
        venue = KalshiVenue(fake.base_url, key_id, tmp_path / "k.pem")
        ...
        fake.settle("KXTEST-26-A", "yes")

Faults for tests: ``fail_next`` (any status and body, e.g. 429 or 503),
``malformed_next`` (raw text), ``drop_next_order_reply`` and ``delay_next_order_reply``
(the order is accepted and matched first, then the reply is lost or late), and
``delay_next_order`` (the order reaches the book late, and is answered then: lookups
meanwhile do not find it).
``seed_fixtures()`` loads the recorded market and book from ``tests/fixtures/kalshi``.

Shards: ``add_market(..., exchange_index=3)`` puts a market (and its event) on shard 3;
``exchange.balances`` holds each shard's cash; ``/portfolio/balance`` has the
``balance_breakdown``; transfers move money between shards. ``books_refused`` makes
``GET /markets/orderbooks`` answer 400, as a venue refusing the bulk read.

The live window (``getting_started/historical_data``): ``archive_before(at)`` moves the
cutoffs of ``GET /historical/cutoff`` to ``at``, so markets settled, orders canceled or
executed and fills made before it leave the live paths (``/markets/{t}``,
``/portfolio/orders``, ``/portfolio/orders/{id}``, ``/portfolio/fills``) for
``/historical/*``; resting orders always stay live. ``archive(ticker)`` does that for one
market and everything done on it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.kalshi_exchange import Exchange, Refusal, d4, fp, rfc3339
from tests.paths import KALSHI_FIXTURES as FIXTURES

PREFIX = "/trade-api/v2"
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
LEGACY_410 = {
    "error": {
        "code": "deprecated_v1_order_endpoint",
        "message": "Please switch to the V2 endpoints",
        "details": "https://docs.kalshi.com/api-reference/orders/create-order-v2",
    }
}
FILTER_STATUS = {
    "unopened": {"initialized"},
    "open": {"active"},
    "paused": {"inactive"},
    "closed": {"closed", "determined", "disputed", "amended"},
    "settled": {"finalized"},
}


def nested(code: str, message: str, details: str = "") -> dict[str, Any]:
    inner = {"code": code, "message": message}
    if details:
        inner["details"] = details
    return {"error": inner}


def generate_key_file(path: Path, *, pkcs1: bool = False) -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key written as PEM (PKCS#8, or PKCS#1) with mode 0600."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if pkcs1
        else serialization.PrivateFormat.PKCS8
    )
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    path.write_bytes(pem)
    os.chmod(path, 0o600)
    return key


@dataclass
class Fault:
    status: int
    body: str
    method: str | None
    path: str | None  # a prefix of the path after /trade-api/v2
    times: int

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


class FakeKalshi:
    def __init__(self, *, skew_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.exchange = Exchange()
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        self.skew_s = skew_s
        self.clock = clock
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, signed)
        self.signed_timestamps: list[str] = []  # KALSHI-ACCESS-TIMESTAMP of each request
        self.order_posts = 0
        self.order_bodies: list[dict[str, Any]] = []  # each valid create-order body
        self.cancels: list[tuple[str, dict[str, str]]] = []  # (order id, query) of each cancel
        self.faults: list[Fault] = []
        self._drop_order_reply = 0
        self._order_delay_s = 0.0
        self._arrival_delay_s = 0.0
        self.order_reply_delay_s = 0.0  # every order answered this late (benchmarks)
        self.books_refused = False
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self._routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}{PREFIX}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeKalshi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- seeding ---------------------------------------------------------------------

    def register_key(self, key_id: str, public_key: rsa.RSAPublicKey) -> None:
        self.keys[key_id] = public_key

    def new_key(self, path: Path, *, pkcs1: bool = False) -> str:
        """Write a private key file, register its public half; returns the key id."""
        key = generate_key_file(path, pkcs1=pkcs1)
        key_id = f"{len(self.keys):08d}-0000-4000-8000-000000000000"
        self.register_key(key_id, key.public_key())
        return key_id

    def add_market(self, ticker: str, **fields: Any) -> dict[str, Any]:
        """A market with every required field (A.4.3); ``fields`` override them
        (e.g. ``status``, ``price_ranges``, ``event_ticker``, ``title``)."""
        event = fields.pop("event_ticker", ticker.rsplit("-", 1)[0])
        market: dict[str, Any] = {
            "ticker": ticker,
            "event_ticker": event,
            "market_type": "binary",
            "title": f"Will {ticker} happen?",
            "yes_sub_title": ticker.rsplit("-", 1)[-1],
            "no_sub_title": ticker.rsplit("-", 1)[-1],
            "created_time": "2026-11-01T00:00:00Z",
            "updated_time": "2026-11-01T00:00:00Z",
            "open_time": "2026-11-01T00:00:00Z",
            "close_time": "2026-12-31T00:00:00Z",
            "latest_expiration_time": "2027-01-07T00:00:00Z",
            "expected_expiration_time": "2027-01-01T00:00:00Z",
            "settlement_timer_seconds": 60,
            "status": "active",
            "last_price_dollars": "0.0000",
            "previous_yes_bid_dollars": "0.0000",
            "previous_yes_ask_dollars": "0.0000",
            "previous_price_dollars": "0.0000",
            "volume_fp": "0.00",
            "volume_24h_fp": "0.00",
            "open_interest_fp": "0.00",
            "notional_value_dollars": "1.0000",
            "liquidity_dollars": "0.0000",
            "result": "",
            "expiration_value": "",
            "can_close_early": True,
            "rules_primary": f"If {ticker} happens, the market resolves to Yes.",
            "rules_secondary": "",
            "price_level_structure": "linear_cent",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
            "exchange_index": 0,
        }
        market.update(fields)
        return self.exchange.add_market(market)

    def set_event(self, event_ticker: str, **fields: Any) -> dict[str, Any]:
        """Override fields of an event that ``add_market`` created (e.g. ``title``,
        ``settlement_sources``)."""
        event = self.exchange.events[event_ticker]
        event.update(fields)
        return event

    def add_fixture_market(self, market: dict[str, Any]) -> None:
        self.exchange.add_market(dict(market))

    def set_series(
        self, series: str, *, fee_type: str = "quadratic", fee_multiplier: float = 1
    ) -> None:
        self.exchange.series[series] = {
            "ticker": series,
            "title": series,
            "frequency": "custom",
            "category": "",
            "tags": [],
            "settlement_sources": [],
            "contract_url": "",
            "fee_type": fee_type,
            "fee_multiplier": fee_multiplier,
        }

    def set_book(
        self,
        ticker: str,
        *,
        yes: Sequence[tuple[Any, Any]] = (),
        no: Sequence[tuple[Any, Any]] = (),
    ) -> None:
        """Others' resting bids: ``yes`` YES bids and ``no`` NO bids, (price, size)."""
        self.exchange.set_book(ticker, list(yes), list(no))

    def settle(self, ticker: str, result: str, value: Decimal | None = None) -> None:
        self.exchange.settle(ticker, result, value, self._now())

    def schedule_series_fee(self, series: str, at: datetime, fee_multiplier: float) -> None:
        """A fee change announced for ``series`` taking effect at ``at``."""
        self.exchange.series_fee_changes.append(
            {
                "id": f"fc-{len(self.exchange.series_fee_changes) + 1}",
                "series_ticker": series,
                "fee_type": self.exchange.series[series]["fee_type"],
                "fee_multiplier": fee_multiplier,
                "scheduled_ts": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            }
        )

    def archive(self, ticker: str) -> None:
        """The market is older than the historical cutoff: live paths no longer serve it."""
        self.exchange.archived.add(ticker)

    def archive_before(self, at: datetime) -> None:
        """Move every cutoff to ``at``: markets settled, orders done and fills made
        before it are served by ``/historical/*`` only."""
        self.exchange.cutoffs = dict.fromkeys(self.exchange.cutoffs, at.astimezone(UTC))

    def seed_fixtures(self, directory: Path = FIXTURES) -> str:
        """The recorded tennis market with its recorded book and balance; returns its ticker."""
        market = json.loads((directory / "markets__single.json").read_text())["market"]
        self.add_fixture_market(market)
        book = json.loads((directory / "orderbook__base.json").read_text())["orderbook_fp"]
        self.exchange.set_book(market["ticker"], book["yes_dollars"], book["no_dollars"])
        balance = json.loads((directory / "auth__balance_ok.json").read_text())
        self.exchange.balance = Decimal(balance["balance_dollars"])
        return str(market["ticker"])

    # --- faults ----------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        body: Any = None,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        if body is None:
            body = (
                {"error": "too many requests"}
                if status == 429
                else nested("internal", "internal error")
            )
        text = body if isinstance(body, str) else json.dumps(body)
        self.faults.append(Fault(status, text, method, path, times))

    def malformed_next(
        self, raw: str, *, method: str | None = None, path: str | None = None, status: int = 200
    ) -> None:
        self.faults.append(Fault(status, raw, method, path, 1))

    def drop_next_order_reply(self) -> None:
        """The next order is accepted and matched, then the connection is closed."""
        self._drop_order_reply += 1

    def delay_next_order_reply(self, seconds: float) -> None:
        """The next order is accepted and matched, then answered ``seconds`` late."""
        self._order_delay_s = seconds

    def delay_next_order(self, seconds: float) -> None:
        """The next order reaches the matching engine ``seconds`` late (unseen by any
        lookup until then), then is matched and answered."""
        self._arrival_delay_s = seconds

    def order_by_client_id(self, client_order_id: str) -> dict[str, Any] | None:
        for order in self.exchange.orders.values():
            if order.client_order_id == client_order_id:
                return order.wire()
        return None

    # --- plumbing --------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.rel_url.raw_path
        sub = path[len(PREFIX) :] if path.startswith(PREFIX) else path
        signed = "KALSHI-ACCESS-SIGNATURE" in request.headers
        self.requests.append((request.method, sub, signed))
        if signed:
            self.signed_timestamps.append(request.headers.get("KALSHI-ACCESS-TIMESTAMP", ""))
        private = sub.startswith(("/portfolio", "/account"))
        if private or any(
            h in request.headers for h in ("KALSHI-ACCESS-KEY", "KALSHI-ACCESS-SIGNATURE")
        ):
            refused = self._verify(request.method, path, request.headers)
            if refused is not None:
                return web.json_response(refused, status=401)
        for fault in self.faults:
            if fault.matches(request.method, sub):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return web.Response(
                    status=fault.status, text=fault.body, content_type="application/json"
                )
        result: web.StreamResponse = await handler(request)
        return result

    def _verify(self, method: str, path: str, headers: Any) -> dict[str, Any] | None:
        key_id = headers.get("KALSHI-ACCESS-KEY")
        ts = headers.get("KALSHI-ACCESS-TIMESTAMP")
        sig = headers.get("KALSHI-ACCESS-SIGNATURE")
        if not sig or not key_id or not ts:
            return nested("signature_is_missing_from_headers", "signature is missing from headers")
        public = self.keys.get(key_id)
        if public is None:
            return nested("authentication_error", "authentication_error", "NOT_FOUND")
        if not ts.isdigit() or abs(self.clock() * 1000 - int(ts)) > self.skew_s * 1000:
            return nested("header_timestamp_expired", "header timestamp expired")
        try:
            public.verify(
                base64.b64decode(sig, validate=True),
                f"{ts}{method}{path}".encode(),
                PSS,
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return nested(
                "authentication_error", "authentication_error", "INCORRECT_API_KEY_SIGNATURE"
            )
        return None

    def _routes(self) -> list[web.RouteDef]:
        p = PREFIX
        gone = self._legacy
        return [
            web.get(f"{p}/exchange/status", self._status),
            web.get(f"{p}/series/fee_changes", self._series_fee_changes),
            web.get(f"{p}/events/fee_changes", self._event_fee_changes),
            web.get(f"{p}/series/{{series}}", self._series),
            web.get(f"{p}/historical/cutoff", self._cutoff),
            web.get(f"{p}/historical/markets/{{ticker}}", self._historical_market),
            web.get(f"{p}/historical/orders", self._historical_orders),
            web.get(f"{p}/historical/fills", self._historical_fills),
            web.post(f"{p}/portfolio/intra_exchange_instance_transfer", self._transfer),
            web.get(
                f"{p}/portfolio/intra_exchange_instance_transfers/{{transfer_id}}",
                self._transfer_status,
            ),
            web.get(f"{p}/events", self._events),
            web.get(f"{p}/events/{{event}}", self._event),
            web.get(f"{p}/markets", self._markets),
            web.get(f"{p}/markets/orderbooks", self._orderbooks),
            web.get(f"{p}/markets/{{ticker}}", self._market),
            web.get(f"{p}/markets/{{ticker}}/orderbook", self._orderbook),
            web.get(f"{p}/portfolio/balance", self._balance),
            web.post(f"{p}/portfolio/events/orders", self._create_order),
            web.delete(f"{p}/portfolio/events/orders/{{order_id}}", self._cancel),
            web.get(f"{p}/portfolio/orders", self._orders),
            web.get(f"{p}/portfolio/orders/{{order_id}}", self._order),
            web.get(f"{p}/portfolio/fills", self._fills),
            web.get(f"{p}/portfolio/positions", self._positions),
            web.get(f"{p}/portfolio/settlements", self._settlements),
            web.post(f"{p}/portfolio/orders", gone),
            web.post(f"{p}/portfolio/orders/batched", gone),
            web.delete(f"{p}/portfolio/orders/batched", gone),
            web.delete(f"{p}/portfolio/orders/{{order_id}}", gone),
            web.post(f"{p}/portfolio/orders/{{order_id}}/amend", gone),
            web.post(f"{p}/portfolio/orders/{{order_id}}/decrease", gone),
        ]

    # --- public handlers -------------------------------------------------------------

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"exchange_active": True, "trading_active": True})

    async def _series_fee_changes(self, request: web.Request) -> web.Response:
        name = request.query.get("series_ticker", "")
        changes = [
            c for c in self.exchange.series_fee_changes if c["series_ticker"] == name or not name
        ]
        if request.query.get("show_historical") != "true":
            now = self._now()
            changes = [
                c
                for c in changes
                if datetime.fromisoformat(c["scheduled_ts"].replace("Z", "+00:00")) > now
            ]
        return web.json_response({"series_fee_change_arr": changes})

    async def _event_fee_changes(self, request: web.Request) -> web.Response:
        name = request.query.get("event_ticker", "")
        out = [c for c in self.exchange.event_fee_changes if c["event_ticker"] == name or not name]
        items, cursor = _page(out, request.query.get("cursor", ""), 100)
        return web.json_response({"event_fee_changes": items, "cursor": cursor})

    async def _series(self, request: web.Request) -> web.Response:
        series = self.exchange.series.get(request.match_info["series"])
        if series is None:
            return web.json_response(nested("not_found", "not found"), status=404)
        return web.json_response({"series": series})

    async def _events(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, default=200, most=200, name="GetEvents")
        if isinstance(limit, web.Response):
            return limit
        nested_markets = q.get("with_nested_markets") == "true"
        wanted = FILTER_STATUS.get(q.get("status", ""))
        tickers = set(filter(None, q.get("tickers", "").split(",")))
        out = []
        for ticker, event in self.exchange.events.items():
            markets = [
                self.exchange.market(t)
                for t, m in self.exchange.markets.items()
                if m["event_ticker"] == ticker
            ]
            if q.get("series_ticker") and event["series_ticker"] != q["series_ticker"]:
                continue
            if tickers and ticker not in tickers:
                continue
            if wanted and not any(m["status"] in wanted for m in markets):
                continue
            out.append({**event, "markets": markets} if nested_markets else event)
        items, cursor = _page(out, q.get("cursor", ""), limit)
        return web.json_response({"events": items, "cursor": cursor})

    async def _event(self, request: web.Request) -> web.Response:
        ticker = request.match_info["event"]
        event = self.exchange.events.get(ticker)
        if event is None:
            return web.json_response(nested("not_found", "not found"), status=404)
        markets = [
            self.exchange.market(t)
            for t, m in self.exchange.markets.items()
            if m["event_ticker"] == ticker
        ]
        return web.json_response({"event": event, "markets": markets})

    async def _markets(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, default=100, most=1000, name="GetMarkets")
        if isinstance(limit, web.Response):
            return limit
        wanted = FILTER_STATUS.get(q.get("status", ""))
        tickers = set(filter(None, q.get("tickers", "").split(",")))
        out = []
        for ticker, m in self.exchange.markets.items():
            if tickers and ticker not in tickers:
                continue
            if q.get("event_ticker") and m["event_ticker"] != q["event_ticker"]:
                continue
            series = self.exchange.events[m["event_ticker"]]["series_ticker"]
            if q.get("series_ticker") and series != q["series_ticker"]:
                continue
            if wanted and m["status"] not in wanted:
                continue
            out.append(self.exchange.market(ticker))
        items, cursor = _page(out, q.get("cursor", ""), limit)
        return web.json_response({"markets": items, "cursor": cursor})

    async def _market(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        if ticker not in self.exchange.markets or self.exchange.market_archived(ticker):
            return web.json_response(nested("not_found", "not found"), status=404)
        return web.json_response({"market": self.exchange.market(ticker)})

    async def _historical_market(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        if ticker not in self.exchange.markets or not self.exchange.market_archived(ticker):
            return web.json_response(nested("not_found", "not found"), status=404)
        return web.json_response({"market": self.exchange.market(ticker)})

    async def _cutoff(self, request: web.Request) -> web.Response:
        return web.json_response({k: rfc3339(v) for k, v in self.exchange.cutoffs.items()})

    async def _orderbook(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        if ticker not in self.exchange.markets:
            return web.json_response(nested("not_found", "not found"), status=404)
        depth = int(request.query.get("depth", "0") or 0)
        return web.json_response({"orderbook_fp": self.exchange.orderbook(ticker, depth)})

    async def _orderbooks(self, request: web.Request) -> web.Response:
        # An exploded array (``tickers=A&tickers=B``), 1..100 items of at most 200
        # characters each: a comma-joined value is one (unknown) ticker.
        tickers = request.query.getall("tickers", [])
        if self.books_refused or not 1 <= len(tickers) <= 100 or any(len(t) > 200 for t in tickers):
            return web.json_response(
                {"code": "bad_request", "message": "bad request", "details": "tickers"}, status=400
            )
        books = [
            {"ticker": t, "orderbook_fp": self.exchange.orderbook(t)}
            for t in tickers
            if t in self.exchange.markets
        ]
        return web.json_response({"orderbooks": books})

    # --- portfolio handlers ----------------------------------------------------------

    async def _balance(self, request: web.Request) -> web.Response:
        shards = self.exchange.balances
        scope = request.query.get("exchange_index")
        bal = shards.get(int(scope), Decimal(0)) if scope else sum(shards.values(), Decimal(0))
        return web.json_response(
            {
                "balance": int(bal * 100),
                "balance_breakdown": [
                    {"balance": d4(b), "exchange_index": i} for i, b in sorted(shards.items())
                ],
                "balance_dollars": d4(bal),
                "portfolio_value": 0,
                "updated_ts": int(self.clock()),
            }
        )

    async def _create_order(self, request: web.Request) -> web.StreamResponse:
        self.order_posts += 1
        body = await request.read()
        if self._arrival_delay_s:
            delay, self._arrival_delay_s = self._arrival_delay_s, 0.0
            await asyncio.sleep(delay)
        try:
            req = _order_request(body)
            self.order_bodies.append(req)
            order, avg, fee = self.exchange.place(req, self._now())
        except Refusal as r:
            body = (
                {"code": r.code, "message": r.message, "details": r.details}
                if r.code == "bad_request"
                else nested(r.code, r.message, r.details)
            )
            return web.json_response(body, status=r.status)
        ack: dict[str, Any] = {
            "order_id": order.order_id,
            "client_order_id": order.client_order_id,
            "fill_count": fp(order.filled),
            "remaining_count": fp(order.remaining),
            "ts_ms": int(self.clock() * 1000),
        }
        if order.filled > 0:
            ack["average_fill_price"] = d4(avg)
            ack["average_fee_paid"] = d4(fee / order.filled)
        if self._drop_order_reply:
            self._drop_order_reply -= 1
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=201)  # never reaches the client
        if self._order_delay_s:
            delay, self._order_delay_s = self._order_delay_s, 0.0
            await asyncio.sleep(delay)
        if self.order_reply_delay_s:
            await asyncio.sleep(self.order_reply_delay_s)
        return web.json_response(ack, status=201)

    async def _cancel(self, request: web.Request) -> web.Response:
        # exchange_index >= 0 routes there; omitted (or -1) with market_ticker routes to
        # that market's shard; otherwise shard 0 (cancel-order-v2).
        q = request.query
        self.cancels.append((request.match_info["order_id"], dict(q)))
        index = (
            int(q["exchange_index"]) if q.get("exchange_index", "").lstrip("-").isdigit() else -1
        )
        ticker = q.get("market_ticker", "")
        if index < 0:
            known = ticker in self.exchange.markets
            index = self.exchange.shard_of(ticker) if known else 0
        done = self.exchange.cancel(request.match_info["order_id"], self._now(), index)
        if done is None:
            return web.json_response(nested("not_found", "not found"), status=404)
        return web.json_response(done)

    async def _orders(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, default=100, most=1000, name="GetOrders")
        if isinstance(limit, web.Response):
            return limit
        return self._order_list(q, limit)

    def _order_list(self, q: Any, limit: int) -> web.Response:
        out = [
            o.wire()
            for o in reversed(self.exchange.orders.values())
            if (not q.get("ticker") or o.ticker == q["ticker"])
            and (not q.get("status") or o.status == q["status"])
            and (not q.get("exchange_index") or str(o.exchange_index) == q["exchange_index"])
            and not self.exchange.order_archived(o)
        ]
        items, cursor = _page(out, q.get("cursor", ""), limit)
        return web.json_response({"orders": items, "cursor": cursor})

    # ``/historical/orders`` and ``/historical/fills`` filter by ticker and max_ts only
    # (no order id, no shard, no status), limit 1..1000 (default 100), cursor.

    async def _historical_orders(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, default=100, most=1000, name="GetHistoricalOrders")
        if isinstance(limit, web.Response):
            return limit
        before = _max_ts(q)
        out = [
            o.wire()
            for o in reversed(self.exchange.orders.values())
            if self.exchange.order_archived(o)
            and (not q.get("ticker") or o.ticker == q["ticker"])
            and (before is None or o.created < before)
        ]
        items, cursor = _page(out, q.get("cursor", ""), limit)
        return web.json_response({"orders": items, "cursor": cursor})

    async def _historical_fills(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, default=100, most=1000, name="GetFillsHistorical")
        if isinstance(limit, web.Response):
            return limit
        before = _max_ts(q)
        out = [
            f
            for f in reversed(self.exchange.fills)
            if self.exchange.fill_archived(f)
            and (not q.get("ticker") or f["ticker"] == q["ticker"])
            and (before is None or f["ts"] < before.timestamp())
        ]
        items, cursor = _page(out, q.get("cursor", ""), limit)
        return web.json_response({"fills": items, "cursor": cursor})

    async def _transfer(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
            if not isinstance(body, dict):
                raise ValueError
            transfer_id = self.exchange.transfer(body, self._now())
        except ValueError:
            return web.json_response({"code": "bad_request", "message": "bad request"}, status=400)
        except Refusal as r:
            return web.json_response(nested(r.code, r.message, r.details), status=r.status)
        return web.json_response({"transfer_id": transfer_id})

    async def _transfer_status(self, request: web.Request) -> web.Response:
        view = self.exchange.transfer_view(request.match_info["transfer_id"])
        if view is None:
            return web.json_response(nested("not_found", "not found"), status=404)
        return web.json_response({"transfer": view})

    async def _order(self, request: web.Request) -> web.Response:
        order = self.exchange.orders.get(request.match_info["order_id"])
        if order is None or self.exchange.order_archived(order):
            return web.json_response(nested("not_found", "not found"), status=404)
        return web.json_response({"order": order.wire()})

    async def _fills(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, default=100, most=1000, name="GetFills")
        if isinstance(limit, web.Response):
            return limit
        out = [
            f
            for f in reversed(self.exchange.fills)
            if (not q.get("ticker") or f["ticker"] == q["ticker"])
            and (not q.get("order_id") or f["order_id"] == q["order_id"])
            and not self.exchange.fill_archived(f)
        ]
        items, cursor = _page(out, q.get("cursor", ""), limit)
        return web.json_response({"fills": items, "cursor": cursor})

    async def _positions(self, request: web.Request) -> web.Response:
        market_positions = [
            {
                "fees_paid_dollars": f"{pos.fees:.6f}",
                "last_updated_ts": self._now().isoformat().replace("+00:00", "Z"),
                "market_exposure_dollars": f"{pos.cost.quantize(Decimal('0.000001')):.6f}",
                "position_fp": fp(pos.contracts),
                "realized_pnl_dollars": "0.000000",
                "ticker": ticker,
                "total_traded_dollars": f"{pos.traded.quantize(Decimal('0.000001')):.6f}",
                "exchange_index": self.exchange.shard_of(ticker),
            }
            for ticker, pos in self.exchange.positions.items()
        ]
        return web.json_response(
            {"market_positions": market_positions, "event_positions": [], "cursor": ""}
        )

    async def _settlements(self, request: web.Request) -> web.Response:
        items, cursor = _page(
            list(reversed(self.exchange.settlements)), request.query.get("cursor", ""), 100
        )
        return web.json_response({"settlements": items, "cursor": cursor})

    async def _legacy(self, request: web.Request) -> web.Response:
        return web.json_response(LEGACY_410, status=410)


def _limit(q: Any, *, default: int, most: int, name: str) -> int | web.Response:
    raw = q.get("limit", "")
    limit = int(raw) if raw.isdigit() else default
    if limit > most:
        field = name.removeprefix("Get")
        msg = (
            f"Parameter validation failed for {name}: Key: 'Get{field}Params.Limit' "
            "Error:Field validation for 'Limit' failed on the 'lte' tag"
        )
        return web.json_response({"msg": msg}, status=400)
    return limit or default


def _max_ts(q: Any) -> datetime | None:
    """``max_ts``: "Filter items before this Unix timestamp"."""
    raw = q.get("max_ts", "")
    return datetime.fromtimestamp(int(raw), UTC) if raw.isdigit() else None


def _page(items: list[Any], cursor: str, limit: int) -> tuple[list[Any], str]:
    """Opaque offset cursors; a garbage cursor returns the first page (as Kalshi does)."""
    start = 0
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
        start = int(decoded.removeprefix("off:")) if decoded.startswith("off:") else 0
    except (ValueError, UnicodeDecodeError):
        start = 0
    end = start + limit
    more = end < len(items)
    return items[start:end], base64.urlsafe_b64encode(
        f"off:{end}".encode()
    ).decode() if more else ""


def _order_request(raw: bytes) -> dict[str, Any]:
    """Validate a CreateOrderV2Request the way Kalshi does (strings, not numbers)."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise Refusal(400, "bad_request", "bad request", "invalid character in JSON body") from None
    if not isinstance(body, dict):
        raise Refusal(
            400, "bad_request", "bad request", "json: cannot unmarshal into CreateOrderV2Request"
        )
    for name in ("ticker", "side", "count", "price", "time_in_force", "self_trade_prevention_type"):
        value = body.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise Refusal(
                400,
                "bad_request",
                "bad request",
                "json: cannot unmarshal number into Go struct field "
                f"CreateOrderV2Request.{name} of type string",
            )
        if not isinstance(value, str) or not value:
            raise Refusal(400, "invalid_order", "invalid order", f"{name} is required")
    if body["side"] not in ("bid", "ask"):
        raise Refusal(400, "invalid_order", "invalid order", "side must be bid or ask")
    if body["time_in_force"] not in ("fill_or_kill", "immediate_or_cancel", "good_till_canceled"):
        raise Refusal(400, "invalid_order", "invalid order", "bad time_in_force")
    if body["self_trade_prevention_type"] not in ("taker_at_cross", "maker"):
        raise Refusal(400, "invalid_order", "invalid order", "bad self_trade_prevention_type")
    try:
        count, price = Decimal(body["count"]), Decimal(body["price"])
    except InvalidOperation:
        raise Refusal(400, "bad_request", "bad request", "malformed fixed-point value") from None
    if not count.is_finite() or count <= 0 or count != count.quantize(Decimal("0.01")):
        raise Refusal(400, "invalid_order_size", "invalid order size")
    if not price.is_finite() or price != price.quantize(Decimal("0.0001")):
        raise Refusal(400, "invalid_price", "invalid price")
    return {**body, "count": count, "price": price}
