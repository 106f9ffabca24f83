"""Orders whose fate is unknown stay unknown until a venue says what became of them.

A reply that never came (a timeout, a reset connection, an unreadable answer) may hide
an order that reaches the venue's matching engine many seconds later. So "not found"
soon after sending proves nothing: the order stays UNKNOWN, its execution EXPOSED
(which blocks its event, and lets no hedge or unwind buy that leg again), the chat is
told, and ``UnknownOrders`` keeps looking it up (by client order id, through the venue
interface, which knows where to look) over ``window_s``. Once every order of the
execution is known, the execution is finished like any other (``resolve_partial``:
nothing to do, hedge, unwind, or EXPOSED) and announced as what it became. Only an
order the venue has never heard of for the whole window is taken as never arrived.

``look_up`` is shared with start-up recovery: one rule for a lost reply, before or
after a restart.

This happens after the execution's reservation is released, beside the executions in
flight: the money the order may have spent stays held while it is followed, and a
hedge after it spends only what the trading state grants (``FollowUpMoney``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from predarb.domain import Contract, FeeSchedule, OrderResult, OrderStatus
from predarb.execution.hedging import HedgePolicy
from predarb.execution.partial import Funds, resolve_partial
from predarb.execution.placer import Placer, order_news, with_fills
from predarb.notify import messages
from predarb.notify.base import Alert
from predarb.store.records import ExecutionRecord, OrderRecord
from predarb.venues.base import VenueError

log = logging.getLogger(__name__)

WINDOW_S = 300.0  # how long after sending an order the venue does not know may turn up
NOT_FOUND_AFTER_WINDOW = "not_found_after_window"


def lookup_delay_s(elapsed_s: float) -> float:
    """Often while a late order is likeliest, then less and less (the venues' read limits)."""
    if elapsed_s < 60:
        return 1.0
    if elapsed_s < 180:
        return 5.0
    return 30.0


def unknown_orders(ex: ExecutionRecord) -> list[OrderRecord]:
    return [o for o in ex.orders if not o.status.final]


async def look_up(placer: Placer, ex: ExecutionRecord, o: OrderRecord, *, give_up: bool) -> bool:
    """Ask the order's venue what became of it; record the answer (a resting order is
    cancelled first) with its fills. Returns whether its fate is now known. An order
    the venue has no trace of is recorded as never arrived only when ``give_up``;
    a venue that cannot answer leaves it unknown."""
    venue = placer.venues[o.venue]
    try:
        result = await venue.get_order(o.client_order_id, o.venue_order_id)
        if result is not None and result.status is OrderStatus.OPEN:
            await venue.cancel_order(result.venue_order_id)
            result = await venue.get_order(o.client_order_id, result.venue_order_id) or result
    except VenueError as exc:
        log.warning("lookup of %s failed: %s", o.client_order_id, exc, extra={"execution": ex.id})
        return False
    if result is None or not result.status.final:
        if not give_up or result is not None:
            return False
        result = OrderResult(
            o.client_order_id,
            OrderStatus.CANCELED,
            o.venue_order_id,
            error_code=NOT_FOUND_AFTER_WINDOW,
            error="no reply, and the venue never had such an order",
        )
    result = await with_fills(venue, _as(o, result))
    await placer.store.record_result(ex.id, _as(o, result), placer.clock())
    return True


def _as(o: OrderRecord, result: OrderResult) -> OrderResult:
    """The venue's answer, filed under our client order id."""
    if result.client_order_id == o.client_order_id:
        return result
    return OrderResult(
        o.client_order_id,
        result.status,
        result.venue_order_id,
        result.filled,
        result.avg_price,
        result.fee,
        result.fills,
        result.error_code,
        result.error,
    )


def past_window(o: OrderRecord, now: datetime, window_s: float = WINDOW_S) -> bool:
    sent = o.sent_at or o.created_at
    return (now - sent).total_seconds() >= window_s


class FollowUpMoney(Protocol):
    """The trading state, as the follow-up of an execution sees it."""

    def hold_for(self, ex: ExecutionRecord) -> Funds:
        """What a hedge of ``ex`` may spend, held until ``drop_hold``."""
        ...

    def drop_hold(self, execution_id: str, ex: ExecutionRecord | None) -> None: ...


class UnknownOrders:
    """Follows every execution that has an order of unknown fate, one task each."""

    def __init__(
        self,
        placer: Placer,
        policy: HedgePolicy,
        fee_of: Callable[[Contract], FeeSchedule | None],
        announce: Callable[[Alert], Awaitable[None]],
        *,
        window_s: float = WINDOW_S,
        delay_s: Callable[[float], float] = lookup_delay_s,
        money: FollowUpMoney | None = None,
    ) -> None:
        self.placer = placer
        self.policy = policy
        self.fee_of = fee_of
        self.announce = announce
        self.window_s = window_s
        self.delay_s = delay_s
        self.money = money
        self.tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def following(self) -> frozenset[str]:
        return frozenset(self.tasks)

    async def follow(self, ex: ExecutionRecord, *, tell: bool = True) -> bool:
        """Start following ``ex`` if some order of it is unknown (telling the chat);
        returns whether it is followed."""
        unknown = unknown_orders(ex)
        if not unknown:
            return False
        if ex.id not in self.tasks:
            if tell:
                await self.announce(messages.order_unknown(ex, unknown, self.window_s))
            task = asyncio.create_task(self._follow(ex.id), name=f"unknown-orders-{ex.id}")
            self.tasks[ex.id] = task
            task.add_done_callback(lambda _: self.tasks.pop(ex.id, None))
        return True

    async def stop(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _wait(self, execution_id: str, delay_s: float) -> None:
        """The delay before the next round of lookups, cut short by news of one of the
        execution's unknown orders where the venue streams it."""
        ex = await self.placer.store.execution(execution_id)
        orders = unknown_orders(ex) if ex is not None else []
        if not orders:
            await asyncio.sleep(delay_s)
            return
        waits = [
            asyncio.create_task(
                order_news(
                    self.placer.venues[o.venue], o.client_order_id, o.venue_order_id, delay_s
                )
            )
            for o in orders
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _follow(self, execution_id: str) -> None:
        try:
            await self._follow_up(execution_id)
        finally:
            if self.money is not None:
                try:
                    last = await self.placer.store.execution(execution_id)
                except Exception:
                    last = None
                self.money.drop_hold(execution_id, last)

    async def _follow_up(self, execution_id: str) -> None:
        started = time.monotonic()
        try:
            while True:
                await self._wait(execution_id, self.delay_s(time.monotonic() - started))
                ex = await self.placer.store.execution(execution_id)
                if ex is None:
                    return
                now = self.placer.clock()
                for o in unknown_orders(ex):
                    over = past_window(o, now, self.window_s)
                    await look_up(self.placer, ex, o, give_up=over)
                ex = await self.placer.store.execution(execution_id)
                assert ex is not None
                left = unknown_orders(ex)
                if not left:
                    break
                if time.monotonic() - started >= self.window_s and all(
                    past_window(o, now, self.window_s) for o in left
                ):
                    # The venue could not say, the whole window: a human must look.
                    await self.announce(messages.order_still_unknown(ex, left, self.window_s))
                    return
            funds = self.money.hold_for(ex) if self.money is not None else None
            await resolve_partial(self.placer, execution_id, self.policy, self.fee_of, funds=funds)
            done = await self.placer.store.execution(execution_id)
            assert done is not None
            await self.announce(messages.outcome(done, "the order of unknown fate is now known"))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "following the unknown orders of %s failed",
                execution_id,
                extra={"execution": execution_id},
            )
            ex = await self.placer.store.execution(execution_id)
            if ex is not None:
                await self.announce(messages.order_still_unknown(ex, unknown_orders(ex), 0))
