"""Every benchmark in sequence, then a summary. Figures are printed, never asserted.

Run: .venv/bin/python -m bench.run_all [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util

from bench import bench_calculator, bench_tick_to_trade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (CI, < 1 min)")
    args = parser.parse_args()
    print("== calculator throughput")
    bench_calculator.main()
    if importlib.util.find_spec("bench.bench_matching") is not None:
        print("== matching")
        importlib.import_module("bench.bench_matching").main()
    print("== tick-to-trade and leg skew")
    samples = ["--pairs", "1000", "--samples", "50" if args.quick else "300"]
    bench_tick_to_trade.main(samples)


if __name__ == "__main__":
    main()
