"""The P&L picture for ``/chart``: cumulative realized P&L over time, and each venue's
balance over time (the balance history the balance job keeps), drawn on the box as a PNG.

Drawn with matplotlib's object API on an Agg canvas (no display, no pyplot global
state), in a worker thread (``render``): a drawing takes a few hundred milliseconds
and must not hold the trading loop. Money is plotted as float only here, for pixels.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from predarb.domain import Venue
from predarb.reports_periods import PnlPoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SIZE_IN = (8.0, 5.0)
DPI = 100
Series = Mapping[Venue, Sequence[tuple[datetime, Decimal]]]


def balance_series(
    history: Series, current: Mapping[Venue, Decimal], now: datetime
) -> dict[Venue, list[tuple[datetime, Decimal]]]:
    """Each venue's kept balances, carried on to ``now`` at its balance now (a venue
    with no history yet is its balance now alone)."""
    out: dict[Venue, list[tuple[datetime, Decimal]]] = {}
    for venue in sorted({*history, *current}, key=lambda v: v.value):
        points = [p for p in history.get(venue, ()) if p[0] <= now]
        last = current.get(venue, points[-1][1] if points else None)
        if last is not None and (not points or points[-1][0] < now):
            points.append((now, last))
        out[venue] = points
    return out


def figure(points: Sequence[PnlPoint], balances: Series, now: datetime) -> Figure:
    """The chart: cumulative P&L above, the balance of each venue over time below.
    With nothing settled (or no balance known) yet, the axes say so."""
    from matplotlib import dates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    ax, side = fig.subplots(2, 1, sharex=False, gridspec_kw={"height_ratios": (3, 2)})
    if points:
        times = [p.at for p in points]
        times.append(max(now, times[-1]))
        xs = dates.date2num(times)  # type: ignore[no-untyped-call]
        ys = [float(p.cumulative) for p in points]
        ys.append(ys[-1])
        ax.step(xs, ys, where="post", color="#1f77b4")
        ax.fill_between(xs, ys, step="post", alpha=0.15, color="#1f77b4")
        ax.axhline(0, color="#888888", linewidth=0.8)
        _dated(ax)
        ax.set_title(f"cumulative realized P&L: ${points[-1].cumulative:,.2f}")
    else:
        ax.text(0.5, 0.5, "nothing settled yet", ha="center", va="center")
        ax.set_title("cumulative realized P&L")
    ax.set_ylabel("USD")
    ax.grid(alpha=0.3)
    drawn = {v: s for v, s in balances.items() if s}
    for venue, series in drawn.items():
        xs = dates.date2num([at for at, _ in series])  # type: ignore[no-untyped-call]
        side.step(xs, [float(b) for _, b in series], where="post", label=venue.value)
    if drawn:
        _dated(side)
        side.legend(loc="upper left", fontsize="small")
        side.set_title("balance per venue")
    else:
        side.text(0.5, 0.5, "no balance read yet", ha="center", va="center")
        side.set_title("balance per venue")
    side.set_ylabel("USD")
    side.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _dated(ax: Any) -> None:
    from matplotlib import dates

    locator = dates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def pnl_png(points: Sequence[PnlPoint], balances: Series, now: datetime) -> bytes:
    """The chart as PNG bytes."""
    out = io.BytesIO()
    figure(points, balances, now).savefig(out, format="png")
    return out.getvalue()


async def render(points: Sequence[PnlPoint], balances: Series, now: datetime) -> bytes:
    return await asyncio.to_thread(pnl_png, points, balances, now)
