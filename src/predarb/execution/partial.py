"""Bringing a one-legged (PARTIAL) execution to HEDGED, UNWOUND or EXPOSED.

Everything is decided from the store, not from memory: what each leg holds is the sum
of its orders' fills (legs, hedges, unwinds), and the ladder rung to try next is the
number of unwind orders already sent. So the same call finishes the job after a
crash, and never repeats an order that already went out.

A hedge spends money beyond what the execution's legs were checked for (a worse
price): with executions side by side, it is sent only once ``funds`` grants the most
it may cost (``trading_state.HedgeFunds``: what the execution holds and has not spent,
then money no other execution holds); refused, the filled legs are unwound instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from predarb.arbitrage.fees import taker_fee
from predarb.domain import (
    ZERO,
    Action,
    Contract,
    ExecutionStatus,
    FeeSchedule,
    OrderBook,
    OrderRequest,
    TimeInForce,
)
from predarb.execution.hedging import (
    GiveUp,
    HedgePolicy,
    LegHolding,
    PlannedOrder,
    balanced,
    plan_hedge,
    plan_unwind,
)
from predarb.execution.placer import Placer, new_client_order_id
from predarb.store.records import ExecutionRecord, OrderRecord
from predarb.venues.base import VenueError

log = logging.getLogger(__name__)

HEDGE, UNWIND = "hedge", "unwind"
NEVER_ARRIVED = frozenset({"never_sent", "not_found_after_restart", "not_found_after_window"})


HALF = Decimal("0.5")


class Funds(Protocol):
    def grant(self, ex: ExecutionRecord, cost: Mapping[Contract, Decimal]) -> bool:
        """Whether the hedge of ``ex`` may spend ``cost`` (at most, by contract); the
        money is held from then on."""
        ...


@dataclass(frozen=True, slots=True)
class PartialOutcome:
    status: ExecutionStatus
    unhedged_ms: int | None
    note: str


def _signed(o: OrderRecord) -> Decimal:
    return o.filled if o.action == Action.BUY.value else -o.filled


def surplus(o: OrderRecord) -> Decimal:
    """Shares a BUY holds beyond what it asked for: a Polymarket market BUY spends its
    money in full, and better prices than its limit buy extra shares. They are kept
    (recorded in the fills, paid at settlement) but are no part of the cover."""
    if o.action != Action.BUY.value:
        return ZERO
    return max(ZERO, o.filled - o.contracts)


def leg_holdings(ex: ExecutionRecord) -> list[LegHolding]:
    """What each leg holds now towards the cover, from every order of the execution
    that serves it (surplus shares aside)."""
    legs = sorted((o for o in ex.orders if o.role == "leg"), key=lambda o: o.leg_index)
    out = []
    for leg in legs:
        orders = [o for o in ex.orders if o.leg_index == leg.leg_index]
        held = sum((_signed(o) - surplus(o) for o in orders), ZERO)
        contract = Contract(leg.venue, leg.market_id, leg.side, leg.token_id)
        out.append(LegHolding(leg.leg_index, contract, leg.world, held))
    return out


def spent(ex: ExecutionRecord) -> Decimal:
    """Net money the execution paid: buys and fees, minus what sales brought back."""
    return sum((_signed(o) * o.avg_price + o.fee for o in ex.orders), ZERO)


async def _books(placer: Placer, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
    by_venue: dict[str, list[Contract]] = {}
    for c in contracts:
        by_venue.setdefault(c.venue.value, []).append(c)
    books: dict[Contract, OrderBook] = {}
    for cs in by_venue.values():
        try:
            books.update(await placer.venues[cs[0].venue].get_order_books(cs))
        except VenueError as exc:
            log.warning("books for the hedge unavailable: %s", exc)
    return books


async def resolve_partial(
    placer: Placer,
    execution_id: str,
    policy: HedgePolicy,
    fee_of: Callable[[Contract], FeeSchedule | None] = lambda c: None,
    *,
    first_fill_ns: int | None = None,
    funds: Funds | None = None,
) -> PartialOutcome:
    """Hedge, else unwind, the execution; record and return the final state.

    ``first_fill_ns`` (monotonic) starts the unhedged window; without it (after a
    restart) the window runs from the execution's creation. ``funds``: asked before a
    hedge is sent (None: any hedge may be paid, as at a start before trading).
    """
    store = placer.store
    ex = await _load(placer, execution_id)
    notes: list[str] = []
    # A hedge that never reached the venue (cut off by a crash) was no attempt.
    hedges = [o for o in ex.orders if o.role == HEDGE and o.error_code not in NEVER_ARRIVED]
    if not _pending(ex) and not balanced(leg_holdings(ex)) and len(hedges) < policy.hedge_attempts:
        legs = leg_holdings(ex)
        books = await _books(placer, [leg.contract for leg in legs])
        plan = plan_hedge(legs, spent(ex), books, fee_of, policy)
        if isinstance(plan, GiveUp):
            notes.append(f"hedge: {plan.reason}")
        elif funds is not None and not funds.grant(ex, most_paid(plan.orders, fee_of)):
            notes.append("hedge: no money free to pay it")
        else:
            await asyncio.gather(
                *(_send(placer, ex, o, HEDGE, TimeInForce.FOK) for o in plan.orders)
            )
            ex = await _load(placer, execution_id)
    rung = max((_rungs(ex, leg.index) for leg in leg_holdings(ex)), default=0)
    while not _pending(ex) and not balanced(leg_holdings(ex)) and rung < policy.unwind_steps:
        legs = leg_holdings(ex)
        books = await _books(placer, [leg.contract for leg in legs])
        unwind = plan_unwind(legs, books, rung)
        if isinstance(unwind, GiveUp):
            notes.append(f"unwind: {unwind.reason}")
            break
        await asyncio.gather(
            *(_send(placer, ex, o, UNWIND, TimeInForce.IOC) for o in unwind.orders)
        )
        ex = await _load(placer, execution_id)
        rung += 1
    outcome = _outcome(ex, notes, first_fill_ns, placer)
    await store.set_status(
        execution_id,
        outcome.status,
        placer.clock(),
        note=outcome.note,
        unhedged_ms=outcome.unhedged_ms,
    )
    log.warning(
        "execution %s finished %s",
        execution_id,
        outcome.status.value,
        extra={"execution": execution_id, "unhedged_ms": outcome.unhedged_ms},
    )
    return outcome


def most_paid(
    orders: Sequence[PlannedOrder], fee_of: Callable[[Contract], FeeSchedule | None]
) -> dict[Contract, Decimal]:
    """The most each BUY may cost, fee included: every contract at its limit price, and
    the fee at the dearest price it may fill at (fees peak at 0.5)."""
    out: dict[Contract, Decimal] = {}
    for o in orders:
        if o.action is not Action.BUY:
            continue
        fee = fee_of(o.contract)
        most_fee = max(
            taker_fee(fee, o.contracts, o.price), taker_fee(fee, o.contracts, min(o.price, HALF))
        )
        out[o.contract] = out.get(o.contract, ZERO) + o.contracts * o.price + most_fee
    return out


async def _load(placer: Placer, execution_id: str) -> ExecutionRecord:
    ex = await placer.store.execution(execution_id)
    if ex is None:
        raise KeyError(f"no execution {execution_id}")
    return ex


def _pending(ex: ExecutionRecord) -> bool:
    """Some order's fate is not known: holdings cannot be trusted yet."""
    return any(not o.status.final for o in ex.orders)


