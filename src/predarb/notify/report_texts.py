"""Texts of the phone's reports beyond ``messages``: execution quality, P&L breakdowns,
the last days, and the runtime settings. Pure functions, Telegram HTML with every
dynamic value escaped; the CLI prints the same text without tags."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from predarb.notify.messages import money
from predarb.reports import PnlWindow
from predarb.reports_periods import Breakdown, PnlRow
from predarb.reports_quality import ExecutionQuality, QualityReport, Spread

BREAKDOWN_TITLES = {
    "day": "by day of settlement",
    "week": "by week of settlement (from Monday)",
    "month": "by month of settlement",
    "kind": "by arbitrage kind",
    "category": "by category",
    "pair": "by pair",
}


def _spread(s: Spread | None) -> str:
    if s is None:
        return "n/a"
    return f"median {s.median} ms, p95 {s.p95} ms, worst {s.worst} ms ({s.n})"


def _rate(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"{(value * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def _cents(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"{(value * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}¢"


def quality_text(q: QualityReport) -> str:
    days = "day" if q.days == 1 else f"{q.days} days"
    if q.executions == 0:
        return f"<b>Execution quality</b>, last {days}: no executions"
    lines = [
        f"<b>Execution quality</b>, last {days}: {q.executions} executions",
        f"filled in full {q.complete}, one-legged {q.one_legged};"
        f" fill rate {_rate(q.fill_rate)} ({q.filled.normalize():f} of"
        f" {q.asked.normalize():f} contracts)",
        f"slippage vs priced: {money(q.slippage)} ({_cents(q.slippage_per_contract)} a contract;"
        " positive is worse)",
    ]
    for venue, s in q.latency.items():
        lines.append(f"latency {escape(venue)}: {_spread(s)}")
    lines.append(f"leg skew: {_spread(q.skew)}")
    lines.append(f"unhedged window: {_spread(q.unhedged)}")
    lines.append(f"hedges cost {money(q.hedge_cost)}, unwinds cost {money(q.unwind_cost)}")
    if q.settled:
        lines.append(
            f"settled {q.settled}: realized {money(q.realized_settled)} vs expected"
            f" {money(q.expected_settled)} ({money(q.realized_settled - q.expected_settled)})"
        )
    else:
        lines.append("settled: none yet (realized vs expected once they settle)")
    if q.worst_slippage is not None and q.worst_slippage.slippage > 0:
        w = q.worst_slippage
        lines.append(f"worst slippage: {escape(w.execution_id)} {money(w.slippage)}")
    if q.slowest is not None:
        worst = max(q.slowest.latencies, key=lambda lat: lat.ms)
        lines.append(
            f"slowest leg: {escape(q.slowest.execution_id)} {escape(worst.venue)} {worst.ms} ms"
        )
    return "\n".join(lines)


def execution_quality_text(q: ExecutionQuality) -> str:
    """One execution's quality (``/quality EXECUTION``, ``predarb quality --execution``)."""
    lines = [
        f"<b>Execution quality</b> {escape(q.execution_id)} ({escape(q.event)})"
        f" [{escape(q.status.value)}]",
        f"fill rate {_rate(q.fill_rate)} ({q.filled.normalize():f} of"
        f" {q.asked.normalize():f} contracts of the entry legs)",
        f"slippage vs priced: {money(q.slippage)}"
        f" ({_cents(q.slippage / q.filled if q.filled > 0 else None)} a contract;"
        " positive is worse)",
    ]
    if q.latencies:
        legs = ", ".join(f"{escape(lat.venue)} {lat.ms} ms" for lat in q.latencies)
        skew = f" (skew {q.skew_ms} ms)" if q.skew_ms is not None else ""
        lines.append(f"latency: {legs}{skew}")
    else:
        lines.append("latency: not timed")
    if q.unhedged_ms is not None:
        lines.append(f"unhedged window: {q.unhedged_ms} ms")
    lines.append(f"hedges cost {money(q.hedge_cost)}, unwinds cost {money(q.unwind_cost)}")
    if q.realized is not None:
        lines.append(
            f"realized {money(q.realized)} vs expected {money(q.expected)}"
            f" ({money(q.realized - q.expected)})"
        )
    else:
        lines.append(f"expected {money(q.expected)}; not settled yet")
    return "\n".join(lines)


def _pnl_row(r: PnlRow) -> str:
    return (
        f"{escape(r.key)}: net {money(r.net)} on {r.settled} settled ({r.wins} won);"
        f" gross {money(r.gross)}, fees {money(r.fees)}"
    )


def breakdown_text(b: Breakdown) -> str:
    lines = [f"<b>P&amp;L {escape(BREAKDOWN_TITLES.get(b.by, b.by))}</b>"]
    if not b.rows:
        lines.append("nothing settled yet")
        return "\n".join(lines)
    lines.extend(_pnl_row(r) for r in b.rows)
    if b.more:
        lines.append(f"... and {b.more} more")
    t = b.total
    lines.append(
        f"<b>total</b>: gross {money(t.gross)}"
        f"\n<b>fees</b>: {money(t.fees)}"
        f"\n<b>net</b>: {money(t.net)} on {t.settled} settled (expected {money(t.expected)})"
    )
    return "\n".join(lines)


def daily_text(windows: Sequence[PnlWindow]) -> str:
    lines = [f"<b>Last {len(windows)} days</b> (UTC)"]
    for w in windows:
        lines.append(
            f"{escape(w.label)}: realized {money(w.realized)} on {w.settled} settled,"
            f" fees {money(w.fees)}, {w.executions} executions"
        )
    total = sum((w.realized for w in windows), Decimal(0))
    fees = sum((w.fees for w in windows), Decimal(0))
    lines.append(f"<b>total</b>: realized {money(total)}, fees {money(fees)}")
    return "\n".join(lines)
