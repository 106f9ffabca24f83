"""P&L broken down: by UTC day, week (from Monday) or month of settlement, by arbitrage
kind, by category and by pair, with fees as their own line; the last N days one by one;
and the cumulative realized P&L over time that ``/chart`` draws.

Sums are taken in SQL over integer micro-dollars, over the same executions as
``reports.pnl_window`` (those that traded), so a breakdown's total is the all-time
figure of ``/pnl`` to the cent. Telegram and the CLI both call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from predarb import reports
from predarb.store import Store
from predarb.store.records import from_micros, parse_iso
from predarb.store.state import this_mode

# What a breakdown groups by, as SQL over ``executions e`` joined to ``pairs p``.
GROUPS: dict[str, str] = {
    "day": "substr(e.settled_at, 1, 10)",
    "week": "date(substr(e.settled_at, 1, 10), '-6 days', 'weekday 1')",
    "month": "substr(e.settled_at, 1, 7)",
    "kind": "e.kind",
    "category": "COALESCE(NULLIF(json_extract(p.data, '$.category'), ''), 'uncategorized')",
    "pair": "e.pair_id",
}
PERIODS = ("day", "week", "month")
MAX_ROWS = 30  # a breakdown shows the latest periods, or the largest groups, this many


@dataclass(frozen=True, slots=True)
class PnlRow:
    """One group of settled executions: ``gross`` is payout minus cost, ``fees`` what
    their fills paid, ``net`` the realized P&L (gross minus fees)."""

    key: str
    settled: int
    wins: int
    gross: Decimal
    fees: Decimal
    net: Decimal
    expected: Decimal  # what the calculator expected of them


@dataclass(frozen=True, slots=True)
class Breakdown:
    by: str
    rows: tuple[PnlRow, ...]  # periods latest first; other groups largest |net| first
    total: PnlRow
    more: int  # groups left out beyond MAX_ROWS


def _row(key: str, r: tuple[object, ...]) -> PnlRow:
    settled, wins, net, fees, expected = (int(str(v or 0)) for v in r)
    return PnlRow(
        key=key,
        settled=settled,
        wins=wins,
        gross=from_micros(net + fees),
        fees=from_micros(fees),
        net=from_micros(net),
        expected=from_micros(expected),
    )


async def breakdown(store: Store, by: str, *, limit: int = MAX_ROWS) -> Breakdown:
    """Realized P&L of settled executions grouped ``by`` one of ``GROUPS``."""
    if by not in GROUPS:
        raise ValueError(f"unknown breakdown {by!r}: one of {', '.join(GROUPS)}")
    order = "g DESC" if by in PERIODS else "ABS(net) DESC, g"
    rows = await store.query(
        f"SELECT {GROUPS[by]} AS g, COUNT(*), SUM(e.realized_pnl_micros > 0),"
        " SUM(e.realized_pnl_micros) AS net,"
        " SUM((SELECT COALESCE(SUM(f.fee_micros), 0) FROM fills f WHERE f.execution_id = e.id)),"
        " SUM(e.expected_profit_micros)"
        " FROM executions e LEFT JOIN pairs p ON p.pair_id = e.pair_id"
        " WHERE e.settled_at IS NOT NULL AND e.realized_pnl_micros IS NOT NULL"
        f" AND e.status IN ({reports._TRADED_MARKS}) AND {this_mode('e')}"
        f" GROUP BY g ORDER BY {order}",
        reports._TRADED_VALUES,
    )
    all_rows = [_row(str(r[0]), tuple(r[1:])) for r in rows]
    total = PnlRow(
        key="total",
        settled=sum(r.settled for r in all_rows),
        wins=sum(r.wins for r in all_rows),
        gross=sum((r.gross for r in all_rows), Decimal(0)),
        fees=sum((r.fees for r in all_rows), Decimal(0)),
        net=sum((r.net for r in all_rows), Decimal(0)),
        expected=sum((r.expected for r in all_rows), Decimal(0)),
    )
    return Breakdown(by, tuple(all_rows[:limit]), total, max(0, len(all_rows) - limit))


async def daily(store: Store, now: datetime, days: int = 7) -> list[reports.PnlWindow]:
    """Each of the last ``days`` UTC days (today first), with ``/pnl``'s figures."""
    today = reports.day_start(now)
    expected_open = await reports._expected_open(store)
    out = []
    for n in range(days):
        start = today - timedelta(days=n)
        out.append(
            await reports.pnl_window(
                store,
                start.date().isoformat(),
                start,
                now,
                until=start + timedelta(days=1),
                expected_open=expected_open,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class PnlPoint:
    at: datetime
    cumulative: Decimal


async def cumulative(store: Store) -> list[PnlPoint]:
    """Realized P&L summed over time, one point per settled execution, oldest first."""
    rows = await store.query(
        "SELECT settled_at, realized_pnl_micros FROM executions"
        " WHERE settled_at IS NOT NULL AND realized_pnl_micros IS NOT NULL"
        f" AND status IN ({reports._TRADED_MARKS}) AND {this_mode()}"
        " ORDER BY settled_at, id",
        reports._TRADED_VALUES,
    )
    out: list[PnlPoint] = []
    running = 0
    for at, micros in rows:
        running += int(micros)
        out.append(PnlPoint(parse_iso(str(at)), from_micros(running)))
    return out
