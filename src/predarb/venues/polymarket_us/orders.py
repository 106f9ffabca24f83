"""Orders of Polymarket US: what is sent, and what its answer means. No I/O.

An order is a limit order with ``FILL_OR_KILL`` or ``IMMEDIATE_OR_CANCEL`` and
synchronous execution, so the reply carries its executions (the fills and the
commission of each). The price sent is the long side's (``intents.long_side_price``);
the quantity is whole contracts, at least the market's ``minimumTradeQty`` and a
multiple of it; the price lies on the market's ``orderPriceMinTickSize`` grid. There is
no idempotency key: an order whose answer is lost is found again by lookup, never sent
twice.

Every fill's commission is checked against the market's ``feeCoefficient``: a
difference is a ``FeeMismatch`` (the adapter reports it; trading on the venue stops).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from predarb.arbitrage.fees import trade_fee
from predarb.domain import (
    ZERO,
    Fill,
    Market,
    OrderRequest,
    OrderResult,
    OrderStatus,
    TimeInForce,
    Venue,
)
from predarb.venues.polymarket_us.intents import Intent, intent_for, long_side_price
from predarb.venues.polymarket_us.wire import WireExecution, WireOrder, WireTrade

TIF = {
    TimeInForce.FOK: "TIME_IN_FORCE_FILL_OR_KILL",
    TimeInForce.IOC: "TIME_IN_FORCE_IMMEDIATE_OR_CANCEL",
    TimeInForce.GTC: "TIME_IN_FORCE_GOOD_TILL_CANCEL",
}
FILL_KINDS = {"EXECUTION_TYPE_FILL", "EXECUTION_TYPE_PARTIAL_FILL"}
OPEN_STATES = {
    "ORDER_STATE_NEW",
    "ORDER_STATE_PENDING_NEW",
    "ORDER_STATE_PARTIALLY_FILLED",
    "ORDER_STATE_PENDING_REPLACE",
    "ORDER_STATE_PENDING_CANCEL",
    "ORDER_STATE_PENDING_RISK",
}
REJECTED_LOCALLY = "rejected_locally"


@dataclass(frozen=True, slots=True)
class FeeMismatch:
    """A fill whose reported commission differs from the one its market's
    ``feeCoefficient`` gives."""

    client_order_id: str
    slug: str
    contracts: Decimal
    price: Decimal  # of the contract bought or sold
    expected: Decimal
    reported: Decimal
    venue: Venue = Venue.POLYMARKET_US

    def describe(self) -> str:
        return (
            f"polymarket_us fee mismatch on {self.slug}: {self.contracts} @ {self.price} "
            f"charged ${self.reported}, the fee coefficient gives ${self.expected}"
        )


def refusal(order: OrderRequest, market: Market | None) -> str:
    """Why the exchange would certainly refuse ``order`` (empty when it may be sent)."""
    if market is None:
        return f"unknown market {order.contract.market_id}"
    if order.tif not in (TimeInForce.FOK, TimeInForce.IOC):
        return f"time in force {order.tif.value} is not sent by predarb"
    tick = market.tick_size
    if not (ZERO < order.price < 1) or (tick > 0 and order.price % tick != 0):
        return f"price {order.price} is not on the {tick} grid"
    lot = market.min_order_size
    if order.contracts != order.contracts.to_integral_value():
        return f"{order.contracts} contracts: whole contracts only"
    if order.contracts < lot or (lot > 0 and order.contracts % lot != 0):
        return f"{order.contracts} contracts: at least and a multiple of {lot}"
    return ""


def order_body(order: OrderRequest, max_block_s: float) -> dict[str, Any]:
    intent = intent_for(order.action, order.contract)
    return {
        "marketSlug": order.contract.market_id,
        "intent": intent.value,
        "type": "ORDER_TYPE_LIMIT",
        "price": {"value": str(long_side_price(intent, order.price)), "currency": "USD"},
        "quantity": int(order.contracts),
        "tif": TIF[order.tif],
        "manualOrderIndicator": "MANUAL_ORDER_INDICATOR_AUTOMATIC",
        "synchronousExecution": True,
        "maxBlockTime": str(int(max_block_s)),
    }


def fills_of(
    order: OrderRequest, executions: list[WireExecution], now: datetime
) -> tuple[Fill, ...]:
    intent = intent_for(order.action, order.contract)
    return tuple(
        Fill(
            fill_id=e.trade_id or e.execution_id,
            client_order_id=order.client_order_id,
            contract=order.contract,
            action=order.action,
            price=long_side_price(intent, e.long_price),
            contracts=e.shares,
            fee=e.commission,
            ts=e.ts or now,
        )
        for e in executions
        if e.kind in FILL_KINDS and e.shares > 0
    )


def fee_mismatches(
    order: OrderRequest, market: Market, fills: tuple[Fill, ...]
) -> list[FeeMismatch]:
    out = []
    for f in fills:
        expected = trade_fee(market.fee, f.action, f.contracts, f.price)
        if market.fee is None or expected != f.fee:
            out.append(
                FeeMismatch(
                    order.client_order_id, market.market_id, f.contracts, f.price, expected, f.fee
                )
            )
    return out


def commission_mismatch(
    order: OrderRequest, market: Market, fills: tuple[Fill, ...], reported: Decimal
) -> list[FeeMismatch]:
    """An order's commission as the exchange reports it (read by id) against the sum
    of its fills' fees by the coefficient (each rounded as the exchange rounds)."""
    expected = sum((f.fee for f in fills), ZERO)
    if market.fee is not None and expected == reported:
        return []
    filled = sum((f.contracts for f in fills), ZERO)
    avg = sum((f.contracts * f.price for f in fills), ZERO) / filled if filled else ZERO
    return [FeeMismatch(order.client_order_id, market.market_id, filled, avg, expected, reported)]


