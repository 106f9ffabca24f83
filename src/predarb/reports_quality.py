"""Execution quality: is the bot getting the prices it priced, and how fast?

Per execution and over a window: slippage of each entry fill against the price the
calculator saw (the order's limit; positive is worse), fill rate, each leg's latency
(sent to answered), the skew between the legs' answers, the unhedged window of a
one-legged fill, the cost of the hedges and unwinds that followed, and expected against
realized profit. ``/quality`` in Telegram and ``predarb quality`` both call ``quality``
(and ``of_execution`` for one execution); the dashboard measures its page of executions
with ``measure``, so the three never disagree.

The window's figures come from one SQL read of the executions and their orders (times
turned into epoch milliseconds by SQLite itself), so a thousand executions take
milliseconds; money stays ``Decimal``, latencies are integer milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from predarb.domain import ExecutionStatus, Venue
from predarb.store import Store
from predarb.store.records import ExecutionRecord, from_micros, iso, to_micros
from predarb.store.state import this_mode

ZERO = Decimal(0)
LEG, HEDGE, UNWIND = "leg", "hedge", "unwind"
BUY = "buy"


@dataclass(frozen=True, slots=True)
class OrderFigures:
    """The part of an order quality needs; times in epoch milliseconds."""

    role: str
    leg_index: int
    venue: str
    action: str
    price: Decimal
    contracts: Decimal
    filled: Decimal
    avg_price: Decimal
    fee_micros: int
    sent_ms: int | None
    answered_ms: int | None

    @property
    def latency_ms(self) -> int | None:
        if self.sent_ms is None or self.answered_ms is None:
            return None
        return max(0, self.answered_ms - self.sent_ms)


@dataclass(frozen=True, slots=True)
class LegLatency:
    leg_index: int
    venue: str
    ms: int


@dataclass(frozen=True, slots=True)
class ExecutionQuality:
    execution_id: str
    status: ExecutionStatus
    slippage: Decimal  # dollars over the entry fills, positive worse than priced
    asked: Decimal  # contracts the entry legs asked for
    filled: Decimal  # contracts they got
    latencies: tuple[LegLatency, ...]  # entry legs, in leg order
    skew_ms: int | None  # first to last entry leg answer
    unhedged_ms: int | None
    hedge_cost: Decimal  # paid above the priced leg price by hedges, with their fees
    unwind_cost: Decimal  # lost selling filled legs back, with the sales' fees
    expected: Decimal
    realized: Decimal | None  # once settled
    event: str = ""

    @property
    def fill_rate(self) -> Decimal | None:
        return None if self.asked <= 0 else self.filled / self.asked


def ms_of(ts: datetime | None) -> int | None:
    return None if ts is None else int(ts.timestamp() * 1000)


def _of_record(ex: ExecutionRecord) -> list[OrderFigures]:
    return [
        OrderFigures(
            o.role,
            o.leg_index,
            o.venue.value,
            o.action,
            o.price,
            o.contracts,
            o.filled,
            o.avg_price,
            to_micros(o.fee),
            ms_of(o.sent_at),
            ms_of(o.answered_at),
        )
        for o in ex.orders
    ]


def measure(
    execution_id: str,
    status: ExecutionStatus,
    orders: Sequence[OrderFigures],
    unhedged_ms: int | None,
    expected: Decimal,
    realized: Decimal | None,
    event: str = "",
) -> ExecutionQuality:
    """One execution's quality from its orders: slippage and fill rate of the entry legs
    only (what a hedge or an unwind paid is their cost, apart)."""
    # One pass over the entry legs, then one over the orders that followed them: this
    # runs for every execution of the window (a thousand for one /quality).
    priced: dict[int, Decimal] = {}
    bought: dict[int, Decimal] = {}
    slippage = asked = filled = ZERO
    latencies: list[LegLatency] = []
    answers: list[int] = []
    for o in sorted((o for o in orders if o.role == LEG), key=lambda o: o.leg_index):
        priced[o.leg_index] = o.price
        asked += o.contracts
        if o.filled > 0:
            bought[o.leg_index] = o.avg_price
            per = o.avg_price - o.price if o.action == BUY else o.price - o.avg_price
            slippage += per * o.filled
            filled += min(o.filled, o.contracts)
        if o.answered_ms is not None:
            answers.append(o.answered_ms)
            if o.sent_ms is not None:
                latencies.append(
                    LegLatency(o.leg_index, o.venue, max(0, o.answered_ms - o.sent_ms))
                )
    hedge_cost = unwind_cost = ZERO
    for o in orders:
        if o.role == HEDGE and o.filled > 0:
            hedge_cost += (o.avg_price - priced.get(o.leg_index, o.price)) * o.filled + from_micros(
                o.fee_micros
            )
        elif o.role == UNWIND and o.filled > 0:
            unwind_cost += (
                bought.get(o.leg_index, o.avg_price) - o.avg_price
            ) * o.filled + from_micros(o.fee_micros)
    return ExecutionQuality(
        execution_id=execution_id,
        status=status,
        slippage=slippage,
        asked=asked,
        filled=filled,
        latencies=tuple(latencies),
        skew_ms=max(answers) - min(answers) if len(answers) > 1 else None,
        unhedged_ms=unhedged_ms,
        hedge_cost=hedge_cost,
        unwind_cost=unwind_cost,
        expected=expected,
        realized=realized,
        event=event,
    )


def execution_quality(ex: ExecutionRecord) -> ExecutionQuality:
    """The quality of one execution, from its record (no I/O: alerts use it)."""
    return measure(
        ex.id,
        ex.status,
        _of_record(ex),
        ex.unhedged_ms,
        ex.expected_profit,
        ex.realized_pnl,
        ex.event,
    )


async def of_execution(store: Store, execution_id: str) -> ExecutionQuality | None:
    """``/quality EXECUTION`` and ``predarb quality --execution``: None when there is
    no such execution."""
    ex = await store.execution(execution_id)
    return execution_quality(ex) if ex is not None else None


def latency_line(ex: ExecutionRecord) -> str:
    """``kalshi 120 ms, polymarket 340 ms (skew 220 ms)``, or "" when nothing is timed."""
    q = execution_quality(ex)
    if not q.latencies:
        return ""
    text = ", ".join(f"{lat.venue} {lat.ms} ms" for lat in q.latencies)
    return text + (f" (skew {q.skew_ms} ms)" if q.skew_ms is not None else "")


# -- the window ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spread:
    """Milliseconds: median, 95th percentile, worst, and how many were measured."""

    n: int
    median: int
    p95: int
    worst: int


def spread(values: Iterable[int]) -> Spread | None:
    ordered = sorted(values)
    if not ordered:
        return None
    n = len(ordered)
    return Spread(
        n, ordered[(n - 1) // 2], ordered[min(n - 1, (95 * n + 99) // 100 - 1)], ordered[-1]
    )


@dataclass(frozen=True, slots=True)
class QualityReport:
    since: datetime
    days: int
    executions: int  # finished in the window (every attempt, filled or not)
    complete: int  # every leg filled in full
    one_legged: int  # hedged, unwound or exposed
    asked: Decimal
    filled: Decimal
    slippage: Decimal
    slipped_contracts: Decimal  # entry contracts filled, over which slippage is spread
    latency: dict[str, Spread]  # by venue
    skew: Spread | None
    unhedged: Spread | None
    hedge_cost: Decimal
    unwind_cost: Decimal
    expected_settled: Decimal  # expected profit of the executions settled so far
    realized_settled: Decimal
    settled: int
    worst_slippage: ExecutionQuality | None
    slowest: ExecutionQuality | None

    @property
    def fill_rate(self) -> Decimal | None:
        return None if self.asked <= 0 else self.filled / self.asked

    @property
    def slippage_per_contract(self) -> Decimal | None:
        return None if self.slipped_contracts <= 0 else self.slippage / self.slipped_contracts


_QUERY = (
    "SELECT e.id, e.status, e.unhedged_ms, e.expected_profit_micros, e.realized_pnl_micros,"
    " o.role, o.leg_index, o.venue, o.action, o.price, o.contracts, o.filled, o.avg_price,"
    " o.fee_micros,"
    " CAST(round((julianday(o.sent_at) - 2440587.5) * 86400000.0) AS INTEGER),"
    " CAST(round((julianday(o.answered_at) - 2440587.5) * 86400000.0) AS INTEGER)"
    " FROM executions e LEFT JOIN orders o ON o.execution_id = e.id"
    " WHERE e.created_at >= ? AND e.created_at <= ? AND e.status NOT IN ('pending', 'partial')"
    f" AND {this_mode('e')} ORDER BY e.id"
)


async def executions_quality(
    store: Store, since: datetime, until: datetime
) -> list[ExecutionQuality]:
    """Each finished execution created from ``since`` to ``until``, measured."""
    out: list[ExecutionQuality] = []
    current: str | None = None
    head: tuple[ExecutionStatus, int | None, Decimal, Decimal | None] | None = None
    orders: list[OrderFigures] = []

    def flush() -> None:
        if current is not None and head is not None:
            out.append(measure(current, head[0], orders, *head[1:]))

    for r in await store.query(_QUERY, (iso(since), iso(until))):
        if r[0] != current:
            flush()
            current, orders = str(r[0]), []
            realized = from_micros(r[4]) if r[4] is not None else None
            head = (ExecutionStatus(r[1]), r[2], from_micros(r[3]), realized)
        if r[5] is None:
            continue  # an execution without orders (nothing was written ahead)
        filled = ZERO if r[11] == "0" else Decimal(r[11])
        orders.append(
            OrderFigures(
                r[5],
                r[6],
                r[7],
                r[8],
                Decimal(r[9]),
                Decimal(r[10]),
                filled,
                ZERO if filled == 0 else Decimal(r[12]),
                r[13],
                r[14],
                r[15],
            )
        )
    flush()
    return out


async def quality(store: Store, now: datetime, days: int = 7) -> QualityReport:
    """The execution quality of the last ``days`` days (since this hour ``days`` ago)."""
    since = now.astimezone(UTC) - timedelta(days=days)
    measured = await executions_quality(store, since, now)
    one_legged = {ExecutionStatus.HEDGED, ExecutionStatus.UNWOUND, ExecutionStatus.EXPOSED}
    by_venue: dict[str, list[int]] = {}
    for q in measured:
        for lat in q.latencies:
            by_venue.setdefault(lat.venue, []).append(lat.ms)
    settled = [q for q in measured if q.realized is not None]
    filled = [q for q in measured if q.filled > 0]
    return QualityReport(
        since=since,
        days=days,
        executions=len(measured),
        complete=sum(q.status is ExecutionStatus.SUCCESS for q in measured),
        one_legged=sum(q.status in one_legged for q in measured),
        asked=sum((q.asked for q in measured), ZERO),
        filled=sum((q.filled for q in measured), ZERO),
        slippage=sum((q.slippage for q in measured), ZERO),
        slipped_contracts=sum((q.filled for q in filled), ZERO),
        latency={
            v: s
            for v in sorted(by_venue)
            if v in Venue._value2member_map_ and (s := spread(by_venue[v])) is not None
        },
        skew=spread(q.skew_ms for q in measured if q.skew_ms is not None),
        unhedged=spread(q.unhedged_ms for q in measured if q.unhedged_ms is not None),
        hedge_cost=sum((q.hedge_cost for q in measured), ZERO),
        unwind_cost=sum((q.unwind_cost for q in measured), ZERO),
        expected_settled=sum((q.expected for q in settled), ZERO),
        realized_settled=sum((q.realized or ZERO for q in settled), ZERO),
        settled=len(settled),
        worst_slippage=max(filled, key=lambda q: q.slippage, default=None),
        slowest=max(
            (q for q in measured if q.latencies),
            key=lambda q: max(lat.ms for lat in q.latencies),
            default=None,
        ),
    )
