"""The P&L picture for ``/chart``: cumulative realized P&L over time, and the balance
of each venue, drawn on the box as a PNG.

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

from predarb.domain import Venue
from predarb.reports_periods import PnlPoint

SIZE_IN = (8.0, 5.0)
DPI = 100


def pnl_png(points: Sequence[PnlPoint], balances: Mapping[Venue, Decimal], now: datetime) -> bytes:
    """The chart as PNG bytes. With nothing settled yet, the axes say so."""
    from matplotlib import dates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 4)
    ax = fig.add_subplot(grid[0, :3])
    if points:
        times = [p.at for p in points]
        times.append(max(now, times[-1]))
        xs = dates.date2num(times)  # type: ignore[no-untyped-call]
        ys = [float(p.cumulative) for p in points]
        ys.append(ys[-1])
        ax.step(xs, ys, where="post", color="#1f77b4")
        ax.fill_between(xs, ys, step="post", alpha=0.15, color="#1f77b4")
        ax.axhline(0, color="#888888", linewidth=0.8)
        ax.xaxis_date()
        fig.autofmt_xdate()
        ax.set_title(f"cumulative realized P&L: ${points[-1].cumulative:,.2f}")
    else:
        ax.text(0.5, 0.5, "nothing settled yet", ha="center", va="center")
        ax.set_title("cumulative realized P&L")
    ax.set_ylabel("USD")
    ax.grid(alpha=0.3)
    side = fig.add_subplot(grid[0, 3])
    names = [v.value for v in balances]
    side.bar(names, [float(b) for b in balances.values()], color="#2ca02c")
    side.set_title("balances now")
    side.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


async def render(
    points: Sequence[PnlPoint], balances: Mapping[Venue, Decimal], now: datetime
) -> bytes:
    return await asyncio.to_thread(pnl_png, points, balances, now)
