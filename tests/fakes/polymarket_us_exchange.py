"""The matching engine and accounts of the fake Polymarket US exchange (no I/O).

Rules it applies, as docs.polymarket.us states them:
- one instrument per market, its long (YES) side; every order price is a long-side
  price (buying NO at 0.40 is ``BUY_SHORT`` at 0.60);
- ``BUY_LONG`` and ``SELL_SHORT`` buy the long side (take offers at or under the
  limit); ``SELL_LONG`` and ``BUY_SHORT`` sell it (hit bids at or over the limit);
- FOK fills all or nothing, IOC fills what it can and cancels the rest;
- prices on the market's tick grid, quantities whole, at least ``minimumTradeQty``
  and a multiple of it;
- taker fee per fill: ``feeCoefficient × contracts × price`` for a buyer of the long
  side, ``× (1 − price)`` for a seller, rounded to the cent half to even;
- settlement pays $1 a contract to the winning side (``settle``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

ONE = Decimal(1)
CENT = Decimal("0.01")
BUYS_LONG = {"ORDER_INTENT_BUY_LONG", "ORDER_INTENT_SELL_SHORT"}
INTENTS = BUYS_LONG | {"ORDER_INTENT_SELL_LONG", "ORDER_INTENT_BUY_SHORT"}
TIFS = {"TIME_IN_FORCE_FILL_OR_KILL", "TIME_IN_FORCE_IMMEDIATE_OR_CANCEL"}


class Refusal(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        self.message = message
        self.status = status
        super().__init__(message)


def amount(d: Decimal) -> dict[str, str]:
    return {"value": str(d), "currency": "USD"}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeMarket:
    slug: str
    title: str
    long_label: str = "Yes"
    short_label: str = "No"
    event_slug: str = ""
    category: str = "sports"
    tick: Decimal = CENT
    min_qty: Decimal = ONE
    fee_coefficient: Decimal | None = Decimal("0.003")
    status: str = "MARKET_STATUS_OPEN"
    bids: list[list[Decimal]] = field(default_factory=list)  # [price, qty], long side
    offers: list[list[Decimal]] = field(default_factory=list)
    settlement: Decimal | None = None
    description: str = ""
    game_start: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": abs(hash(self.slug)) % 10**6,
            "slug": self.slug,
            "question": self.title,
            "title": self.title,
            "description": self.description,
            "eventSlug": self.event_slug,
            "category": self.category,
            "active": self.status == "MARKET_STATUS_OPEN",
            "closed": self.status != "MARKET_STATUS_OPEN",
            "archived": False,
            "status": self.status,
            "orderPriceMinTickSize": float(self.tick),
            "minimumTradeQty": float(self.min_qty),
            "marketSides": [
                {"id": "1", "description": self.long_label, "long": True, "tradable": True},
                {"id": "2", "description": self.short_label, "long": False, "tradable": True},
            ],
        }
        if self.fee_coefficient is not None:
            out["feeCoefficient"] = float(self.fee_coefficient)
        if self.game_start:
            out["gameStartTime"] = self.game_start
        return out


@dataclass
class FakeOrder:
    id: str
    slug: str
    intent: str
    price: Decimal
    quantity: Decimal
    tif: str
    created: float
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)  # long-side notional of the fills
    commission: Decimal = Decimal(0)
    state: str = "ORDER_STATE_NEW"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "marketSlug": self.slug,
            "side": "ORDER_SIDE_BUY" if self.intent in BUYS_LONG else "ORDER_SIDE_SELL",
            "type": "ORDER_TYPE_LIMIT",
            "price": amount(self.price),
            "quantity": int(self.quantity),
            "cumQuantity": int(self.filled),
            "leavesQuantity": int(self.quantity - self.filled),
            "tif": self.tif,
            "intent": self.intent,
            "state": self.state,
            "createTime": iso(self.created),
            "commissionNotionalTotalCollected": amount(self.commission),
        }
        if self.filled:
            out["avgPx"] = amount((self.cost / self.filled).quantize(Decimal("0.0001")))
        return out


@dataclass
class Trade:
    id: str
    order_id: str
    slug: str
    price: Decimal  # long side
    qty: Decimal
    commission: Decimal
    ts: float


def fee(coefficient: Decimal, qty: Decimal, long_price: Decimal, buys_long: bool) -> Decimal:
    notional = qty * (long_price if buys_long else ONE - long_price)
    return (coefficient * notional).quantize(CENT, rounding=ROUND_HALF_EVEN)


class USExchange:
    def __init__(self) -> None:
        self.markets: dict[str, FakeMarket] = {}
        self.orders: dict[str, FakeOrder] = {}
        self.trades: list[Trade] = []
        self.positions: dict[str, Decimal] = {}  # slug -> net (long > 0)
        self.costs: dict[str, Decimal] = {}
        self.balance = Decimal(1000)
        self._ids = itertools.count(1)
        self.fee_skew = Decimal(0)  # added to every commission: a venue charging other fees
        self.busted: set[str] = set()  # trade ids the exchange broke (TRADE_STATE_BUSTED)

    def place(
        self, body: dict[str, Any], now: float, *, rest: bool = False
    ) -> tuple[FakeOrder, list[Trade]]:
        """Match an order; with ``rest`` it is accepted and left on the book unmatched
        (``ORDER_STATE_NEW``), as an order the matching engine has not executed yet."""
        slug, intent, tif = body.get("marketSlug"), body.get("intent"), body.get("tif")
        market = self.markets.get(str(slug))
        if market is None:
            raise Refusal(f"unknown market {slug}", 404)
        if market.status != "MARKET_STATUS_OPEN":
            raise Refusal("market is not open")
        if intent not in INTENTS:
            raise Refusal(f"bad intent {intent}")
        if body.get("type") != "ORDER_TYPE_LIMIT" or tif not in TIFS:
            raise Refusal("only limit FOK/IOC orders in this fake")
        price_obj = body.get("price")
        if not isinstance(price_obj, dict) or price_obj.get("currency") != "USD":
            raise Refusal("price must be an amount in USD")
        price = Decimal(str(price_obj.get("value")))
        if not (0 < price < 1) or price % market.tick != 0:
            raise Refusal(f"price {price} is not on the {market.tick} tick")
        block = body.get("maxBlockTime")
        if block is not None and not (isinstance(block, str) and block.isdigit()):
            # docs.polymarket.us: "Maximum block time in seconds"; the SDK types it str.
            raise Refusal(f"maxBlockTime {block!r}: whole seconds as a string")
        qty_raw = body.get("quantity")
        if isinstance(qty_raw, bool) or not isinstance(qty_raw, int | float):
            raise Refusal("quantity must be a number")
        qty = Decimal(str(qty_raw))
        if qty < market.min_qty or qty % market.min_qty != 0 or qty != qty.to_integral_value():
            raise Refusal(f"quantity {qty}: at least and a multiple of {market.min_qty}")
        order = FakeOrder(
            f"ord-{next(self._ids)}", market.slug, str(intent), price, qty, str(tif), now
        )
        self.orders[order.id] = order
        if rest:
            return order, []
        buys_long = order.intent in BUYS_LONG
        ladder = market.offers if buys_long else market.bids
        crossing = [
            lv
            for lv in sorted(ladder, key=lambda lv: lv[0] if buys_long else -lv[0])
            if (lv[0] <= price if buys_long else lv[0] >= price)
        ]
        available = sum((lv[1] for lv in crossing), Decimal(0))
        if tif == "TIME_IN_FORCE_FILL_OR_KILL" and available < qty:
            order.state = "ORDER_STATE_CANCELED"
            return order, []
        coef = market.fee_coefficient or Decimal(0)
        plan, left = [], qty
        for level in crossing:
            if left <= 0:
                break
            take = min(level[1], left)
            plan.append((level, take))
            left -= take
        if order.intent.startswith("ORDER_INTENT_BUY"):
            long = order.intent == "ORDER_INTENT_BUY_LONG"
            cash = sum((t * (lv[0] if long else ONE - lv[0]) for lv, t in plan), Decimal(0))
            if (
                cash + sum((fee(coef, t, lv[0], buys_long) for lv, t in plan), Decimal(0))
                > self.balance
            ):
                order.state = "ORDER_STATE_REJECTED"
                raise Refusal("insufficient buying power")
        trades = []
        for level, take in plan:
            level[1] -= take
            commission = fee(coef, take, level[0], buys_long) + self.fee_skew
            trade = Trade(
                f"trd-{next(self._ids)}", order.id, market.slug, level[0], take, commission, now
            )
            trades.append(trade)
            self._book_trade(order, trade, buys_long)
        ladder[:] = [lv for lv in ladder if lv[1] > 0]
        order.state = (
            "ORDER_STATE_FILLED"
            if order.filled == qty
            else ("ORDER_STATE_PARTIALLY_FILLED" if order.filled else "ORDER_STATE_CANCELED")
        )
        if order.state == "ORDER_STATE_PARTIALLY_FILLED":
            order.state = "ORDER_STATE_CANCELED"  # IOC: the rest is cancelled
        return order, trades

    def _book_trade(self, order: FakeOrder, trade: Trade, buys_long: bool) -> None:
        own = (
            trade.price
            if order.intent in ("ORDER_INTENT_BUY_LONG", "ORDER_INTENT_SELL_LONG")
            else ONE - trade.price
        )
        pays = order.intent.startswith("ORDER_INTENT_BUY")
        cash = trade.qty * own
        self.balance += (-cash if pays else cash) - trade.commission
        net = self.positions.get(order.slug, Decimal(0))
        self.positions[order.slug] = net + (trade.qty if buys_long else -trade.qty)
        self.costs[order.slug] = self.costs.get(order.slug, Decimal(0)) + (cash if pays else -cash)
        order.filled += trade.qty
        order.cost += trade.qty * trade.price
        order.commission += trade.commission
        self.trades.append(trade)

    def manual_trade(self, slug: str, long_price: Decimal, qty: Decimal, now: float) -> Trade:
        """A trade of the account's owner by hand (not one of the bot's orders): it
        shows among the account's trades like any other."""
        trade = Trade(f"trd-{next(self._ids)}", "manual", slug, long_price, qty, Decimal(0), now)
        self.trades.append(trade)
        return trade

    def settle(self, slug: str, long_payout: Decimal) -> Decimal:
        """Resolve ``slug``: each long contract pays ``long_payout``, each short
        ``1 − long_payout``; the money goes to the balance at once. Returns it."""
        market = self.markets[slug]
        market.settlement = long_payout
        market.status = "MARKET_STATUS_SETTLED"
        net = self.positions.pop(slug, Decimal(0))
        self.costs.pop(slug, None)
        paid = net * long_payout if net > 0 else -net * (ONE - long_payout)
        self.balance += paid
        return paid