def summarize(
    order: OrderRequest,
    order_id: str,
    fills: tuple[Fill, ...],
    *,
    rejected: str = "",
    open_: bool = False,
) -> OrderResult:
    filled = sum((f.contracts for f in fills), ZERO)
    cost = sum((f.contracts * f.price for f in fills), ZERO)
    fee = sum((f.fee for f in fills), ZERO)
    if open_:
        status = OrderStatus.OPEN
    elif filled >= order.contracts:
        status = OrderStatus.FILLED
    elif filled > 0:
        status = OrderStatus.PARTIAL
    elif rejected:
        status = OrderStatus.REJECTED
    else:
        status = OrderStatus.CANCELED  # a FOK the book could not fill, an empty IOC
    return OrderResult(
        order.client_order_id,
        status,
        venue_order_id=order_id,
        filled=filled,
        avg_price=cost / filled if filled else ZERO,
        fee=fee,
        fills=fills,
        error_code="rejected" if rejected and not filled else "",
        error=rejected if not filled else "",
    )


def from_reply(
    order: OrderRequest, order_id: str, executions: list[WireExecution], now: datetime
) -> OrderResult:
    fills = fills_of(order, executions, now)
    rejected = next(
        (e.reject_reason or "rejected" for e in executions if e.kind == "EXECUTION_TYPE_REJECTED"),
        "",
    )
    return summarize(order, order_id, fills, rejected=rejected)


def from_order(
    client_order_id: str, wo: WireOrder, fills: tuple[Fill, ...] = ()
) -> tuple[OrderStatus, Decimal, Decimal]:
    """An order snapshot's status, filled count and own-side average price."""
    if wo.state in OPEN_STATES:
        status = OrderStatus.OPEN
    elif wo.state == "ORDER_STATE_REJECTED" and wo.filled == 0:
        status = OrderStatus.REJECTED
    elif wo.filled >= wo.quantity > 0:
        status = OrderStatus.FILLED
    elif wo.filled > 0:
        status = OrderStatus.PARTIAL
    else:
        status = OrderStatus.CANCELED
    avg = long_side_price(wo.intent, wo.avg_long_price) if wo.filled else ZERO
    return status, wo.filled, avg


def fills_from_trades(
    order: OrderRequest, trades: list[WireTrade], market: Market | None, now: datetime
) -> tuple[Fill, ...]:
    """Fills rebuilt from the account's trades (after a lost answer), up to the
    order's quantity; their fee is the coefficient's (trades carry none)."""
    intent: Intent = intent_for(order.action, order.contract)
    out: list[Fill] = []
    left = order.contracts
    for t in trades:
        if left <= 0:
            break
        take = min(t.shares, left)
        own = long_side_price(intent, t.long_price)
        fee = trade_fee(market.fee if market else None, order.action, take, own)
        out.append(
            Fill(
                t.trade_id,
                order.client_order_id,
                order.contract,
                order.action,
                own,
                take,
                fee,
                t.ts or now,
            )
        )
        left -= take
    return tuple(out)
