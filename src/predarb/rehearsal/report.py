"""The replay's report: what the engine saw, decided and traded, and what it earned.

Every figure comes from recorded time and the replay's own database, never from the wall
clock, so the same recording and settings give the same text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from predarb import reports
from predarb.domain import ZERO, Action, Opportunity, OrderStatus, Pair, Venue
from predarb.reports_quality import execution_quality
from predarb.risk import RiskDecision

if TYPE_CHECKING:
    from predarb.engine import Engine
    from predarb.store import Store
    from predarb.venues.paper import PaperVenue

CENTS = Decimal("0.01")


class Tally:
    """What the engine priced and decided, as it went (the engine's ``watcher``)."""

    def __init__(self) -> None:
        self.sightings = 0
        self.pairs_with_opportunity: set[str] = set()
        self.refused: Counter[str] = Counter()
        self.approved = 0
        self.said: list[str] = []

    def priced(self, pairs: Sequence[Pair], found: Sequence[Opportunity], now: datetime) -> None:
        return None

    def decided(self, opp: Opportunity, decision: RiskDecision) -> None:
        self.sightings += 1
        self.pairs_with_opportunity.add(opp.pair_id)
        if decision.approved:
            self.approved += 1
        else:
            self.refused[decision.code] += 1

    def say(self, text: str) -> None:
        self.said.append(text)


@dataclass(frozen=True)
class ReplayReport:
    start: datetime
    end: datetime
    lines: int
    speed: float
    latency_ms: Mapping[Venue, int]
    pairs: int
    tradable: int
    sightings: int
    pairs_with_opportunity: int
    approved: int
    refused: Mapping[str, int]
    executions: Mapping[str, int]
    legs_sent: int
    legs_filled: int
    legs_partial: int
    legs_killed: int
    contracts_bought: Decimal  # by every order: entry legs and hedges
    bought: Decimal  # what they paid, fees apart
    contracts_sold: Decimal  # by unwinds
    sold: Decimal  # what they brought, fees apart
    fees: Decimal
    slippage: Decimal  # the entry legs' fills beyond the prices seen (positive is worse)
    one_legged: int
    realized: Decimal
    settled: int
    expected_open: Decimal
    balances: Mapping[Venue, Decimal] = field(default_factory=dict)
    balance: Decimal = ZERO

    def text(self) -> str:
        span = (self.end - self.start).total_seconds()
        lat = ", ".join(f"{v.value} {ms} ms" for v, ms in sorted(self.latency_ms.items()))
        refused = ", ".join(f"{code} {n}" for code, n in sorted(self.refused.items())) or "none"
        executions = ", ".join(f"{k} {n}" for k, n in sorted(self.executions.items())) or "none"
        fill_rate = (
            f"{Decimal(self.legs_filled * 100) / self.legs_sent:.1f}%" if self.legs_sent else "n/a"
        )
        cash = ", ".join(
            f"{v.value} {_usd(b)} ({_signed(b - self.balance)})"
            for v, b in sorted(self.balances.items())
        )
        return "\n".join(
            [
                "=== replay report (paper) ===",
                f"recording: {self.start:%Y-%m-%d %H:%M:%S} to {self.end:%H:%M:%S} UTC"
                f" ({span:.0f} s, {self.lines} lines)",
                f"order latency: {lat}",
                f"pairs matched: {self.pairs} ({self.tradable} tradable)",
                f"opportunities seen: {self.sightings} on {self.pairs_with_opportunity} pairs",
                f"approved: {self.approved}; executions: {executions}",
                f"refused by reason: {refused}",
                f"legs: {self.legs_sent} sent, {self.legs_filled} filled in full,"
                f" {self.legs_partial} partly, {self.legs_killed} killed or refused"
                f" (fill rate {fill_rate})",
                f"fills: bought {self.contracts_bought.normalize():f} contracts for"
                f" {_usd(self.bought)}, sold {self.contracts_sold.normalize():f} for"
                f" {_usd(self.sold)}, fees {_usd(self.fees)}",
                f"execution quality: slippage {_signed(self.slippage)} against the prices seen"
                f" on entry, {self.one_legged} one-legged",
                f"P&L after fees: realized {_signed(self.realized)} on {self.settled} settled,"
                f" expected on open {_signed(self.expected_open)}",
                f"paper balances: {cash}",
            ]
        )


def _usd(amount: Decimal) -> str:
    return f"${amount.quantize(CENTS):,}"


def _signed(amount: Decimal) -> str:
    q = amount.quantize(Decimal("0.0001"))
    return f"{'+' if q >= 0 else '-'}${abs(q):,}"


async def build_report(
    engine: Engine,
    store: Store,
    tally: Tally,
    venues: Mapping[Venue, PaperVenue],
    *,
    start: datetime,
    end: datetime,
    lines: int,
    latency_ms: Mapping[Venue, int],
    balance: Decimal,
    speed: float,
) -> ReplayReport:
    legs_sent = legs_filled = legs_partial = legs_killed = one_legged = 0
    contracts_bought = bought = contracts_sold = sold = fees = slippage = ZERO
    for ex in await store.executions():
        if ex.status.value in ("hedged", "unwound", "exposed"):
            one_legged += 1
        # As /quality measures it: the entry legs against the prices the calculator saw
        # (a hedge or an unwind has no such price; what it cost is in the P&L).
        slippage += execution_quality(ex).slippage
        for o in ex.orders:
            if o.role == "leg":
                legs_sent += 1
                if o.status is OrderStatus.FILLED:
                    legs_filled += 1
                elif o.status is OrderStatus.PARTIAL:
                    legs_partial += 1
                else:
                    legs_killed += 1
            if o.filled > 0 and o.action == Action.BUY.value:
                contracts_bought += o.filled
                bought += o.avg_price * o.filled
            elif o.filled > 0:
                contracts_sold += o.filled
                sold += o.avg_price * o.filled
            fees += o.fee
    pnl = await reports.pnl(store, end)
    w = pnl.all_time
    return ReplayReport(
        start=start,
        end=end,
        lines=lines,
        speed=speed,
        latency_ms=dict(latency_ms),
        pairs=len(engine.pairs),
        tradable=sum(p.tradable for p in engine.pairs),
        sightings=tally.sightings,
        pairs_with_opportunity=len(tally.pairs_with_opportunity),
        approved=tally.approved,
        refused=dict(tally.refused),
        executions=dict(engine.stats.executions),
        legs_sent=legs_sent,
        legs_filled=legs_filled,
        legs_partial=legs_partial,
        legs_killed=legs_killed,
        contracts_bought=contracts_bought,
        bought=bought,
        contracts_sold=contracts_sold,
        sold=sold,
        fees=fees,
        slippage=slippage,
        one_legged=one_legged,
        realized=w.realized,
        settled=w.settled,
        expected_open=w.expected_open,
        balances={v: venue.ledger.balance for v, venue in venues.items()},
        balance=balance,
    )