def _rungs(ex: ExecutionRecord, leg_index: int) -> int:
    return sum(1 for o in ex.orders if o.role == UNWIND and o.leg_index == leg_index)


async def _send(
    placer: Placer, ex: ExecutionRecord, o: PlannedOrder, role: str, tif: TimeInForce
) -> None:
    order = OrderRequest(new_client_order_id(), o.contract, o.action, o.price, o.contracts, tif)
    await placer.send_one(ex.id, order, role, o.leg_index, o.world)


def surplus_note(ex: ExecutionRecord) -> str:
    """What the execution holds beyond its cover, for the record and the alert."""
    extra: dict[str, Decimal] = {}
    for o in ex.orders:
        if (more := surplus(o)) > 0:
            key = Contract(o.venue, o.market_id, o.side, o.token_id).key
            extra[key] = extra.get(key, ZERO) + more
    if not extra:
        return ""
    held = ", ".join(f"{n} of {key}" for key, n in extra.items())
    return f"surplus shares from better prices: {held} (kept, not covered)"


def _outcome(
    ex: ExecutionRecord, notes: list[str], first_fill_ns: int | None, placer: Placer
) -> PartialOutcome:
    # Why no hedge was sent, told with the unwind that replaced it.
    why = f" ({'; '.join(notes)})" if notes else ""
    extra = surplus_note(ex)
    if extra:
        notes.append(extra)
    tail = f"; {extra}" if extra else ""
    legs = leg_holdings(ex)
    if _pending(ex):
        unknown = [o.client_order_id for o in ex.orders if not o.status.final]
        notes.append(f"order state unknown: {', '.join(unknown)}")
        return PartialOutcome(ExecutionStatus.EXPOSED, None, "; ".join(notes))
    if not balanced(legs):
        holding = ", ".join(f"{leg.contract.key} {leg.held}" for leg in legs)
        notes.append(f"still holding {holding}")
        return PartialOutcome(ExecutionStatus.EXPOSED, None, "; ".join(notes))
    if first_fill_ns is not None:
        window = (time.monotonic_ns() - first_fill_ns) // 1_000_000
    else:
        window = int((placer.clock() - ex.created_at).total_seconds() * 1000)
    held = legs[0].held if legs else ZERO
    if any(o.role == UNWIND and o.filled > 0 for o in ex.orders):
        kept = f"; kept {held} covered contracts" if held > 0 else ""
        note = f"filled leg sold back{kept}{why}{tail}"
        return PartialOutcome(ExecutionStatus.UNWOUND, window, note)
    if any(o.role == HEDGE and o.filled > 0 for o in ex.orders):
        pnl = held - spent(ex)
        note = f"missing leg completed at a worse price; {held} contracts, P&L {pnl:.4f}"
        return PartialOutcome(ExecutionStatus.HEDGED, window, note + tail)
    # Nothing was needed after all (a lost reply turned out filled, or nothing filled).
    status = ExecutionStatus.SUCCESS if held > 0 else ExecutionStatus.FAILED
    return PartialOutcome(status, None, "; ".join(notes))
