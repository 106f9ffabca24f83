"""Selling an open position back on request (``/unwind EXECUTION`` once confirmed).

The same path as the automatic unwind of a one-legged fill (``execution.partial``):
each order written ahead of its send, immediate-or-cancel, one price rung lower each
try, holdings read back from the store after each round. Here the target is zero on
every leg, not the least-filled leg. Nothing is done while an order of the execution
has an unknown fate, or once it is settled.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from predarb.domain import ZERO, ExecutionStatus, TimeInForce
from predarb.execution.hedging import GiveUp, HedgePolicy, plan_unwind
from predarb.execution.partial import UNWIND, _books, _load, _pending, _send, leg_holdings
from predarb.execution.placer import Placer
from predarb.store.records import ExecutionRecord

log = logging.getLogger(__name__)

NOTE = "sold back on request (/unwind)"


@dataclass(frozen=True, slots=True)
class UnwindResult:
    done: bool  # nothing held any more
    text: str  # one line for the user


def refusal(ex: ExecutionRecord | None) -> str:
    """Why ``ex`` cannot be unwound now ("" when it can)."""
    if ex is None:
        return "no such execution"
    if ex.settled_at is not None:
        return "it is settled already"
    if _pending(ex):
        return "an order of it has an unknown fate; it is being looked up"
    if not ex.status.final:
        return f"it is still {ex.status.value}"
    if all(leg.held <= 0 for leg in leg_holdings(ex)):
        return "it holds nothing"
    return ""


def holding_text(ex: ExecutionRecord) -> str:
    return ", ".join(f"{leg.contract.key} {leg.held}" for leg in leg_holdings(ex) if leg.held > 0)


async def unwind_execution(placer: Placer, execution_id: str, policy: HedgePolicy) -> UnwindResult:
    ex = await _load(placer, execution_id)
    why = refusal(ex)
    if why:
        return UnwindResult(False, f"Not unwound: {why}.")
    notes: list[str] = []
    for rung in range(policy.unwind_steps):
        legs = leg_holdings(ex)
        if all(leg.held <= 0 for leg in legs) or _pending(ex):
            break
        books = await _books(placer, [leg.contract for leg in legs])
        plan = plan_unwind(legs, books, rung, floor=ZERO)
        if isinstance(plan, GiveUp):
            notes.append(plan.reason)
            break
        await asyncio.gather(*(_send(placer, ex, o, UNWIND, TimeInForce.IOC) for o in plan.orders))
        ex = await _load(placer, execution_id)
    legs = leg_holdings(ex)
    now = placer.clock()
    if _pending(ex):
        await placer.store.set_status(
            execution_id, ExecutionStatus.EXPOSED, now, note="unwind order of unknown fate"
        )
        return UnwindResult(False, "An unwind order's fate is unknown: it is being looked up.")
    if all(leg.held <= 0 for leg in legs):
        await placer.store.set_status(execution_id, ExecutionStatus.UNWOUND, now, note=NOTE)
        log.warning("execution %s unwound on request", execution_id)
        return UnwindResult(True, "Unwound: everything it held is sold back.")
    left = holding_text(ex)
    # Part sold: the legs no longer cover each other, so the event is blocked.
    balanced = len({leg.held for leg in legs}) <= 1
    status = ex.status if balanced else ExecutionStatus.EXPOSED
    note = f"unwind on request incomplete, still holding {left}"
    await placer.store.set_status(execution_id, status, now, note=note)
    why = f" ({'; '.join(notes)})" if notes else ""
    return UnwindResult(False, f"Not all sold back{why}: still holding {left}.")
