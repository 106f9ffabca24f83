"""The placer: every leg of an approved opportunity, sent at the same moment.

Order of work, so that a crash or a lost reply never leads to a duplicate order:
1. the execution and its orders, each with a fresh client order id, are written to
   SQLite (write-ahead) while each venue prepares its leg (``VenueClient.prepare``:
   signed, serialized, rate-limit token taken, nothing sent);
2. in the same transaction, the id the venue will know each order by is recorded when
   the venue can say it in advance (else it comes from a lost reply), and the orders
   are marked sent; one commit, so a restart finds either nothing or orders to look
   up (never to resend). When a venue says at preparing that it would refuse a leg
   (``OrderRejected``: e.g. amounts Polymarket cannot take), no leg is sent: the
   execution is FAILED with every order recorded as refused or not sent;
3. all legs go out together (``asyncio.gather``) as fill-or-kill orders at the prices
   the calculator saw (on Kalshi a limit order for the count; on Polymarket a market
   order that spends count × price, so better prices buy surplus shares): with the
   work done in 1, only the socket writes are left between them;
4. a leg whose reply was lost is looked up, never resent;
5. every answer and its fills are recorded, and the execution classified:
   SUCCESS (every leg filled), FAILED (none), PARTIAL (some: exposure, which
   ``execution.partial.resolve_partial`` then turns into HEDGED, UNWOUND or EXPOSED).

Hedge and unwind orders go through the same ``send_one``, each after taking a slot of
its venue's order rate (``order_slot``: the engine's trading state), as the legs of an
execution took theirs before it was approved.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
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
from predarb.venues.base import OrderRejected, OrderStateUnknown, VenueClient, VenueError

log = logging.getLogger(__name__)

LOOKUP_ATTEMPTS = 4
LOOKUP_DELAY_S = 0.25
# A delayed match (Polymarket's sports taker delay, a few seconds) is waited for this
# long, asking every DELAYED_POLL_S; still held after it, the order is looked after as
# one whose fate is unknown.
DELAYED_WINDOW_S = 15.0
DELAYED_POLL_S = 0.25
NOT_SENT = "not_sent_leg_refused"  # another leg of the execution was refused at preparing


def _no_crash(point: str) -> None:
    return None


# Test hook: the crash test replaces it to SIGKILL the process at a named point.
crash_point: Callable[[str], None] = _no_crash


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
    unhedged_ms: int | None = None  # first fill to hedge/unwind done, for one-legged results

    @property
    def leg_skew_ns(self) -> int:
        sent = [leg.sent_ns for leg in self.legs]
        return max(sent) - min(sent) if sent else 0

    @property
    def first_fill_ns(self) -> int | None:
        filled = [leg.answered_ns for leg in self.legs if leg.result.filled > 0]
        return min(filled) if filled else None


def classify(opp_contracts: Decimal, results: list[OrderResult]) -> ExecutionStatus:
    filled = [r.filled for r in results]
    if all(f >= opp_contracts for f in filled):
        return ExecutionStatus.SUCCESS
    if all(f == ZERO for f in filled) and all(r.status.final for r in results):
        return ExecutionStatus.FAILED
    return ExecutionStatus.PARTIAL


async def order_news(
    venue: VenueClient, client_order_id: str, venue_order_id: str, timeout_s: float
) -> bool:
    """Wait ``timeout_s`` before the next lookup of an order, or less when the venue
    streams its orders' news (Kalshi's ``user_orders`` and ``fill`` channels): True
    when news came. The lookup after it still asks the venue."""
    wait = getattr(venue, "wait_order_news", None)
    if wait is None or timeout_s <= 0:
        await asyncio.sleep(max(timeout_s, 0))
        return False
    return bool(await wait(client_order_id, venue_order_id, timeout_s))


async def resolve_unknown(
    venue: VenueClient, order: OrderRequest, venue_order_id: str = ""
) -> OrderResult:
    """After a lost reply: ask the venue what became of the order, a few times, since it
    often shows at once. Absent on every lookup proves nothing (an order may reach the
    venue many seconds late): it stays UNKNOWN, never resent, and
    ``execution.unknown.UnknownOrders`` keeps looking."""
    last: OrderResult | None = None
    for attempt in range(LOOKUP_ATTEMPTS):
        if attempt:
            vid = last.venue_order_id if last is not None else venue_order_id
            await order_news(venue, order.client_order_id, vid, LOOKUP_DELAY_S * attempt)
        try:
            last = await venue.get_order(order.client_order_id, venue_order_id)
        except VenueError as exc:
            log.warning("lookup of %s failed: %s", order.client_order_id, exc)
            last = OrderResult(order.client_order_id, OrderStatus.UNKNOWN, venue_order_id)
            continue
        if last is not None and last.status.final:
            return replace(last, client_order_id=order.client_order_id)
    if last is None:
        return OrderResult(
            order.client_order_id,
            OrderStatus.UNKNOWN,
            venue_order_id=venue_order_id,
            error_code="not_found_yet",
            error="no reply, and the venue does not show it yet",
        )
    return OrderResult(
        order.client_order_id,
        OrderStatus.UNKNOWN,
        venue_order_id=last.venue_order_id or venue_order_id,
        filled=last.filled,
        avg_price=last.avg_price,
        fee=last.fee,
        fills=last.fills,
        error_code="unknown_after_timeout",
        error="no reply and the lookup did not settle it",
    )


async def resolve_delayed(
    venue: VenueClient, order: OrderRequest, result: OrderResult, window_s: float
) -> OrderResult:
    """An order the venue accepted with its match held back: asked after until it is
    filled or killed. Neither hedged nor resent meanwhile; still held after
    ``window_s`` it becomes UNKNOWN (``delayed_unresolved``), which keeps it blocked and
    looked up by ``execution.unknown.UnknownOrders``."""
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline:
        await asyncio.sleep(DELAYED_POLL_S)
        try:
            looked = await venue.get_order(order.client_order_id, result.venue_order_id)
        except VenueError as exc:
            log.warning("lookup of delayed %s failed: %s", order.client_order_id, exc)
            continue
        if looked is not None and looked.status.final:
            return replace(looked, client_order_id=order.client_order_id)
    return replace(
        result,
        status=OrderStatus.UNKNOWN,
        error_code="delayed_unresolved",
        error=f"the venue still held its match after {window_s:.0f} s",
    )


def _fill_total(result: OrderResult) -> Decimal:
    return sum((f.contracts for f in result.fills), ZERO)


async def with_fills(venue: VenueClient, result: OrderResult) -> OrderResult:
    """The result with its fills: some venues answer an order with its filled amount
    only. Asked by venue id first (which works after a restart), then by client id."""
    if result.filled <= _fill_total(result):
        return result
    try:
        looked = await venue.get_order(result.client_order_id, result.venue_order_id)
        fills = list(looked.fills) if looked else []
        if sum((f.contracts for f in fills), ZERO) < result.filled:
            fills = await venue.get_fills(result.client_order_id)
    except VenueError as exc:
        log.warning("fills of %s unavailable: %s", result.client_order_id, exc)
        return result
    if sum((f.contracts for f in fills), ZERO) < result.filled:
        log.warning("fills of %s incomplete", result.client_order_id, extra={"n": len(fills)})
    return replace(result, fills=tuple(fills)) if fills else result


class Placer:
    def __init__(
        self,
        store: Store,
        venues: Mapping[Venue, VenueClient],
        *,
        mode: str,
        clock: Callable[[], datetime],
        tif: TimeInForce = TimeInForce.FOK,
        delayed_window_s: float = DELAYED_WINDOW_S,
    ) -> None:
        self.store = store
        self.delayed_window_s = delayed_window_s
        self.venues = venues
        self.mode = mode
        self.clock = clock
        self.tif = tif
        # Waits for a slot of the venue's order rate before a hedge or unwind is sent.
        self.order_slot: Callable[[Venue], Awaitable[None]] | None = None

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
        requests = [order for order, _ in orders]
        # One commit and one trip to the database's thread: every SQLite hop costs.
        async with self.store.transaction(batch=True):
            _, known = await asyncio.gather(
                self.store.create_execution(execution_id, opp, self.mode, orders, self.clock()),
                self._prepare(requests),
            )
            refused = any(isinstance(k, OrderResult) for k in known)
            if not refused:
                await self._announce(requests, [k for k in known if isinstance(k, str)])
        if refused:
            return await self._refuse(execution_id, orders, known)
        crash_point("after_write_ahead")
        crash_point("after_mark_sent")
        placed = await self._send_all(orders)
        crash_point("after_all_answered")
        for n, leg in enumerate(placed):
            await self.store.record_result(execution_id, leg.result, self.clock())
            crash_point(f"after_result_recorded:{n}")
        status = classify(opp.contracts, [leg.result for leg in placed])
        extra = [
            f"{leg.result.filled - leg.order.contracts} of {leg.order.contract.key}"
            for leg in placed
            if leg.order.action is Action.BUY and leg.result.filled > leg.order.contracts
        ]
        note = f"surplus shares from better prices: {', '.join(extra)}" if extra else ""
        await self.store.set_status(execution_id, status, self.clock(), note=note)
        log.info(
            "execution %s %s",
            execution_id,
            status.value,
            extra={"execution": execution_id, "pair": opp.pair_id, "event": opp.event},
        )
        return Placement(execution_id, status, tuple(placed))

    async def send_one(
        self, execution_id: str, order: OrderRequest, role: str, leg_index: int, world: str
    ) -> PlacedLeg:
        """A hedge or unwind order: written ahead, sent, its answer recorded."""
        if self.order_slot is not None:
            await self.order_slot(order.contract.venue)
        await self.store.add_order(execution_id, order, role, leg_index, world, self.clock())
        [known] = await self._prepare([order])
        if isinstance(known, OrderResult):  # refused before sending: nothing went out
            now = time.monotonic_ns()
            leg = PlacedLeg(order, world, known, now, now)
            await self.store.record_result(execution_id, known, self.clock())
            return leg
        await self._announce([order], [known])
        crash_point(f"{role}_announced")
        leg = await self._send(order, world)
        await self.store.record_result(execution_id, leg.result, self.clock())
        crash_point(f"after_{role}_recorded")
        return leg

    async def _prepare(self, orders: list[OrderRequest]) -> list[str | OrderResult]:
        """Each venue readies its order (nothing is sent) and says the id it will know
        the order by, or, for an order it would refuse, the refusal. A venue that cannot
        prepare one answers it at sending instead."""

        async def one(order: OrderRequest) -> str | OrderResult:
            try:
                return await self.venues[order.contract.venue].prepare(order)
            except OrderRejected as exc:
                log.warning("order %s refused before sending: %s", order.client_order_id, exc)
                return OrderResult(
                    order.client_order_id,
                    OrderStatus.REJECTED,
                    error_code=exc.code or "refused",
                    error=exc.message,
                )
            except VenueError as exc:
                log.warning("order %s not prepared: %s", order.client_order_id, exc)
                return order.client_order_id

        return list(await asyncio.gather(*(one(order) for order in orders)))

    async def _refuse(
        self,
        execution_id: str,
        orders: list[tuple[OrderRequest, str]],
        known: list[str | OrderResult],
    ) -> Placement:
        """Some leg would be refused: none is sent, and the execution fails at once."""
        placed = []
        now = time.monotonic_ns()
        for (order, world), k in zip(orders, known, strict=True):
            result = (
                k
                if isinstance(k, OrderResult)
                else OrderResult(
                    order.client_order_id,
                    OrderStatus.CANCELED,
                    error_code=NOT_SENT,
                    error="not sent: another leg was refused before sending",
                )
            )
            await self.store.record_result(execution_id, result, self.clock())
            placed.append(PlacedLeg(order, world, result, now, now))
        reasons = "; ".join(
            f"{r.result.error_code}: {r.result.error}"
            for r in placed
            if r.result.error_code != NOT_SENT
        )
        await self.store.set_status(
            execution_id, ExecutionStatus.FAILED, self.clock(), note=f"nothing sent: {reasons}"
        )
        log.warning("execution %s refused before sending: %s", execution_id, reasons)
        return Placement(execution_id, ExecutionStatus.FAILED, tuple(placed))

    async def _announce(self, orders: list[OrderRequest], known: list[str]) -> None:
        """Record the id each venue will know the order by (when it could say so before
        the order is sent) and mark the orders sent, in one transaction (or the caller's):
        after this a restart looks them up instead of assuming they never left."""
        now = self.clock()
        async with self.store.transaction():
            for order, venue_id in zip(orders, known, strict=True):
                if venue_id and venue_id != order.client_order_id:
                    await self.store.set_venue_order_id(order.client_order_id, venue_id, now)
            await self.store.mark_sent([o.client_order_id for o in orders], now)

    async def _send_all(self, orders: list[tuple[OrderRequest, str]]) -> list[PlacedLeg]:
        """Every leg at the same moment; a venue with several legs (an n-way basket)
        gets them in one call, which leaves as one request where it has a batch endpoint."""
        by_venue: dict[Venue, list[int]] = {}
        for n, (order, _) in enumerate(orders):
            by_venue.setdefault(order.contract.venue, []).append(n)
        placed: dict[int, PlacedLeg] = {}

        async def group(indices: list[int]) -> None:
            batch = [orders[n] for n in indices]
            legs = [await self._send(*batch[0])] if len(batch) == 1 else await self._batch(batch)
            placed.update(zip(indices, legs, strict=True))

        await asyncio.gather(*(group(indices) for indices in by_venue.values()))
        return [placed[n] for n in range(len(orders))]

    async def _send(self, order: OrderRequest, world: str) -> PlacedLeg:
        venue = self.venues[order.contract.venue]
        sent = time.monotonic_ns()
        answer: OrderResult | VenueError
        try:
            answer = await venue.place_order(order)
        except VenueError as exc:
            answer = exc
        return await self._answered(venue, order, world, answer, sent)

    async def _batch(self, orders: list[tuple[OrderRequest, str]]) -> list[PlacedLeg]:
        venue = self.venues[orders[0][0].contract.venue]
        sent = time.monotonic_ns()
        answers = await venue.place_orders([order for order, _ in orders])
        return list(
            await asyncio.gather(
                *(
                    self._answered(venue, order, world, answer, sent)
                    for (order, world), answer in zip(orders, answers, strict=True)
                )
            )
        )

    async def _answered(
        self,
        venue: VenueClient,
        order: OrderRequest,
        world: str,
        answer: OrderResult | VenueError,
        sent: int,
    ) -> PlacedLeg:
        """The leg as the venue's answer leaves it: a lost reply looked up (never resent),
        a delayed match waited for, its fills attached."""
        if isinstance(answer, OrderStateUnknown):
            known = str(getattr(answer, "venue_order_id", "") or "")
            if known:
                await self.store.set_venue_order_id(order.client_order_id, known, self.clock())
            log.warning("order %s: %s; looking it up", order.client_order_id, answer)
            result = await resolve_unknown(venue, order, known)
        elif isinstance(answer, VenueError):
            result = OrderResult(
                order.client_order_id,
                OrderStatus.REJECTED,
                error_code=answer.code or type(answer).__name__,
                error=answer.message,
            )
        else:
            result = answer
        if result.status is OrderStatus.DELAYED:
            result = await resolve_delayed(venue, order, result, self.delayed_window_s)
        answered = time.monotonic_ns()
        crash_point(f"answered:{venue.venue.value}")
        result = await with_fills(venue, result)
        return PlacedLeg(order, world, result, sent, answered)
