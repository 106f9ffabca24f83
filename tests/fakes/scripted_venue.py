"""A venue that answers each order as a test script says: fill, kill, or lose the
reply (with or without the order having arrived). For placer and engine tests that
need a precise outcome; the HTTP fakes cover the wire formats."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from predarb.domain import (
    Contract,
    Fill,
    Market,
    OrderBook,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Resolution,
    Venue,
    VenuePosition,
)
from predarb.venues.base import OrderStateUnknown, VenueClient

FILL = "fill"
KILL = "kill"
LOST_BUT_FILLED = "lost_but_filled"  # the order filled, the reply never came
LOST_NEVER_ARRIVED = "lost_never_arrived"  # nothing reached the venue


@dataclass
class ScriptedVenue(VenueClient):
    venue: Venue
    script: list[str] = field(default_factory=list)
    delay_s: float = 0.0
    balance: Decimal = Decimal(1000)
    placed: list[OrderRequest] = field(default_factory=list)
    known: dict[str, OrderResult] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    resolutions: dict[str, Resolution] = field(default_factory=dict)

    async def list_markets(self) -> list[Market]:
        return []

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        return {}

    async def place_order(self, order: OrderRequest) -> OrderResult:
        self.placed.append(order)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        step = self.script.pop(0) if self.script else FILL
        if step == LOST_NEVER_ARRIVED:
            raise OrderStateUnknown(self.venue, "timeout")
        if step == KILL:
            result = OrderResult(
                order.client_order_id,
                OrderStatus.CANCELED,
                "v-" + order.client_order_id,
                error_code="fill_or_kill_insufficient_resting_volume",
            )
        else:
            fee = (order.contracts * order.price * Decimal("0.01")).quantize(Decimal("0.0001"))
            fill = Fill(
                "f-" + order.client_order_id,
                order.client_order_id,
                order.contract,
                order.action,
                order.price,
                order.contracts,
                fee,
                datetime.now(UTC),
            )
            result = OrderResult(
                order.client_order_id,
                OrderStatus.FILLED,
                "v-" + order.client_order_id,
                order.contracts,
                order.price,
                fee,
                (fill,),
            )
        self.known[order.client_order_id] = result
        if step == LOST_BUT_FILLED:
            raise OrderStateUnknown(self.venue, "timeout")
        return result

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        self.lookups.append(client_order_id)
        return self.known.get(client_order_id)

    async def cancel_order(self, venue_order_id: str) -> None:
        return None

    async def get_balance(self) -> Decimal:
        return self.balance

    async def get_positions(self) -> list[VenuePosition]:
        return []

    async def get_resolution(self, market_id: str) -> Resolution | None:
        return self.resolutions.get(market_id)
