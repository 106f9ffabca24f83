"""The state behind the fake Polymarket (``polymarket_server.FakePolymarket``): Gamma
markets and events, CLOB order books, wallets (balance and positions per API key),
orders and trades, and the matching of a taker order against the books. No HTTP here;
``FakePolymarket`` inherits this state and serves it. Fees follow
``C × r × p × (1 − p)``.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tests.fakes.polymarket_signing import creds_for

D = Decimal


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


SHARE_UNIT = D("0.000001")  # amounts are 6-dp base units
MAKER_DECIMALS, TAKER_DECIMALS = 2, 4


def _s(x: Decimal) -> str:
    return format(x.normalize(), "f")


def _places(x: Decimal) -> int:
    exponent = x.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def market_amounts_error(side: str, maker_units: Decimal, taker_units: Decimal, book: Book) -> str:
    """The CLOB's refusal of a FOK/FAK whose amounts are too precise, or "": the maker
    amount takes 2 decimals, the taker amount 4 (fewer on a 0.1 tick: 3)."""
    taker_max = min(TAKER_DECIMALS, _places(book.tick) + 2)
    maker, taker = maker_units / 1_000_000, taker_units / 1_000_000
    if _places(maker) <= MAKER_DECIMALS and _places(taker) <= taker_max:
        return ""
    return (
        f"invalid amounts, the market {side.lower()} orders maker amount supports a max "
        f"accuracy of {MAKER_DECIMALS} decimals, taker amount a max of {taker_max} decimals"
    )


def v2_position_ids(market_id: str, outcomes: list[str], neg_risk: bool) -> dict[str, str]:
    """Protocol-V2 position ids shaped as Polymarket makes them (py-sdk
    ``protocol.decode_v2_outcome_position_id``): the module (1 binary, 2 neg-risk) in
    the top byte, bits 40-103 reserved (zero), the outcome index in the low byte."""
    digest = int(hashlib.sha256(f"v2:{market_id}".encode()).hexdigest(), 16)
    condition = ((digest >> 112) << 104) | ((digest & 0xFFFFFFFF) << 8)
    module = (2 if neg_risk else 1) << 248
    base = module | (condition & ((1 << 248) - 1))
    return {o: str(base | n) for n, o in enumerate(outcomes)}


class PolymarketExchange:
    """Markets, books, wallets, orders and trades; the seeding and settlement hooks."""

    def __init__(self) -> None:
        self.markets: dict[str, dict[str, Any]] = {}  # Gamma id -> raw market
        self.events: dict[str, dict[str, Any]] = {}  # Gamma id -> raw event (nested markets)
        self.books: dict[str, Book] = {}
        self.token_market: dict[str, str] = {}  # token -> condition id
        self.wallets: dict[str, Wallet] = {}  # API key -> wallet
        self.orders: dict[str, dict[str, Any]] = {}  # hash -> OpenOrder (+ "owner")
        self.trades: dict[str, dict[str, Any]] = {}
        self.trade_status = "TRADE_STATUS_MATCHED"  # status of new trades
        self.v3_tokens: set[str] = set()  # protocol-V2 position ids (ExchangeV3)

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
        version: str = "v1",
    ) -> FakeMarket:
        """``version="v2"``: a protocol-V2 market, traded by its ``positionIds`` (an
        array) on ExchangeV3; it also carries CTF ``clobTokenIds`` that are not traded."""
        outcomes = list(outcomes)
        digest = hashlib.sha256(market_id.encode()).hexdigest()
        cid = "0x" + digest

        def ids(kind: str) -> dict[str, str]:
            return {
                o: str(int(hashlib.sha256(f"{kind}{market_id}:{o}".encode()).hexdigest(), 16))
                for o in outcomes
            }

        ctf = ids("")
        tokens = v2_position_ids(market_id, outcomes, neg_risk) if version == "v2" else ctf
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
            "clobTokenIds": json.dumps(list(ctf.values())),
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
            "version": version,
        }
        if version == "v2":
            raw["positionIds"] = list(tokens.values())
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
        tokens = self._traded_ids(raw)
        if raw.get("version") == "v2":
            self.v3_tokens.update(tokens)
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

    # ------------------------------------------------------------ trades and books

    def settle_trades(self, status: str, trade_ids: Iterable[str] | None = None) -> None:
        """Move trades to MINED, CONFIRMED or FAILED (a FAILED trade is reverted)."""
        for tid in trade_ids if trade_ids is not None else list(self.trades):
            trade = self.trades[tid]
            if trade["status"] == "TRADE_STATUS_FAILED":
                continue
            trade["status"] = f"TRADE_STATUS_{status}"
            if status == "FAILED":
                self._revert(trade)

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

    @staticmethod
    def _traded_ids(raw: dict[str, Any]) -> list[str]:
        """The ids the CLOB trades a market by: ``positionIds`` for protocol v2."""
        ids = raw.get("positionIds" if raw.get("version") == "v2" else "clobTokenIds")
        return list(json.loads(ids) if isinstance(ids, str) else ids or [])

    def _outcome(self, token: str) -> str:
        for raw in self.markets.values():
            tokens = self._traded_ids(raw)
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
        budget: Decimal | None = None,
    ) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
        """Fill ``shares`` against ``crossing``, or, for a market BUY, spend ``budget``
        pUSD: each maker level gives the shares the money buys at its price, so levels
        cheaper than the limit give surplus shares (ctf-exchange
        ``_updateTakingWithSurplus``)."""
        side, token = order["side"], order["tokenId"]
        trades, filled, paid, now = [], D(0), D(0), str(int(time.time()))
        for level in crossing:
            if budget is None:
                qty = min(level[1], shares - filled)
            else:
                qty = min(level[1], ((budget - paid) / level[0]).quantize(SHARE_UNIT, ROUND_DOWN))
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
        dust = budget - paid if budget is not None else D(0)
        if 0 < dust < D("0.000001"):  # below a base unit: the makers keep it
            wallet.balance -= dust
            paid = budget
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
