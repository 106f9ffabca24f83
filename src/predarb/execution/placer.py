"""The placer: every leg of an approved opportunity, sent at the same moment.

Order of work, so that a crash or a lost reply never leads to a duplicate order:
1. the execution and its orders, each with a fresh client order id, are written to
   SQLite and committed (write-ahead);
2. all legs go out together (``asyncio.gather``) as fill-or-kill limit orders at the
   prices the calculator saw;
3. a leg whose reply was lost is looked up by its client order id, never resent;
4. every answer and fill is recorded, and the execution classified:
   SUCCESS (every leg filled), FAILED (none), PARTIAL (some: exposure).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from predarb.domain import (
    ZERO,
    Action,
    ExecutionStatus,
    Opportunity,
    OrderRequest,
    OrderResult,
    OrderStatus,
    TimeInForce,
    Venue,
)
from predarb.store import Store
from predarb.venues.base import OrderStateUnknown, VenueClient, VenueError

log = logging.getLogger(__name__)

LOOKUP_ATTEMPTS = 4
LOOKUP_DELAY_S = 0.25


def new_client_order_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class PlacedLeg:
    order: OrderRequest
    world: str
    result: OrderResult
    sent_ns: int  # monotonic time the order was handed to the venue adapter
    answered_ns: int


@dataclass(frozen=True, slots=True)
class Placement:
    execution_id: str
    status: ExecutionStatus
    legs: tuple[PlacedLeg, ...]

    @property
    def leg_skew_ns(self) -> int:
        sent = [leg.sent_ns for leg in self.legs]
        return max(sent) - min(sent) if sent else 0


def classify(opp_contracts: Decimal, results: list[OrderResult]) -> ExecutionStatus:
    filled = [r.filled for r in results]
    if all(f >= opp_contracts for f in filled):
        return ExecutionStatus.SUCCESS
    if all(f == ZERO for f in filled) and all(r.status.final for r in results):
        return ExecutionStatus.FAILED
    return ExecutionStatus.PARTIAL


async def resolve_unknown(venue: VenueClient, order: OrderRequest) -> OrderResult:
    """After a lost reply: ask the venue what became of the order, a few times, since a
    late order may still appear. Absent on every lookup means it never arrived: it is
    recorded as cancelled, and never resent."""
    last: OrderResult | None = None
    for attempt in range(LOOKUP_ATTEMPTS):
        if attempt:
            await asyncio.sleep(LOOKUP_DELAY_S * attempt)
        try:
            last = await venue.get_order(order.client_order_id)
        except VenueError as exc:
            log.warning("lookup of %s failed: %s", order.client_order_id, exc)
            last = OrderResult(order.client_order_id, OrderStatus.UNKNOWN)
            continue
        if last is not None and last.status.final:
            return last
    if last is None:
        return OrderResult(
            order.client_order_id,
            OrderStatus.CANCELED,
            error_code="not_found_after_timeout",
            error="no reply, and the venue has no such order",
        )
    return OrderResult(
        order.client_order_id,
        OrderStatus.UNKNOWN,
        venue_order_id=last.venue_order_id,
        filled=last.filled,
        avg_price=last.avg_price,
        fee=last.fee,
        fills=last.fills,
        error_code="unknown_after_timeout",
        error="no reply and the lookup did not settle it",
    )


class Placer:
    def __init__(
        self,
        store: Store,
        venues: Mapping[Venue, VenueClient],
        *,
        mode: str,
        clock: Callable[[], datetime],
        tif: TimeInForce = TimeInForce.FOK,
    ) -> None:
        self.store = store
        self.venues = venues
        self.mode = mode
        self.clock = clock
        self.tif = tif

    def orders_for(self, opp: Opportunity) -> list[tuple[OrderRequest, str]]:
        return [
            (
                OrderRequest(
                    client_order_id=new_client_order_id(),
                    contract=leg.contract,
                    action=Action.BUY,
                    price=leg.price,
                    contracts=opp.contracts,
                    tif=self.tif,
                ),
                leg.world,
            )
            for leg in opp.legs
        ]

    async def execute(self, opp: Opportunity) -> Placement:
        execution_id = str(uuid.uuid4())
        orders = self.orders_for(opp)
        await self.store.create_execution(execution_id, opp, self.mode, orders, self.clock())
        await self.store.mark_sent([o.client_order_id for o, _ in orders], self.clock())
        placed = await asyncio.gather(*(self._send(order, world) for order, world in orders))
        now = self.clock()
        for leg in placed:
            await self.store.record_result(execution_id, leg.result, now)
        status = classify(opp.contracts, [leg.result for leg in placed])
        await self.store.set_status(execution_id, status, now)
        log.info(
            "execution %s %s",
            execution_id,
            status.value,
            extra={"execution": execution_id, "pair": opp.pair_id, "event": opp.event},
        )
        return Placement(execution_id, status, tuple(placed))

    async def _send(self, order: OrderRequest, world: str) -> PlacedLeg:
        venue = self.venues[order.contract.venue]
        sent = time.monotonic_ns()
        try:
            result = await venue.place_order(order)
        except OrderStateUnknown as exc:
            log.warning("order %s: %s; looking it up", order.client_order_id, exc)
            result = await resolve_unknown(venue, order)
        except VenueError as exc:
            result = OrderResult(
                order.client_order_id,
                OrderStatus.REJECTED,
                error_code=exc.code or type(exc).__name__,
                error=exc.message,
            )
        return PlacedLeg(order, world, result, sent, time.monotonic_ns())
