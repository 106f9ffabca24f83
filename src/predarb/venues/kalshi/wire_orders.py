"""Kalshi V2 orders and fills: domain request -> wire body, wire ack/order/fill ->
domain result. The same rules as ``wire``: strings to ``Decimal``, ``WireError`` for
anything that cannot be trusted.

V2 orders live on the YES book only (spec A.4.6):

=============  ===========  ==========
intent         ``side``     ``price``
=============  ===========  ==========
buy YES at p   ``bid``      p
sell YES at p  ``ask``      p
buy NO at q    ``ask``      1 − q
sell NO at q   ``bid``      1 − q
=============  ===========  ==========

Prices reported back (``average_fill_price``, ``yes_price_dollars``) are YES prices, so
the price of a NO contract is 1 − that. An order's ``*_fill_cost_dollars`` is what was
paid for the outcome it bought (bid buys YES, ask buys NO).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from predarb.domain import (
    CENT,
    ONE,
    ZERO,
    Action,
    Contract,
    Fill,
    OrderRequest,
    OrderResult,
    OrderStatus,
    TimeInForce,
    Venue,
)
from predarb.venues.kalshi.wire import (
    MAX_COUNT,
    PriceRange,
    WireError,
    count,
    money,
    obj,
    on_grid,
    optional,
    price,
    shard,
    text,
    timestamp,
)


def book_side(side: str, action: Action) -> str:
    buys_yes = (side == "yes") == (action is Action.BUY)
    return "bid" if buys_yes else "ask"


def yes_price(side: str, contract_price: Decimal) -> Decimal:
    return contract_price if side == "yes" else ONE - contract_price


def order_body(
    order: OrderRequest, ranges: tuple[PriceRange, ...], exchange_index: int | None = None
) -> dict[str, Any]:
    """The ``POST /portfolio/events/orders`` body; ``WireError`` if the order cannot be
    expressed exactly (off-grid price, count finer than 0.01, unsupported side). With
    the market's ``exchange_index`` the order goes straight to its shard; without it,
    Kalshi routes by ticker, at a latency cost."""
    side = order.contract.side.lower()
    if side not in ("yes", "no"):
        raise WireError(f"side: {order.contract.side!r} is not yes/no")
    p = yes_price(side, order.price)
    if not ZERO < p < ONE or not on_grid(p, ranges):
        raise WireError(f"price {order.price} is not on the market's price grid")
    if order.contracts <= 0 or order.contracts != order.contracts.quantize(CENT):
        raise WireError(f"count {order.contracts} must be positive with at most 2 decimals")
    body: dict[str, Any] = {
        "ticker": order.contract.market_id,
        "client_order_id": order.client_order_id,
        "side": book_side(side, order.action),
        "price": f"{p:.4f}",
        "count": f"{order.contracts:.2f}",
        "time_in_force": order.tif.value,
        "self_trade_prevention_type": "taker_at_cross",
    }
    if exchange_index is not None:
        body["exchange_index"] = exchange_index
    return body


@dataclass(frozen=True, slots=True)
class OrderAck:
    order_id: str
    fill_count: Decimal
    remaining_count: Decimal
    average_fill_price: Decimal  # YES price; zero when nothing filled
    average_fee_paid: Decimal  # per contract


def parse_order_ack(body: Any) -> OrderAck:
    o = obj(body, "order ack")
    filled = count(o, "fill_count")
    avg_price = optional(price, o, "average_fill_price")
    if filled > 0 and avg_price is None:
        raise WireError("average_fill_price: missing for a fill")
    return OrderAck(
        order_id=text(o, "order_id"),
        fill_count=filled,
        remaining_count=count(o, "remaining_count"),
        average_fill_price=avg_price or ZERO,
        average_fee_paid=optional(money, o, "average_fee_paid") or ZERO,
    )


def ack_result(ack: OrderAck, order: OrderRequest) -> OrderResult:
    if ack.fill_count > order.contracts:
        raise WireError(f"fill_count {ack.fill_count} exceeds the order's {order.contracts}")
    # Only a GTC order can rest; for FOK/IOC whatever did not fill at once is gone.
    resting = order.tif is TimeInForce.GTC and ack.remaining_count > 0
    if resting:
        status = OrderStatus.OPEN
    elif ack.fill_count == order.contracts:
        status = OrderStatus.FILLED
    else:
        status = OrderStatus.PARTIAL if ack.fill_count > 0 else OrderStatus.CANCELED
    filled = ack.fill_count > 0
    side = order.contract.side.lower()
    return OrderResult(
        client_order_id=order.client_order_id,
        status=status,
        venue_order_id=ack.order_id,
        filled=ack.fill_count,
        avg_price=yes_price(side, ack.average_fill_price) if filled else ZERO,
        fee=(ack.average_fee_paid * ack.fill_count).quantize(Decimal("0.000001")),
    )


@dataclass(frozen=True, slots=True)
class WireOrder:
    order_id: str
    client_order_id: str
    ticker: str
    book_side: str  # "bid" (buys YES) or "ask" (buys NO)
    status: str  # resting | canceled | executed
    limit_yes_price: Decimal
    fill_count: Decimal
    remaining_count: Decimal
    fill_cost: Decimal  # total paid, in the bought outcome's prices
    fees: Decimal
    created: datetime | None
    exchange_index: int | None = None


def _count_or_legacy(o: Mapping[str, Any], key: str) -> Decimal:
    """``<key>_fp`` (current) or the integer ``<key>`` of pre-2026-03 recordings."""
    if o.get(f"{key}_fp") is not None:
        return count(o, f"{key}_fp")
    legacy = o.get(key)
    if isinstance(legacy, int) and not isinstance(legacy, bool) and 0 <= legacy <= MAX_COUNT:
        return Decimal(legacy)
    raise WireError(f"{key}_fp: missing")


def _dollars_or_cents(o: Mapping[str, Any], key: str) -> Decimal:
    found = optional(money, o, f"{key}_dollars")
    if found is not None:
        return found
    legacy = o.get(key)
    if isinstance(legacy, int) and not isinstance(legacy, bool) and legacy >= 0:
        return Decimal(legacy) / 100
    return ZERO


def parse_order(value: Any) -> WireOrder:
    o = obj(value, "order")
    side = o.get("book_side")
    if side not in ("bid", "ask"):  # legacy objects: derive it from side + action
        legacy_side, action = o.get("side"), o.get("action")
        if legacy_side not in ("yes", "no") or action not in ("buy", "sell"):
            raise WireError("book_side: missing")
        side = book_side(legacy_side, Action(action))
    status = text(o, "status")
    if status not in ("resting", "canceled", "executed"):
        raise WireError(f"status: unknown value {status!r:.20}")
    return WireOrder(
        order_id=text(o, "order_id"),
        client_order_id=text(o, "client_order_id", required=False),
        ticker=text(o, "ticker"),
        book_side=side,
        status=status,
        limit_yes_price=price(o, "yes_price_dollars"),
        fill_count=_count_or_legacy(o, "fill_count"),
        remaining_count=_count_or_legacy(o, "remaining_count"),
        fill_cost=_dollars_or_cents(o, "taker_fill_cost") + _dollars_or_cents(o, "maker_fill_cost"),
        fees=_dollars_or_cents(o, "taker_fees") + _dollars_or_cents(o, "maker_fees"),
        created=timestamp(o, "created_time"),
        exchange_index=shard(o),
    )


def order_result(order: WireOrder, side: str | None = None) -> OrderResult:
    """``side`` is the contract the request traded (``yes``/``no``) when known; else the
    outcome the order bought (bid -> yes, ask -> no), which is right for every buy."""
    bought = "yes" if order.book_side == "bid" else "no"
    side = side or bought
    if order.status == "resting":
        status = OrderStatus.OPEN
    elif order.status == "executed":
        status = OrderStatus.FILLED
    else:
        status = OrderStatus.PARTIAL if order.fill_count > 0 else OrderStatus.CANCELED
    avg = ZERO
    if order.fill_count > 0:
        bought_price = order.fill_cost / order.fill_count
        if not ZERO <= bought_price <= ONE:
            raise WireError(f"{order.order_id}: average fill price {bought_price} out of range")
        avg = bought_price if side == bought else ONE - bought_price
    return OrderResult(
        client_order_id=order.client_order_id,
        status=status,
        venue_order_id=order.order_id,
        filled=order.fill_count,
        avg_price=avg.quantize(Decimal("0.000001")),
        fee=order.fees,
    )


def parse_fill(value: Any, client_order_id: str = "", request: OrderRequest | None = None) -> Fill:
    """A fill as the legacy ``side``/``action`` pair names it (else the bought
    ``outcome_side``), restated as the ``request``'s contract when given: buying NO at
    q is the same trade as selling YES at 1 − q."""
    o = obj(value, "fill")
    legacy_side, legacy_action = o.get("side"), o.get("action")
    if legacy_side in ("yes", "no") and legacy_action in ("buy", "sell"):
        side, action = legacy_side, Action(legacy_action)
    else:
        outcome = o.get("outcome_side")
        if outcome not in ("yes", "no"):
            raise WireError("outcome_side: missing")
        side, action = outcome, Action.BUY
    ticker = text(o, "ticker", required=False) or text(o, "market_ticker")
    ts = timestamp(o, "created_time")
    if ts is None and isinstance(o.get("ts"), int):
        ts = datetime.fromtimestamp(o["ts"], UTC)
    fill_price = price(o, f"{side}_price_dollars")
    if request is not None and request.contract.side.lower() != side:
        flipped = Action.SELL if action is Action.BUY else Action.BUY
        side, action, fill_price = request.contract.side.lower(), flipped, ONE - fill_price
    return Fill(
        fill_id=text(o, "fill_id", required=False) or text(o, "trade_id"),
        client_order_id=client_order_id,
        contract=Contract(Venue.KALSHI, ticker, side),
        action=action,
        price=fill_price,
        contracts=count(o, "count_fp"),
        fee=optional(money, o, "fee_cost") or ZERO,
        ts=ts or datetime.now(UTC),
    )


def parse_cancel(body: Any) -> Decimal:
    """The V2 cancel reply -> contracts taken off the book (``reduced_by``)."""
    o = obj(body, "cancel reply")
    text(o, "order_id")
    return count(o, "reduced_by")
