"""A simulated month of trading, written through the real Store API and settled by
the real Settler against fake venues, plus the ground truth of every figure computed
straight from the generated data (never from the database), for the P&L test and
``bench/bench_pnl.py``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from predarb.domain import (
    ZERO,
    Action,
    ArbKind,
    Contract,
    ExecutionStatus,
    Fill,
    Leg,
    Opportunity,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Resolution,
    Venue,
)
from predarb.notify.base import Alert
from predarb.settlement import Settler
from predarb.store import Store
from tests.fakes.scripted_venue import ScriptedVenue

START = datetime(2026, 10, 23, tzinfo=UTC)
DAYS = 30
NOW = START + timedelta(days=DAYS, hours=12)  # 2026-11-22 12:00 UTC
SETTLE_AT = timedelta(hours=23, minutes=30)  # the settlement run of each past day
HALF = Decimal("0.5")
STATUSES = (
    ExecutionStatus.SUCCESS,
    ExecutionStatus.FAILED,
    ExecutionStatus.UNWOUND,
    ExecutionStatus.EXPOSED,
    ExecutionStatus.HEDGED,
)


@dataclass
class GenFill:
    contract: Contract
    action: Action
    price: Decimal
    contracts: Decimal
    fee: Decimal
    ts: datetime

    @property
    def signed_cost(self) -> Decimal:
        sign = 1 if self.action is Action.BUY else -1
        return sign * self.price * self.contracts


@dataclass
class GenExecution:
    id: str
    status: ExecutionStatus
    created_at: datetime
    expected_profit: Decimal
    fills: list[GenFill] = field(default_factory=list)
    resolve_day: int = 0
    outcome: str = "yes"  # yes | no | void | both | neither
    settled_at: datetime | None = None  # filled in by the schedule
    pnl: Decimal = ZERO
    payout_by_venue: dict[Venue, Decimal] = field(default_factory=dict)

    @property
    def traded(self) -> bool:
        return self.status is not ExecutionStatus.FAILED


def run_time(day: int) -> datetime:
    return NOW if day >= DAYS else START + timedelta(days=day) + SETTLE_AT


def _price(rng: random.Random, lo: int, hi: int) -> Decimal:
    return Decimal(rng.randint(lo, hi)) / 100


def _fee(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(0, 20000)) / 100000


def _payouts(outcome: str, venue: Venue) -> dict[str, Decimal]:
    """Kalshi legs hold YES, Polymarket legs hold No. "both" and "neither" are the
    venues disagreeing: both held legs pay, or neither does."""
    held_pays = {
        "yes": venue is Venue.KALSHI,
        "no": venue is Venue.POLYMARKET,
        "both": True,
        "neither": False,
    }[outcome]
    yes_pays = held_pays if venue is Venue.KALSHI else not held_pays
    one, zero = Decimal(1), ZERO
    if venue is Venue.KALSHI:
        return {"yes": one if yes_pays else zero, "no": zero if yes_pays else one}
    return {"Yes": one if yes_pays else zero, "No": zero if yes_pays else one}


def resolution(gen: GenExecution, contract: Contract) -> Resolution:
    if gen.outcome == "void":
        if contract.venue is Venue.KALSHI:
            return Resolution(contract.market_id, {}, void=True)  # Kalshi names no payout
        return Resolution(contract.market_id, {"Yes": HALF, "No": HALF, contract.token_id: HALF})
    payouts = _payouts(gen.outcome, contract.venue)
    if contract.token_id:
        payouts[contract.token_id] = payouts["No"]
    return Resolution(contract.market_id, payouts)


def generate(rng: random.Random, n: int) -> list[GenExecution]:
    out: list[GenExecution] = []
    for i in range(n):
        day = i * (DAYS + 1) // n
        hours = 11 if day == DAYS else 23
        created = START + timedelta(days=day, seconds=rng.randrange(hours * 3600))
        status = rng.choices(STATUSES, weights=[75, 8, 7, 5, 5])[0]
        outcome = rng.choices(["yes", "no", "void", "both", "neither"], [45, 43, 6, 3, 3])[0]
        k = Contract(Venue.KALSHI, f"KXS{i % 7}-M{i:05d}", "yes")
        p = Contract(Venue.POLYMARKET, f"P{i:05d}", "No", f"tok-{i:05d}")
        n_contracts = Decimal(rng.randint(5, 20))
        kp = _price(rng, 30, 60)
        pp = Decimal(1) - kp - _price(rng, 1, 5)
        gen = GenExecution(
            id=f"ex-{i:05d}",
            status=status,
            created_at=created,
            expected_profit=n_contracts * (1 - kp - pp),
            resolve_day=day + rng.randint(0, 4),
            outcome=outcome,
        )
        ts = created + timedelta(milliseconds=300)
        if status is not ExecutionStatus.FAILED:
            gen.fills.append(GenFill(k, Action.BUY, kp, n_contracts, _fee(rng), ts))
        if status is ExecutionStatus.SUCCESS:
            gen.fills.append(GenFill(p, Action.BUY, pp, n_contracts, _fee(rng), ts))
        elif status is ExecutionStatus.HEDGED:
            worse = pp + _price(rng, 0, 3)
            gen.fills.append(GenFill(p, Action.BUY, worse, n_contracts, _fee(rng), ts))
        elif status is ExecutionStatus.UNWOUND:
            back = kp - _price(rng, 0, 5)
            gen.fills.append(GenFill(k, Action.SELL, back, n_contracts, _fee(rng), ts))
        _truth(gen)
        out.append(gen)
    return out


def _truth(gen: GenExecution) -> None:
    """P&L and settlement run of one execution, from its generated data alone."""
    held: dict[Contract, tuple[Decimal, Decimal]] = {}
    for f in gen.fills:
        qty, cost = held.get(f.contract, (ZERO, ZERO))
        sign = 1 if f.action is Action.BUY else -1
        held[f.contract] = (qty + sign * f.contracts, cost + f.signed_cost)
    open_legs = {c: v for c, v in held.items() if v[0] != 0}
    day = (gen.created_at - START).days
    if open_legs:
        day = max(day, gen.resolve_day)
    gen.settled_at = run_time(day) if day <= DAYS else None
    payout_total = ZERO
    for c, (qty, cost) in open_legs.items():
        if gen.outcome == "void" and c.venue is Venue.KALSHI:
            paid = cost  # refunded at cost
        else:
            paid = qty * resolution(gen, c).payout(c)
        gen.payout_by_venue[c.venue] = gen.payout_by_venue.get(c.venue, ZERO) + paid
        payout_total += paid
    spent = sum((f.signed_cost + f.fee for f in gen.fills), ZERO)
    gen.pnl = payout_total - spent


async def write(store: Store, gen: GenExecution) -> None:
    """One execution through the real write path: write-ahead, answers, status."""
    k = Contract(Venue.KALSHI, f"KXS{int(gen.id[3:]) % 7}-M{gen.id[3:]}", "yes")
    p = Contract(Venue.POLYMARKET, f"P{gen.id[3:]}", "No", f"tok-{gen.id[3:]}")
    n = Decimal(10)
    legs = (
        Leg(k, "yes", Decimal("0.4"), n, Decimal(4), ZERO),
        Leg(p, "no", HALF, n, Decimal(5), ZERO),
    )
    opp = Opportunity(
        pair_id=f"pair-{gen.id}",
        kind=ArbKind.YES_NO,
        event=f"Event {gen.id}",
        legs=legs,
        contracts=n,
        cost=Decimal(9),
        fees=ZERO,
        payout=n,
        profit=gen.expected_profit,
        roi_pct=Decimal("1.5"),
        quote_ts=gen.created_at,
    )
    reqs = [
        OrderRequest(f"{gen.id}-k", k, Action.BUY, Decimal("0.4"), n),
        OrderRequest(f"{gen.id}-p", p, Action.BUY, HALF, n),
    ]
    await store.create_execution(
        gen.id, opp, "demo", [(r, r.contract.side) for r in reqs], gen.created_at
    )
    by_cid: dict[str, GenFill] = {}
    for index, f in enumerate(gen.fills):
        if index == 0 or gen.status is ExecutionStatus.SUCCESS:
            by_cid[reqs[index].client_order_id] = f
            continue
        # The second fill of a hedged or unwound execution is its own order.
        cid = f"{gen.id}-x"
        role = "unwind" if f.action is Action.SELL else "hedge"
        request = OrderRequest(cid, f.contract, f.action, f.price, f.contracts)
        await store.add_order(gen.id, request, role, 1, f.contract.side, gen.created_at)
        by_cid[cid] = f
    for r in reqs:
        if r.client_order_id not in by_cid:
            killed = OrderResult(r.client_order_id, OrderStatus.CANCELED)
            await store.record_result(gen.id, killed, gen.created_at)
    for cid, fill in by_cid.items():
        await store.record_result(gen.id, _result(cid, fill), gen.created_at)
    await store.set_status(gen.id, gen.status, gen.created_at)


def _result(cid: str, f: GenFill) -> OrderResult:
    fill = Fill(f"{cid}#0", cid, f.contract, f.action, f.price, f.contracts, f.fee, f.ts)
    return OrderResult(cid, OrderStatus.FILLED, "v-" + cid, f.contracts, f.price, f.fee, (fill,))


async def build_month(store: Store, *, n: int = 1000, seed: int = 7) -> list[GenExecution]:
    """Write and settle a month: each day's executions, then that day's settlement
    run with the markets resolved by then."""
    rng = random.Random(seed)
    gens = generate(rng, n)
    kalshi = ScriptedVenue(Venue.KALSHI)
    poly = ScriptedVenue(Venue.POLYMARKET)
    clock = [START]
    alerts: list[Alert] = []

    async def collect(alert: Alert) -> None:
        alerts.append(alert)

    settler = Settler(
        store, {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly}, collect, lambda: clock[0]
    )
    by_day: dict[int, list[GenExecution]] = {}
    for g in gens:
        by_day.setdefault((g.created_at - START).days, []).append(g)
    for day in range(DAYS + 1):
        for g in by_day.get(day, []):
            await write(store, g)
        for g in gens:
            if g.resolve_day == day:
                for f in g.fills:
                    venue = kalshi if f.contract.venue is Venue.KALSHI else poly
                    venue.resolutions[f.contract.market_id] = resolution(g, f.contract)
        clock[0] = run_time(day)
        await settler.settle_once()
    return gens
