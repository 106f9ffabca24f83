"""A simulated month (1,000 executions, settled day by day by the real Settler): every
P&L figure equals a recomputation from the generated data, to the cent (in fact to
the micro-dollar)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from predarb import reports
from predarb.domain import ZERO, Action, Venue
from predarb.notify import messages
from predarb.reports import PnlWindow
from predarb.store import Store
from tests.settlement.month import DAYS, NOW, START, GenExecution, build_month


def _window(gens: Iterable[GenExecution], lo: datetime | None, hi: datetime | None) -> PnlWindow:
    def inside(ts: datetime | None) -> bool:
        return ts is not None and (lo is None or ts >= lo) and (hi is None or ts < hi)

    traded = [g for g in gens if g.traded]
    settled = [g for g in traded if inside(g.settled_at)]
    all_fills = [f for g in gens for f in g.fills]
    return PnlWindow(
        label="",
        executions=sum(inside(g.created_at) for g in traded),
        settled=len(settled),
        realized=sum((g.pnl for g in settled), ZERO),
        cost=sum((f.signed_cost for g in settled for f in g.fills), ZERO),
        fees=sum((f.fee for f in all_fills if inside(f.ts)), ZERO),
        expected_open=sum((g.expected_profit for g in traded if g.settled_at is None), ZERO),
        wins=sum(g.pnl > 0 for g in settled),
        losses=sum(g.pnl < 0 for g in settled),
        expected=sum((g.expected_profit for g in settled), ZERO),
        settled_fees=sum((f.fee for g in settled for f in g.fills), ZERO),
    )


def _same(got: PnlWindow, want: PnlWindow) -> None:
    for name in PnlWindow.__slots__:
        if name != "label":
            assert getattr(got, name) == getattr(want, name), name
    assert got.roi_pct == want.roi_pct and got.win_rate_pct == want.win_rate_pct


async def test_a_month_of_pnl_matches_an_independent_recomputation(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "month.sqlite3")
    try:
        gens = await build_month(store, n=1000)
        assert len(gens) >= 1000
        report = await reports.pnl(store, NOW)
        today = reports.day_start(NOW)
        week = reports.week_start(NOW)
        _same(report.today, _window(gens, today, None))
        _same(report.week, _window(gens, week, None))
        _same(report.all_time, _window(gens, None, None))
        # The month really exercised every path.
        assert {g.outcome for g in gens if g.settled_at} >= {"yes", "no", "void", "both"}
        assert any(g.settled_at is None for g in gens)  # some still open at the end
        assert report.all_time.wins and report.all_time.losses

        for venue in (Venue.KALSHI, Venue.POLYMARKET):  # the venues the month traded
            fills = [f for g in gens for f in g.fills if f.contract.venue is venue]
            got = next(v for v in report.per_venue if v.venue is venue)
            bought = [f for f in fills if f.action is Action.BUY]
            sold = [f for f in fills if f.action is Action.SELL]
            assert got.bought == sum((f.price * f.contracts for f in bought), ZERO)
            assert got.sold == sum((f.price * f.contracts for f in sold), ZERO)
            assert got.fees == sum((f.fee for f in fills), ZERO)
            paid = [g.payout_by_venue.get(venue, ZERO) for g in gens if g.settled_at]
            assert got.payout == sum(paid, ZERO)
        assert sum((v.realized for v in report.per_venue), ZERO) == report.all_time.realized

        # The summary of a past day covers exactly that day.
        day = (START + timedelta(days=DAYS - 3)).date()
        lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
        past = await reports.day_report(store, day, NOW)
        _same(past.today, _window(gens, lo, lo + timedelta(days=1)))
        assert past.today.label == day.isoformat()

        text = messages.pnl_text(report)
        assert messages.money(report.all_time.realized) in text
        realized = sum((g.pnl for g in gens if g.traded and g.settled_at), ZERO)
        assert messages.money(realized) == messages.money(report.all_time.realized)
        assert realized != Decimal(0)
    finally:
        await store.close()
