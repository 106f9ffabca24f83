"""Every benchmark in sequence, then one summary table. Figures are printed, never
asserted; each is shown next to its naive baseline measured in the same run.

Run: .venv/bin/python -m bench.run_all [--quick] [--full-memory]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench import (
    bench_burst,
    bench_calculator,
    bench_matching,
    bench_memory,
    bench_pnl,
    bench_quality,
    bench_replay,
    bench_tick_to_trade,
    bench_unhedged,
    bench_web,
)

Figures = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Goal:
    text: str
    met: Callable[[float], bool]


GOALS = {
    "tick-to-trade p99 (ms)": Goal("< 5 ms", lambda v: v < 5),
    "burst of 4: first-order spread max (ms)": Goal("< 50 ms", lambda v: v < 50),
    "leg skew p99 (ms)": Goal("< 2 ms", lambda v: v < 2),
    "matching 10k x 30k (s)": Goal("< 5 s", lambda v: v < 5),
    "resident memory (MB)": Goal("< 250 MB", lambda v: v < 250),
    "/pnl p50 (ms)": Goal("< 50 ms", lambda v: v < 50),
    "/quality p50 (ms)": Goal("< 100 ms", lambda v: v < 100),
    "/api/status p50 (ms)": Goal("< 50 ms", lambda v: v < 50),
    "replay 10 min at 100x (s)": Goal("< 10 s", lambda v: v < 10),
}


def _section(title: str, run: Callable[[], Figures], into: Figures) -> None:
    print(f"\n== {title}", flush=True)
    start = time.perf_counter()
    into.update(run())
    print(f"({time.perf_counter() - start:.0f} s)", flush=True)


def summary(figures: Figures) -> str:
    lines = [
        "| figure | predarb | baseline | ratio | goal | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, (ours, base) in figures.items():
        goal = GOALS.get(name)
        ratio = ours / base if base else float("nan")
        met = ("yes" if goal.met(ours) else "NO") if goal else ""
        lines.append(
            f"| {name} | {ours:,.2f} | {base:,.2f} | {ratio:.3g} | {goal.text if goal else ''}"
            f" | {met} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (CI, ~2 min)")
    parser.add_argument("--full-memory", action="store_true", help="an hour of streaming")
    args = parser.parse_args()
    quick = args.quick
    started = time.perf_counter()
    figures: Figures = {}
    _section("calculator throughput", bench_calculator.main, figures)
    _section("matching", bench_matching.main, figures)
    _section(
        "/pnl over a month",
        lambda: asyncio.run(bench_pnl.main(1000, 20 if quick else 200)),
        figures,
    )
    _section(
        "/quality over a month",
        lambda: asyncio.run(bench_quality.main(1000, 20 if quick else 100)),
        figures,
    )
    _section(
        "dashboard API over a month",
        lambda: asyncio.run(bench_web.main(1200, 20 if quick else 200)),
        figures,
    )
    samples = "60" if quick else "300"
    _section(
        "tick-to-trade and leg skew",
        lambda: bench_tick_to_trade.main(["--pairs", "1000", "--samples", samples]),
        figures,
    )
    rounds = ["--rounds", "3" if quick else "10"]
    _section(
        "a burst of 4 arbitrages, orders answered 600 ms late",
        lambda: bench_burst.main(rounds),
        figures,
    )
    minutes = ["--full"] if args.full_memory else ["--minutes", "0.25" if quick else "2"]
    _section("memory", lambda: bench_memory.main(minutes), figures)
    unhedged = ["--samples", "20" if quick else "100"]
    _section("unhedged window", lambda: bench_unhedged.main(unhedged), figures)
    _section(
        "replay of a 10-minute recording at 100x (baseline: unpaced)",
        lambda: asyncio.run(bench_replay.main()),
        figures,
    )
    print(f"\n== summary ({time.perf_counter() - started:.0f} s in all)\n")
    print(summary(figures))


if __name__ == "__main__":
    main()
