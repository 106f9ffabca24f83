"""Rows read back from the store, as typed records, and the unit conversions the
store uses at its edge (micro-dollars, fixed-width UTC timestamps)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from predarb.domain import ExecutionStatus, OrderStatus, Venue

MICRO = Decimal("0.000001")


def to_micros(amount: Decimal) -> int:
    return int((amount / MICRO).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_micros(value: int | None) -> Decimal:
    return (Decimal(value or 0) * MICRO).quantize(MICRO)


def iso(ts: datetime) -> str:
    """Fixed-width UTC text, so timestamps compare correctly as strings in SQL."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    client_order_id: str
    execution_id: str
    role: str  # leg | hedge | unwind
    leg_index: int
    venue: Venue
    market_id: str
    side: str
    token_id: str
    world: str
    action: str
    tif: str
    price: Decimal
    contracts: Decimal
    status: OrderStatus
    venue_order_id: str
    filled: Decimal
    avg_price: Decimal
    fee: Decimal
    error_code: str
    error: str
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None = None  # when the venue's answer was recorded


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    id: str
    pair_id: str
    event: str
    kind: str
    mode: str
    status: ExecutionStatus
    contracts: Decimal
    expected_cost: Decimal
    expected_fees: Decimal
    expected_profit: Decimal
    roi_pct: Decimal
    created_at: datetime
    finished_at: datetime | None
    unhedged_ms: int | None
    settled_at: datetime | None
    payout: Decimal | None
    realized_pnl: Decimal | None
    resolution: str
    note: str
    orders: tuple[OrderRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class Holding:
    """What an execution holds of one contract, from its fills."""

    execution_id: str
    venue: Venue
    market_id: str
    side: str
    token_id: str
    contracts: Decimal  # bought minus sold
    cost: Decimal  # money paid for buys minus money received for sells
    fees: Decimal
