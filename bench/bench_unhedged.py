"""The unhedged window of a one-legged fill: from the first fill's answer to the hedge
(or unwind) being filled and recorded.

Each sample sends a real opportunity through the real ``Placer`` and adapters to the
loopback fakes, with the Polymarket book moved one cent so its FOK leg dies while the
Kalshi leg fills; ``execution.partial.resolve_partial`` then hedges it (the SQLite
store is real too). Printed: p50/p99 of the window, measured in nanoseconds from
``Placement.first_fill_ns``, next to ``PartialOutcome.unhedged_ms`` as recorded.

Baseline, same run, same fakes: before hedging, each leg's state is asked of its venue
again, one after the other (what a bot that does not trust the answers it already has
would do).

Run: .venv/bin/python -m bench.bench_unhedged [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tests.execution.world import (
    POLY_ADDRESS,
    Fakes,
    fee_of,
    make_venues,
    opportunity,
    running_fakes,
)

from bench.measure import pct
from predarb.domain import ExecutionStatus
from predarb.execution.hedging import HedgePolicy
from predarb.execution.partial import resolve_partial
from predarb.execution.placer import Placement, Placer
from predarb.store import Store

POLICY = HedgePolicy(max_loss_per_contract=Decimal("0.02"), unwind_steps=3)
MOVED = (("0.56", "1000"),)  # the Polymarket leg at 0.55 dies; a hedge at 0.56 fills


def _clock() -> datetime:
    return datetime.now(UTC)


async def _one(fakes: Fakes, placer: Placer, naive: bool) -> tuple[float, int | None]:
    fakes.books(k_asks=(("0.40", "1000"),), p_asks=MOVED)
    placement: Placement = await placer.execute(opportunity(fakes.cfg))
    if placement.status is not ExecutionStatus.PARTIAL or placement.first_fill_ns is None:
        raise RuntimeError(f"expected a one-legged fill, got {placement.status}")
    if naive:
        for leg in placement.legs:
            venue = placer.venues[leg.order.contract.venue]
            await venue.get_order(leg.order.client_order_id, leg.result.venue_order_id)
    outcome = await resolve_partial(
        placer, placement.execution_id, POLICY, fee_of, first_fill_ns=placement.first_fill_ns
    )
    window_ms = (time.monotonic_ns() - placement.first_fill_ns) / 1e6
    if outcome.status is not ExecutionStatus.HEDGED:
        raise RuntimeError(f"expected a hedge, got {outcome.status}: {outcome.note}")
    return window_ms, outcome.unhedged_ms


async def measure(samples: int) -> dict[bool, tuple[list[float], list[int]]]:
    logging.getLogger("predarb").setLevel(logging.ERROR)  # one warning per one-legged fill
    out: dict[bool, tuple[list[float], list[int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with running_fakes(Path(tmp)) as fakes:
            fakes.kalshi.exchange.balance = Decimal(10_000_000)
            fakes.poly.wallet(POLY_ADDRESS).balance = Decimal(10_000_000)
            store = await Store.open(Path(tmp) / "bench.sqlite3")
            venues = make_venues(fakes.cfg)
            placer = Placer(store, venues, mode="live", clock=_clock)
            try:
                await _one(fakes, placer, naive=False)  # warm the connections and caches
                for naive in (False, True):
                    windows, recorded = [], []
                    for _ in range(samples):
                        window, ms = await _one(fakes, placer, naive)
                        windows.append(window)
                        recorded.append(ms if ms is not None else -1)
                    out[naive] = (windows, recorded)
            finally:
                for venue in venues.values():
                    await venue.close()
                await store.close()
    return out


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args(argv)
    runs = asyncio.run(measure(args.samples))
    (ours, ours_ms), (base, base_ms) = runs[False], runs[True]
    print(f"{args.samples} one-legged fills each, hedged one cent worse")
    rows = {
        "unhedged window p50 (ms)": (pct(ours, 50), pct(base, 50)),
        "unhedged window p99 (ms)": (pct(ours, 99), pct(base, 99)),
    }
    for name, (a, b) in rows.items():
        print(f"{name:28} {a:8.2f}   baseline {b:8.2f}   ratio {a / b:5.2f}")
    print(
        f"as recorded (ExecutionRecord.unhedged_ms): p50 {statistics.median(ours_ms)} ms,"
        f" baseline {statistics.median(base_ms)} ms"
    )
    return rows


if __name__ == "__main__":
    main()
