"""How fast /quality answers over a month of 1,000 executions.

Builds the simulated month of ``bench_pnl`` (written through the real Store API,
settled by the real Settler) in a temporary SQLite file, gives every order a sent and
an answered time (a seeded spread of latencies), then times ``reports_quality.quality``
and the whole /quality text, against a naive baseline in the same run that loads
every execution as a record (``store.executions``) and measures each in Python.
Prints figures, asserts nothing. Goal: /quality under 100 ms.

    .venv/bin/python -m bench.bench_quality [executions] [runs]
"""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from tests.settlement.month import NOW, build_month

from bench.bench_pnl import summary, timed
from predarb import reports_quality
from predarb.notify import report_texts
from predarb.store import Store
from predarb.store.records import iso, parse_iso

DAYS = 31  # the whole month


async def time_the_orders(store: Store, seed: int = 11) -> int:
    """Every order sent when it was written and answered 30 ms to 2 s later."""
    rng = random.Random(seed)
    rows = await store.query("SELECT client_order_id, created_at FROM orders")
    updates = []
    for cid, created in rows:
        sent = parse_iso(str(created))
        answered = sent + timedelta(milliseconds=rng.randint(30, 2000))
        updates.append((iso(sent), iso(answered), str(cid)))
    await store._write_many(
        "UPDATE orders SET sent_at = ?, answered_at = ? WHERE client_order_id = ?", updates
    )
    return len(updates)


async def naive_quality(store: Store) -> int:
    """The baseline: every execution as a record, each measured in Python."""
    records = await store.executions(since=NOW - timedelta(days=DAYS))
    measured = [reports_quality.execution_quality(r) for r in records]
    return len(measured)


async def main(n: int, runs: int) -> dict[str, tuple[float, float]]:
    logging.getLogger("predarb").setLevel(logging.CRITICAL)  # the month's mismatch alerts
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "month.sqlite3")
        try:
            start = time.perf_counter()
            await build_month(store, n=n)
            orders = await time_the_orders(store)
            built = time.perf_counter() - start
            report = await reports_quality.quality(store, NOW, DAYS)
            print(
                f"month: {report.executions} executions, {orders} orders timed"
                f" (built in {built:.1f} s)"
            )

            async def quality_text() -> str:
                return report_texts.quality_text(await reports_quality.quality(store, NOW, DAYS))

            fast = await timed(lambda: reports_quality.quality(store, NOW, DAYS), runs)
            text = await timed(quality_text, runs)
            naive = await timed(lambda: naive_quality(store), runs)
            print(summary("reports_quality.quality", fast))
            print(summary("/quality text", text))
            print(summary("naive (records into Python)", naive))
            ratio = statistics.median(naive) / statistics.median(text)
            print(f"naive / /quality (p50): {ratio:.1f}x; goal: /quality under 100 ms")
            return {"/quality p50 (ms)": (statistics.median(text), statistics.median(naive))}
        finally:
            await store.close()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(args[0] if args else 1000, args[1] if len(args) > 1 else 50))
