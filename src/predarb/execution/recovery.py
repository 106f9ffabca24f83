"""Start-up reconciliation of executions a crash left unfinished.

After a crash, every execution not in a final state is brought to one: each of its
orders whose fate or fills are not fully recorded is looked up at its venue (by
client order id, or by the venue id recorded before sending), resting ones are
cancelled, and the fills are recorded; then the execution is finished exactly as a
live one (``resolve_partial``: nothing to do, hedge, unwind, or EXPOSED). An order
marked as never sent is known never to have left. An order the venue does not know
yet, sent less than ``late_window_s`` ago, may still arrive: it stays unknown, its
execution EXPOSED, and the caller follows it (``execution.unknown``). Orders of ours
still resting from an earlier run are cancelled.

A venue with no client order ids (Polymarket) knows an order by an id the placer
records before sending (``VenueClient.prepare``). A venue that cannot look an order
up answers with an error, never with "no such order": the order then stays unknown
and the execution EXPOSED.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from predarb.domain import (
    ZERO,
    Contract,
    ExecutionStatus,
    FeeSchedule,
    OrderResult,
    OrderStatus,
    Venue,
)
from predarb.execution.hedging import HedgePolicy
from predarb.execution.partial import resolve_partial
from predarb.execution.placer import Placer
from predarb.execution.unknown import (
    WINDOW_S,
    UnknownOrders,
    look_up,
    past_window,
    unknown_orders,
)
from predarb.notify import messages
from predarb.notify.base import Alert
from predarb.store import Store
from predarb.store.records import ExecutionRecord, OrderRecord
from predarb.venues.base import VenueClient, VenueError

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    finished: dict[str, ExecutionStatus] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)  # resting orders of ours cancelled
    unknown: list[str] = field(default_factory=list)  # executions left with unknown orders

    @property
    def exposed(self) -> list[str]:
        return [e for e, s in self.finished.items() if s is ExecutionStatus.EXPOSED]


async def recover(
    placer: Placer,
    policy: HedgePolicy,
    fee_of: Callable[[Contract], FeeSchedule | None] = lambda c: None,
    *,
    late_window_s: float = WINDOW_S,
) -> RecoveryReport:
    store = placer.store
    report = RecoveryReport()
    await _cancel_leftovers(store, placer.venues, report)
    pending = await store.executions(statuses=[ExecutionStatus.PENDING, ExecutionStatus.PARTIAL])
    # An earlier run may have stopped while it followed an order of unknown fate.
    exposed = await store.executions(statuses=[ExecutionStatus.EXPOSED], unsettled=True)
    pending += [ex for ex in exposed if unknown_orders(ex)]
    for ex in sorted(pending, key=lambda e: e.created_at):
        if ex.mode != placer.mode:
            continue
        for order in ex.orders:
            await _reconcile(placer, ex, order, late_window_s)
        outcome = await resolve_partial(placer, ex.id, policy, fee_of)
        report.finished[ex.id] = outcome.status
        done = await store.execution(ex.id)
        if done is not None and unknown_orders(done):
            report.unknown.append(ex.id)
        await store.log_event(
            "recovered", placer.clock(), execution_id=ex.id, status=outcome.status
        )
    return report


async def announce_recovered(
    store: Store,
    report: RecoveryReport,
    alert: Callable[[Alert], Awaitable[None]],
    unknown: UnknownOrders,
) -> None:
    """Tell the chat what each recovered execution is (executed, hedged, unwound,
    exposed, nothing filled, or an order still of unknown fate, which is then followed)."""
    for execution_id in report.finished:
        record = await store.execution(execution_id)
        if record is None:
            continue
        await unknown.follow(record, tell=False)
        await alert(messages.outcome(record, "recovered after a restart"))


async def _recorded_fills(store: Store, client_order_id: str) -> Decimal:
    rows = await store.query(
        "SELECT contracts FROM fills WHERE client_order_id = ?", (client_order_id,)
    )
    return sum((Decimal(r[0]) for r in rows), ZERO)


async def _reconcile(
    placer: Placer, ex: ExecutionRecord, o: OrderRecord, late_window_s: float
) -> None:
    store, now = placer.store, placer.clock()
    if o.status.final and await _recorded_fills(store, o.client_order_id) >= o.filled:
        return
    if o.sent_at is None:  # marked sent (committed) before any send: it never left
        never = OrderResult(o.client_order_id, OrderStatus.CANCELED, error_code="never_sent")
        await store.record_result(ex.id, never, now)
        return
    if not await look_up(placer, ex, o, give_up=past_window(o, now, late_window_s)):
        log.warning(
            "recovery: order %s not known yet; followed",
            o.client_order_id,
            extra={"execution": ex.id, "client_order_id": o.client_order_id},
        )


async def _cancel_leftovers(
    store: Store, venues: Mapping[Venue, VenueClient], report: RecoveryReport
) -> None:
    ours = {str(r[0]) for r in await store.query("SELECT client_order_id FROM orders")}
    ours |= await store.known_venue_order_ids()
    for venue in venues.values():
        try:
            resting = await venue.open_orders()
        except VenueError as exc:
            log.warning("recovery: open orders of %s unreadable: %s", venue.venue.value, exc)
            continue
        for r in resting:
            if r.client_order_id not in ours and r.venue_order_id not in ours:
                log.warning("recovery: resting order %s is not ours; left", r.venue_order_id)
                continue
            await venue.cancel_order(r.venue_order_id)
            report.cancelled.append(r.client_order_id)
