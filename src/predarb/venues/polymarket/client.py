"""Polymarket venue: discovery on Gamma, market data and trading on the CLOB V2.

Orders are signed locally (``signing.OrderSigner``, py-clob-client-v2's builder) and
sent by our own async ``JsonHttp`` with L2 HMAC headers. Without a private key the
adapter serves market data only (paper mode); trading calls raise ``AuthError``.

Polymarket has no client order id. The order hash (the venue's ``orderID``) is known
before sending, so ``place_order`` records client id -> hash, returns the hash as
``venue_order_id``, and a lost reply raises ``PolymarketOrderStateUnknown`` carrying
it. ``get_order(client_order_id, venue_order_id)`` looks the order up by that hash.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

import httpx
from aiolimiter import AsyncLimiter

from predarb.arbitrage import precision
from predarb.domain import (
    ONE,
    ZERO,
    Action,
    Contract,
    Fill,
    Market,
    MarketStatus,
    OrderBook,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Resolution,
    TimeInForce,
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
from predarb.venues.http import JsonHttp, PreparedWrite
from predarb.venues.polymarket import wire, ws
from predarb.venues.polymarket.auth import ApiCredentials, l1_headers, l2_headers
from predarb.venues.polymarket.errors import (
    KILL_CODES,
    VENUE,
    VERSION_MISMATCH,
    PolymarketOrderStateUnknown,
    order_error_code,
    to_error,
)
from predarb.venues.polymarket.signing import (
    SHARE_QUANTUM,
    OrderBuildError,
    OrderSigner,
    SignedOrder,
)
from predarb.venues.polymarket.wire import TokenInfo, WireError

if TYPE_CHECKING:
    from predarb.config import Settings

log = logging.getLogger(__name__)

END_CURSOR = "LTE="
_ORDER_TYPES = {TimeInForce.FOK: "FOK", TimeInForce.IOC: "FAK", TimeInForce.GTC: "GTC"}
_BOOKS_PER_CALL = 50
_BATCH_MAX = 15  # orders per POST /orders
_MAX_PREPARED = 100
# L2 headers carry a timestamp in seconds: a prepared request older than this is
# signed again at sending.
_FRESH_S = 2.0


class PolymarketVenue(VenueClient):
    venue = Venue.POLYMARKET

    def __init__(
        self,
        clob_url: str,
        gamma_url: str,
        *,
        private_key: str | None = None,
        api_creds: tuple[str, str, str] | None = None,
        funder: str | None = None,
        signature_type: int = 0,
        chain_id: int = 137,
        timeout_s: float = 10.0,
        read_attempts: int = 4,
        max_backoff_s: float = 4.0,
        clob_reads_per_10s: int = 1000,
        clob_writes_per_10s: int = 400,
        gamma_reads_per_10s: int = 250,
        page_size: int = 100,
        max_pages: int = 50,
        tag_id: str | None = None,
        ws_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._signer = (
            OrderSigner(
                private_key, chain_id=chain_id, signature_type=signature_type, funder=funder
            )
            if private_key
            else None
        )
        self._creds = ApiCredentials(*api_creds) if api_creds else None
        self._signature_type = signature_type
        self._page_size, self._max_pages, self._tag_id = page_size, max_pages, tag_id
        self._writes_per_10s = clob_writes_per_10s
        common: dict[str, Any] = {
            "timeout_s": timeout_s,
            "read_attempts": read_attempts,
            "max_backoff_s": max_backoff_s,
        }
        self._gamma = JsonHttp(
            VENUE,
            gamma_url,
            to_error=to_error,
            read_limiter=AsyncLimiter(gamma_reads_per_10s, 10),
            **common,
        )
        self._clob = JsonHttp(
            VENUE,
            clob_url,
            to_error=to_error,
            sign=self._l2_sign,
            read_limiter=AsyncLimiter(clob_reads_per_10s, 10),
            write_limiter=AsyncLimiter(clob_writes_per_10s, 10),
            client=http_client,
            **common,
        )
        # L1 (key creation) shares the connection pool, with its own signer.
        self._clob_l1 = JsonHttp(
            VENUE, clob_url, to_error=to_error, sign=self._l1_sign, client=self._clob.client
        )
        self._ws_url = ws_url or ws.ws_url(clob_url)
        self._tokens: dict[str, TokenInfo] = {}
        self._outcomes: dict[str, tuple[str, ...]] = {}  # condition id -> tokens in order
        self._contracts: dict[str, Contract] = {}
        self._hash_by_client: dict[str, str] = {}
        self._client_by_hash: dict[str, str] = {}
        # Orders prepared for sending, by client order id.
        self._prepared: OrderedDict[str, _Ready] = OrderedDict()
        self._clob_version: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PolymarketVenue:
        def secret(value: Any) -> str | None:
            return value.get_secret_value() if value is not None else None

        parts = (
            secret(settings.poly_api_key),
            secret(settings.poly_api_secret),
            secret(settings.poly_api_passphrase),
        )
        creds = (parts[0], parts[1], parts[2]) if all(parts) else None
        return cls(
            settings.poly_clob_url,
            settings.poly_gamma_url,
            private_key=secret(settings.poly_private_key),
            api_creds=creds,  # type: ignore[arg-type]
            funder=settings.poly_funder,
            signature_type=settings.poly_signature_type,
        )

    def book_stream(self, **kwargs: Any) -> ws.PolymarketBookStream:
        """Streamed books from the public market channel."""
        return ws.PolymarketBookStream(
            self._ws_url, self, min_size=self._min_size, on_tick=self.set_tick, **kwargs
        )

    def set_tick(self, token_id: str, tick: Decimal) -> None:
        """The token's tick as the venue announced it (``tick_size_change``): orders
        signed from now on use it, and a prepared order signed with another tick is
        signed again before it leaves."""
        known = self._tokens.get(token_id)
        if known is not None and known.tick_size != tick:
            log.info("polymarket tick change", extra={"token": token_id, "tick": str(tick)})
            self._tokens[token_id] = dataclasses.replace(known, tick_size=tick)

    def _min_size(self, token_id: str) -> Decimal:
        known = self._tokens.get(token_id)
        return known.min_order_size if known else ONE

    # ------------------------------------------------------------ auth

    @property
    def can_trade(self) -> bool:
        return self._signer is not None and self._creds is not None

    def _l2_sign(self, method: str, path: str, body: bytes) -> Mapping[str, str]:
        if self._signer is None or self._creds is None:
            raise AuthError(VENUE, "Polymarket trading needs POLY_PRIVATE_KEY and API creds")
        return l2_headers(self._creds, self._signer.address, method, path, body)

    def _l1_sign(self, method: str, path: str, body: bytes) -> Mapping[str, str]:
        if self._signer is None:
            raise AuthError(VENUE, "Polymarket API keys need POLY_PRIVATE_KEY")
        return l1_headers(self._signer.signer)

    async def connect(self) -> None:
        """With a wallet key and no configured L2 credentials, create or derive them
        (L1). Market data needs no call here."""
        if self._signer is not None:
            await self._exchange_version()
        if self._signer is None or self._creds is not None:
            return
        try:
            raw = await self._clob_l1.write("POST", "/auth/api-key")
        except (AuthError, OrderRejected, NotFound):
            raw = await self._clob_l1.get("/auth/derive-api-key", auth=True)
        if not isinstance(raw, Mapping) or not all(
            isinstance(raw.get(k), str) and raw.get(k) for k in ("apiKey", "secret", "passphrase")
        ):
            raise BadResponse(VENUE, "API key reply without apiKey/secret/passphrase")
        self._creds = ApiCredentials(raw["apiKey"], raw["secret"], raw["passphrase"])
        log.info("polymarket API credentials derived", extra={"address": self._signer.address})

    def _require_trading(self) -> tuple[OrderSigner, ApiCredentials]:
        if self._signer is None or self._creds is None:
            raise AuthError(
                VENUE,
                "Polymarket trading is disabled: set POLY_PRIVATE_KEY (and call connect() "
                "or set POLY_API_KEY/SECRET/PASSPHRASE)",
                code="no_credentials",
            )
        return self._signer, self._creds

    # ------------------------------------------------------------ markets

    async def list_markets(self) -> list[Market]:
        """Open markets of active events, all pages: ``GET /events/keyset`` (the
        documented replacement of offset paging), else ``GET /events`` with offsets."""
        try:
            found = await self._events_keyset()
        except (NotFound, BadResponse) as exc:
            log.warning("gamma keyset paging unavailable, paging by offset", exc_info=exc)
            found = await self._events_by_offset()
        markets = list({m.market_id: m for m in found if m.status is MarketStatus.OPEN}.values())
        for m in markets:
            self._remember(m)
        return markets

    def _event_filter(self) -> dict[str, Any]:
        return {"active": "true", "closed": "false", "tag_id": self._tag_id}

    async def _events_keyset(self) -> list[Market]:
        markets: list[Market] = []
        cursor = ""
        for _ in range(self._max_pages):
            params = {**self._event_filter(), "limit": self._page_size}
            if cursor:
                params["after_cursor"] = cursor
            raw = await self._gamma.get("/events/keyset", params)
            if not isinstance(raw, Mapping):
                raise BadResponse(VENUE, "GET /events/keyset: not an object")
            try:
                markets.extend(wire.gamma_events(raw.get("events")))
            except WireError as exc:
                raise BadResponse(VENUE, f"GET /events/keyset: {exc}") from None
            following = wire.text(raw.get("next_cursor"))
            if not following or following == cursor:  # the last page (or a stuck cursor)
                break
            cursor = following
        return markets

    async def _events_by_offset(self) -> list[Market]:
        markets: list[Market] = []
        for page in range(self._max_pages):
            params = {
                **self._event_filter(),
                "limit": self._page_size,
                "offset": page * self._page_size,
            }
            raw = await self._gamma.get("/events", params)
            try:
                markets.extend(wire.gamma_events(raw))
            except WireError as exc:
                raise BadResponse(VENUE, f"GET /events: {exc}") from None
            if not isinstance(raw, list) or len(raw) < self._page_size:
                break
        return markets

    async def get_market(self, market_id: str) -> Market:
        raw = await self._gamma.get(f"/markets/{market_id}")
        try:
            market = wire.gamma_market(raw)
        except WireError as exc:
            raise BadResponse(VENUE, f"GET /markets/{market_id}: {exc}") from None
        self._remember(market)
        return market

    def _remember(self, m: Market) -> None:
        for c in m.contracts:
            self._contracts[c.token_id] = c
            self._tokens[c.token_id] = TokenInfo(
                c.token_id,
                m.extra.get("conditionId", ""),
                c.side,
                m.tick_size,
                m.neg_risk,
                m.min_order_size,
                m.fee,
                m.extra.get("version", "v1"),
            )

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        by_token = {c.token_id: c for c in contracts if c.token_id}
        tokens = list(by_token)
        out: dict[Contract, OrderBook] = {}
        for i in range(0, len(tokens), _BOOKS_PER_CALL):
            chunk = tokens[i : i + _BOOKS_PER_CALL]
            try:
                raw = await self._clob.write(
                    "POST", "/books", [{"token_id": t} for t in chunk], auth=False
                )
            except VenueError as exc:
                log.warning("polymarket /books failed, reading books one by one", exc_info=exc)
                raw = await asyncio.gather(*(self._one_book(t) for t in chunk))
            for item in raw if isinstance(raw, list) else []:
                token = wire.text(item.get("asset_id")) if isinstance(item, Mapping) else ""
                contract = by_token.get(token)
                if contract is None:
                    continue
                try:
                    out[contract] = self._book(item, contract)
                except WireError as exc:
                    log.warning(
                        "skipping polymarket book", extra={"token": token, "reason": str(exc)}
                    )
        return out

    async def _one_book(self, token: str) -> Any:
        try:
            return await self._clob.get("/book", {"token_id": token})
        except VenueError as exc:
            log.warning("polymarket book unavailable", extra={"token": token, "reason": str(exc)})
            return None

    def _book(self, raw: Mapping[str, Any], contract: Contract) -> OrderBook:
        known = self._tokens.get(contract.token_id)
        book = wire.book(
            raw,
            contract,
            tick_size=known.tick_size if known else None,
            min_size=known.min_order_size if known else ONE,
        )
        neg_risk = raw.get("neg_risk")
        if known is not None or isinstance(neg_risk, bool):
            self._tokens[contract.token_id] = TokenInfo(
                contract.token_id,
                wire.text(raw.get("market")) or (known.condition_id if known else ""),
                contract.side,
                book.tick_size,
                neg_risk if isinstance(neg_risk, bool) else bool(known and known.neg_risk),
                book.min_order_size,
                known.fee if known else None,
                known.protocol if known else wire.protocol_of(contract.token_id),
            )
        return book

    async def _token_info(self, token_id: str) -> TokenInfo:
        known = self._tokens.get(token_id)
        if known is not None:
            return known
        by_token = await self._clob.get(f"/markets-by-token/{token_id}")
        cid = wire.text(by_token.get("condition_id")) if isinstance(by_token, Mapping) else ""
        if not cid:
            raise BadResponse(VENUE, f"no condition id for token {token_id}")
        try:
            infos = wire.clob_market_info(await self._clob.get(f"/clob-markets/{cid}"), cid)
        except WireError as exc:
            raise BadResponse(VENUE, f"GET /clob-markets/{cid}: {exc}") from None
        for info in infos:
            self._tokens[info.token_id] = info
        if token_id not in self._tokens:
            raise BadResponse(VENUE, f"token {token_id} not in its market")
        return self._tokens[token_id]

    async def get_resolution(self, market_id: str) -> Resolution | None:
        raw = await self._gamma.get(f"/markets/{market_id}")
        try:
            return wire.resolution(raw)
        except WireError as exc:
            raise BadResponse(VENUE, f"resolution of {market_id}: {exc}") from None

    async def health(self) -> bool:
        try:
            await self._clob.get("/time")
        except VenueError:
            return False
        return True

    # ------------------------------------------------------------ orders

    async def prepare(self, order: OrderRequest) -> str:
        """Sign ``order``, sign its request and take the limiter's token now, so that
        ``place_order`` only sends it. Returns the order hash (the venue's id)."""
        self._require_trading()
        ready = await self._build(order)
        if isinstance(ready, OrderResult):  # the venue would refuse it: never sent
            raise OrderRejected(VENUE, ready.error, code=ready.error_code)
        write = await self._clob.prepare_write("POST", "/order", ready.body)
        self._prepared[order.client_order_id] = dataclasses.replace(ready, write=write)
        while len(self._prepared) > _MAX_PREPARED:
            self._prepared.popitem(last=False)
        return ready.signed.order_hash

    async def place_order(self, order: OrderRequest) -> OrderResult:
        """Sign and send one order (FOK by default; IOC is sent as FAK); an order passed
        to ``prepare`` first leaves as prepared.

        A FOK/FAK kill is ``CANCELED`` with ``error_code`` ``fok_killed``/``fak_no_match``;
        other refusals are ``REJECTED``. A lost reply raises
        ``PolymarketOrderStateUnknown`` with the order hash.
        """
        self._require_trading()
        ready = await self._ready(order)
        if isinstance(ready, OrderResult):
            return ready
        result = await self._post(order, ready)
        if result.error_code == VERSION_MISMATCH and await self._version_changed():
            # Refused (so nothing exists to duplicate): signed again for the CLOB's
            # version and sent once more, as py-clob-client-v2 does.
            ready = await self._build(order)
            if isinstance(ready, OrderResult):
                return ready
            result = await self._post(order, ready)
        return result

    async def _version_changed(self) -> bool:
        before = self._clob_version
        self._clob_version = None
        return await self._exchange_version() != before

    async def _exchange_version(self) -> int:
        """The CLOB's protocol version (``GET /version``), read once and again after an
        ``order_version_mismatch``."""
        if self._clob_version is None:
            raw = await self._clob.get("/version")
            version = raw.get("version") if isinstance(raw, Mapping) else None
            if not isinstance(version, int) or isinstance(version, bool):
                raise BadResponse(VENUE, f"GET /version: {str(raw)[:80]}")
            self._clob_version = version
            log.info("polymarket CLOB version", extra={"version": version})
        return self._clob_version

    async def _post(self, order: OrderRequest, ready: _Ready) -> OrderResult:
        try:
            if ready.write is not None and time.monotonic() - ready.write.signed_at < _FRESH_S:
                raw = await self._clob.send_prepared(ready.write, order=True)
            else:
                raw = await self._clob.write("POST", "/order", ready.body, order=True)
        except OrderRejected as exc:
            return _killed_or_refused(order, ready, exc.code, exc.message)
        except (OrderStateUnknown, BadResponse) as exc:
            raise _lost(ready, exc.message) from exc
        return self._reply(order, ready, raw)

    def _reply(self, order: OrderRequest, ready: _Ready, raw: Any) -> OrderResult:
        """The venue's answer to one posted order (alone or in a batch)."""
        signed, shares, info, side = ready.signed, ready.shares, ready.info, ready.side
        notional = shares * order.price
        try:
            posted = wire.posted_order(
                raw,
                making_bound=notional if side == "BUY" else shares,
                # A BUY's money may buy surplus shares, never below the tick; a SELL
                # receives at most $1 a share.
                taking_bound=notional / info.tick_size if side == "BUY" else shares,
            )
        except WireError as exc:
            raise _lost(ready, f"unreadable reply ({exc})") from None
        return self._posted_result(order, signed.order_hash, shares, posted, info)

    async def place_orders(self, orders: Sequence[OrderRequest]) -> list[OrderResult | VenueError]:
        """Several orders in one ``POST /orders`` (at most 15 a request), so the legs of
        an n-way basket leave together. A lost reply leaves each order of the request
        unknown (``PolymarketOrderStateUnknown`` with its hash), never resent."""
        if len(orders) < 2:
            return await super().place_orders(orders)
        self._require_trading()
        answers: list[OrderResult | VenueError | None] = [None] * len(orders)
        ready: list[tuple[int, _Ready]] = []
        for n, order in enumerate(orders):
            r = await self._ready(order)
            if isinstance(r, OrderResult):
                answers[n] = r
            else:
                ready.append((n, r))
        for start in range(0, len(ready), _BATCH_MAX):
            chunk = ready[start : start + _BATCH_MAX]
            replies = await self._post_batch([orders[n] for n, _ in chunk], [r for _, r in chunk])
            for (n, _), reply in zip(chunk, replies, strict=True):
                answers[n] = reply
        stale = [
            n
            for n, a in enumerate(answers)
            if isinstance(a, OrderResult) and a.error_code == VERSION_MISMATCH
        ]
        if stale and await self._version_changed():
            # Refused, so nothing exists to duplicate: signed again and sent once more.
            for n in stale:
                try:
                    answers[n] = await self.place_order(orders[n])
                except VenueError as exc:
                    answers[n] = exc
        return [a for a in answers if a is not None]

    async def _ready(self, order: OrderRequest) -> _Ready | OrderResult:
        """The order as ``prepare`` left it, or signed now if it was not prepared or the
        tick, market info or CLOB version changed since."""
        prepared = self._prepared.pop(order.client_order_id, None)
        fresh = prepared is not None and prepared.info == self._tokens.get(prepared.info.token_id)
        fresh = fresh and prepared is not None and prepared.version == self._clob_version
        return prepared if prepared is not None and fresh else await self._build(order)

    async def _post_batch(
        self, orders: list[OrderRequest], ready: list[_Ready]
    ) -> list[OrderResult | VenueError]:
        try:
            raw = await self._clob.write("POST", "/orders", [r.body for r in ready], order=True)
        except OrderRejected as exc:  # the request as a whole was refused: nothing placed
            return [
                _killed_or_refused(o, r, exc.code, exc.message)
                for o, r in zip(orders, ready, strict=True)
            ]
        except (OrderStateUnknown, BadResponse) as exc:
            return [_lost(r, exc.message) for r in ready]
        if not isinstance(raw, list) or len(raw) != len(ready):
            got = len(raw) if isinstance(raw, list) else "no list"
            return [_lost(r, f"batch reply of {got} for {len(ready)} orders") for r in ready]
        answers: list[OrderResult | VenueError] = []
        for order, r, item in zip(orders, ready, raw, strict=True):
            try:
                answers.append(self._reply(order, r, item))
            except VenueError as exc:
                answers.append(exc)
        return answers

    async def _build(self, order: OrderRequest) -> _Ready | OrderResult:
        """The signed order and its POST body, or its local refusal (nothing sent)."""
        signer, creds = self._require_trading()
        token = order.contract.token_id
        info = await self._token_info(token)
        self._contracts.setdefault(token, order.contract)
        shares = order.contracts.quantize(SHARE_QUANTUM, rounding=ROUND_DOWN)
        if shares < info.min_order_size:
            return _refused(order, "below_min_size", f"{shares} < minimum {info.min_order_size}")
        if order.tif is not TimeInForce.GTC and (
            why := precision.refusal(order.action, shares, order.price, info.tick_size)
        ):
            return _refused(order, "amount_precision", why)
        side = "BUY" if order.action is Action.BUY else "SELL"
        clob = await self._exchange_version()
        # Protocol-V2 markets always sign for ExchangeV3; CTF markets for the CLOB's.
        version = 3 if info.protocol == "v2" else clob
        if version not in (2, 3):
            return _refused(order, "unsupported_exchange", f"the CLOB runs version {clob}")
        args = (token, side, order.price, shares)
        try:  # a fraction of a millisecond (C secp256k1): cheaper than a thread hop
            signed = signer.sign(
                *args, tick_size=info.tick_size, neg_risk=info.neg_risk, exchange_version=version
            )
        except OrderBuildError as exc:
            return _refused(order, "invalid_order", str(exc))
        self._hash_by_client[order.client_order_id] = signed.order_hash
        self._client_by_hash[signed.order_hash] = order.client_order_id
        body = signed.body(creds.key, _ORDER_TYPES[order.tif])
        return _Ready(signed, shares, info, side, body, None, clob)

    def _posted_result(
        self,
        order: OrderRequest,
        order_hash: str,
        shares: Decimal,
        posted: wire.PostedOrder,
        info: TokenInfo,
    ) -> OrderResult:
        if not posted.success:
            code = order_error_code(posted.error)
            status = OrderStatus.CANCELED if code in KILL_CODES else OrderStatus.REJECTED
            return OrderResult(
                order.client_order_id, status, order_hash, error_code=code, error=posted.error
            )
        if posted.order_id and posted.order_id.lower() != order_hash.lower():
            log.warning("polymarket orderID differs from our hash", extra={"id": posted.order_id})
        buy = order.action is Action.BUY
        filled = posted.taking if buy else posted.making
        paid = posted.making if buy else posted.taking
        avg = (paid / filled).quantize(Decimal("0.000001")) if filled else ZERO
        # A BUY that met better prices than its limit holds more shares than it asked
        # for (surplus: the money is spent in full); it never pays above its limit.
        beyond = avg > order.price if buy else filled > shares
        if filled and (beyond or not ZERO < avg <= ONE):
            raise PolymarketOrderStateUnknown(
                f"order {order_hash}: fill amounts out of range", venue_order_id=order_hash
            )
        if buy and filled > shares:
            log.info(
                "polymarket surplus shares",
                extra={"order": order_hash, "asked": str(shares), "filled": str(filled)},
            )
        statuses = {
            "matched": OrderStatus.FILLED if filled >= shares else OrderStatus.PARTIAL,
            "live": OrderStatus.OPEN,
            "delayed": OrderStatus.DELAYED,
            "unmatched": OrderStatus.CANCELED,
        }
        fee = ZERO
        if filled and info.fee is not None:
            rate, exp = info.fee.rate, info.fee.exponent
            fee = (filled * rate * (avg * (ONE - avg)) ** exp).quantize(wire.FEE_QUANTUM)
        return OrderResult(
            order.client_order_id,
            statuses.get(posted.status, OrderStatus.PENDING),
            venue_order_id=order_hash,
            filled=filled,
            avg_price=avg,
            fee=fee,
        )

    def _hash_for(self, client_order_id: str, venue_order_id: str) -> str:
        if venue_order_id:
            return venue_order_id
        if client_order_id in self._hash_by_client:
            return self._hash_by_client[client_order_id]
        return client_order_id if client_order_id.startswith("0x") else ""

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        """The order by its hash (``venue_order_id``, or the hash recorded for
        ``client_order_id`` by ``place_order`` in this process). Fills come from its
        trades: ``final`` only once CONFIRMED on chain; FAILED trades do not count,
        and an order whose every trade failed is ``REJECTED`` (``trade_failed``)."""
        signer, _ = self._require_trading()
        order_hash = self._hash_for(client_order_id, venue_order_id)
        if not order_hash:
            # Not "no such order": without its hash nobody can tell whether it exists.
            raise VenueError(
                self.venue,
                f"order {client_order_id} can only be found by its hash, and none is known",
                code="order_hash_unknown",
            )
        try:
            raw = await self._clob.get(f"/data/order/{order_hash}", auth=True)
        except NotFound:
            return None
        if raw in (None, "", {}):
            return None
        try:
            oo = wire.open_order(raw)
        except WireError as exc:
            raise BadResponse(VENUE, f"GET /data/order: {exc}") from None
        trades = await self._trades_by_id(oo.trade_ids, signer.address)
        return self._order_result(client_order_id or order_hash, oo, trades)

    def _order_result(
        self, client_order_id: str, oo: wire.OpenOrder, trades: list[wire.Trade]
    ) -> OrderResult:
        fills = tuple(self._fill(client_order_id, t) for t in trades if not t.failed)
        failed = [t for t in trades if t.failed]
        filled = sum((f.contracts for f in fills), ZERO) if trades else oo.size_matched
        cost = sum((f.contracts * f.price for f in fills), ZERO)
        avg = (cost / filled).quantize(Decimal("0.000001")) if fills and filled else oo.price
        if oo.status in ("LIVE", "DELAYED"):
            status = OrderStatus.OPEN if oo.status == "LIVE" else OrderStatus.DELAYED
        elif oo.status == "INVALID":
            status = OrderStatus.REJECTED
        elif filled >= oo.original_size and filled:
            status = OrderStatus.FILLED
        elif filled:
            status = OrderStatus.PARTIAL
        else:
            status = OrderStatus.REJECTED if failed else OrderStatus.CANCELED
        return OrderResult(
            client_order_id,
            status,
            venue_order_id=oo.order_id,
            filled=filled,
            avg_price=avg if filled else ZERO,
            fee=sum((f.fee for f in fills), ZERO),
            fills=fills,
            error_code="trade_failed" if failed else "",
            error=f"{len(failed)} trade(s) failed on chain" if failed else "",
        )

    def _fill(self, client_order_id: str, t: wire.Trade) -> Fill:
        contract = self._contracts.get(t.token_id) or Contract(
            Venue.POLYMARKET, t.token_id, side=t.outcome, token_id=t.token_id
        )
        known = self._tokens.get(t.token_id)
        fee = t.fee
        if t.fee_rate is None and t.taker and known is not None and known.fee is not None:
            fee = (t.size * known.fee.rate * t.price * (ONE - t.price)).quantize(wire.FEE_QUANTUM)
        return Fill(
            fill_id=t.trade_id,
            client_order_id=self._client_by_hash.get(t.order_id, client_order_id or t.order_id),
            contract=contract,
            action=Action.BUY if t.side == "BUY" else Action.SELL,
            price=t.price,
            contracts=t.size,
            fee=fee,
            ts=t.ts,
            final=t.final,
        )

    async def _trades_by_id(self, trade_ids: Sequence[str], address: str) -> list[wire.Trade]:
        out: list[wire.Trade] = []
        for tid in trade_ids:
            out.extend(await self._trades({"id": tid}, address))
        return out

    async def _trades(self, params: Mapping[str, Any], address: str) -> list[wire.Trade]:
        items = await self._paged("/data/trades", params)
        out = []
        for item in items:
            try:
                out.append(wire.trade(item, address=address))
            except WireError as exc:
                log.warning("skipping polymarket trade", extra={"reason": str(exc)})
        return out

    async def _paged(self, path: str, params: Mapping[str, Any]) -> list[Any]:
        items: list[Any] = []
        cursor = "MA=="
        for _ in range(self._max_pages):
            raw = await self._clob.get(path, {**params, "next_cursor": cursor}, auth=True)
            try:
                data, cursor = wire.cursor_page(raw)
            except WireError as exc:
                raise BadResponse(VENUE, f"GET {path}: {exc}") from None
            items.extend(data)
            if not cursor or cursor == END_CURSOR:
                break
        return items

    async def cancel_order(self, venue_order_id: str) -> None:
        self._require_trading()
        await self._clob.write("DELETE", "/order", {"orderID": venue_order_id})

    async def open_orders(self) -> list[OrderResult]:
        self._require_trading()
        out = []
        for item in await self._paged("/data/orders", {}):
            try:
                oo = wire.open_order(item)
            except WireError as exc:
                log.warning("skipping polymarket order", extra={"reason": str(exc)})
                continue
            client_id = self._client_by_hash.get(oo.order_id, oo.order_id)
            out.append(self._order_result(client_id, oo, []))
        return out

    async def get_fills(self, client_order_id: str = "") -> list[Fill]:
        signer, _ = self._require_trading()
        if client_order_id:
            result = await self.get_order(client_order_id)
            return list(result.fills) if result else []
        trades = await self._trades({"maker_address": signer.maker}, signer.address)
        return [self._fill("", t) for t in trades if not t.failed]

    # ------------------------------------------------------------ account

    def order_rate(self) -> tuple[int, float]:
        # POST /order allows 5,000 per 10 s in bursts and 120,000 per 10 min; the
        # client's write limiter keeps well inside that, and so does the budget.
        return self._writes_per_10s, 10.0

    async def get_balance(self) -> Decimal:
        """Spendable pUSD (``/balance-allowance``, 6-dp base units) in dollars."""
        self._require_trading()
        return await self._balance({"asset_type": "COLLATERAL"})

    async def _balance(self, params: Mapping[str, Any]) -> Decimal:
        raw = await self._clob.get(
            "/balance-allowance", {**params, "signature_type": self._signature_type}, auth=True
        )
        try:
            return wire.balance(raw)
        except WireError as exc:
            raise BadResponse(VENUE, f"GET /balance-allowance: {exc}") from None

    async def condition_tokens(self, token_id: str) -> tuple[str, bool, tuple[str, ...]]:
        """A token's condition id, whether it is neg-risk, and the condition's tokens in
        outcome order (index sets 1, 2, ...): what redeeming and merging it takes."""
        info = await self._token_info(token_id)
        cid = info.condition_id
        if cid not in self._outcomes:
            try:
                infos = wire.clob_market_info(await self._clob.get(f"/clob-markets/{cid}"), cid)
            except WireError as exc:
                raise BadResponse(VENUE, f"GET /clob-markets/{cid}: {exc}") from None
            self._outcomes[cid] = tuple(i.token_id for i in infos)
        return cid, info.neg_risk, self._outcomes[cid]

    async def refresh_balances(self, token_ids: Sequence[str] = ()) -> None:
        """``GET /balance-allowance/update``: the CLOB re-reads the wallet on chain (pUSD,
        and each token given), so a redemption's money can be traded at once."""
        self._require_trading()
        base = {"signature_type": self._signature_type}
        await self._clob.get(
            "/balance-allowance/update", {**base, "asset_type": "COLLATERAL"}, auth=True
        )
        for token in token_ids:
            await self._clob.get(
                "/balance-allowance/update",
                {**base, "asset_type": self._ledger(token), "token_id": token},
                auth=True,
            )

    def _ledger(self, token_id: str) -> str:
        """The ``asset_type`` a token's balance is kept under: protocol-V2 positions
        (ExchangeV3) in ``CONDITIONAL-V2``, CTF tokens in ``CONDITIONAL``. The protocol
        is the Gamma market's when known, else read from the id."""
        known = self._tokens.get(token_id)
        protocol = known.protocol if known is not None else wire.protocol_of(token_id)
        return "CONDITIONAL-V2" if protocol == "v2" else "CONDITIONAL"

    async def get_positions(self) -> list[VenuePosition]:
        """Every token we ever traded whose conditional balance is not zero; cost is the
        average buy price of our non-failed trades times the holding."""
        signer, _ = self._require_trading()
        trades = [
            t
            for t in await self._trades({"maker_address": signer.maker}, signer.address)
            if not t.failed
        ]
        out = []
        for token in dict.fromkeys(t.token_id for t in trades):
            held = await self._balance({"asset_type": self._ledger(token), "token_id": token})
            if held <= 0:
                continue
            buys = [t for t in trades if t.token_id == token and t.side == "BUY"]
            bought = sum((t.size for t in buys), ZERO)
            avg = sum((t.size * t.price for t in buys), ZERO) / bought if bought else ZERO
            outcome = buys[0].outcome if buys else ""
            contract = self._contracts.get(token) or Contract(
                Venue.POLYMARKET, token, side=outcome, token_id=token
            )
            out.append(VenuePosition(contract, held, (avg * held).quantize(Decimal("0.000001"))))
        return out

    async def close(self) -> None:
        await self._gamma.close()
        await self._clob.close()


@dataclass(frozen=True, slots=True)
class _Ready:
    signed: SignedOrder
    shares: Decimal
    info: TokenInfo
    side: str
    body: dict[str, Any]
    write: PreparedWrite | None  # None: sign the request at sending
    version: int = 2  # the CLOB's version when it was signed


def _killed_or_refused(order: OrderRequest, ready: _Ready, code: str, message: str) -> OrderResult:
    status = OrderStatus.CANCELED if code in KILL_CODES else OrderStatus.REJECTED
    return OrderResult(
        order.client_order_id,
        status,
        venue_order_id=ready.signed.order_hash,
        error_code=code,
        error=message,
    )


def _lost(ready: _Ready, why: str) -> PolymarketOrderStateUnknown:
    order_hash = ready.signed.order_hash
    return PolymarketOrderStateUnknown(f"order {order_hash}: {why}", venue_order_id=order_hash)


def _refused(order: OrderRequest, code: str, message: str) -> OrderResult:
    return OrderResult(order.client_order_id, OrderStatus.REJECTED, error_code=code, error=message)
