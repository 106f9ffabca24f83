"""How fast /pnl answers on a month of trading.

Builds a simulated month (generated executions, written through the real Store API
and settled by the real Settler) in a temporary SQLite file, then times
``reports.pnl`` and the whole /pnl text, against a naive baseline in the same run
that loads every execution and fill into Python and sums there. Prints figures,
asserts nothing.

    .venv/bin/python -m bench.bench_pnl [executions] [runs]
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from tests.settlement.month import NOW, build_month

from predarb import reports
from predarb.notify import messages
from predarb.store import Store
from predarb.store.records import from_micros


async def naive_all_time(store: Store) -> Decimal:
    """The baseline: every row into Python, then sums (all-time realized and costs)."""
    executions = await store.executions()
    realized = sum((e.realized_pnl or Decimal(0) for e in executions if e.settled_at), Decimal(0))
    rows = await store.query("SELECT * FROM fills")
    cost = sum((from_micros(r["cost_micros"]) for r in rows), Decimal(0))
    fees = sum((from_micros(r["fee_micros"]) for r in rows), Decimal(0))
    return realized + cost + fees


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    await fn()  # warm the page cache and statement cache
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(name: str, ms: list[float]) -> str:
    p99 = statistics.quantiles(ms, n=100)[98] if len(ms) >= 2 else ms[0]
    return f"{name:<28} p50 {statistics.median(ms):8.2f} ms   p99 {p99:8.2f} ms"


async def main(n: int, runs: int) -> dict[str, tuple[float, float]]:
    logging.getLogger("predarb").setLevel(logging.CRITICAL)  # the month's mismatch alerts
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "month.sqlite3")
        try:
            start = time.perf_counter()
            await build_month(store, n=n)
            built = time.perf_counter() - start
            counts = await store.query(
                "SELECT (SELECT COUNT(*) FROM executions), (SELECT COUNT(*) FROM fills),"
                " (SELECT COUNT(*) FROM settlements)"
            )
            print(
                f"month: {counts[0][0]} executions, {counts[0][1]} fills,"
                f" {counts[0][2]} settlement lines (built in {built:.1f} s)"
            )

            async def pnl_text() -> str:
                return messages.pnl_text(await reports.pnl(store, NOW))

            fast = await timed(lambda: reports.pnl(store, NOW), runs)
            text = await timed(pnl_text, runs)
            naive = await timed(lambda: naive_all_time(store), runs)
            print(summary("reports.pnl", fast))
            print(summary("/pnl text", text))
            print(summary("naive (rows into Python)", naive))
            ratio = statistics.median(naive) / statistics.median(fast)
            print(f"naive / reports.pnl (p50): {ratio:.1f}x; goal: /pnl under 50 ms")
            return {"/pnl p50 (ms)": (statistics.median(text), statistics.median(naive))}
        finally:
            await store.close()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(args[0] if args else 1000, args[1] if len(args) > 1 else 200))
