"""What the benchmarks share: percentiles of samples and the process's resident size."""

from __future__ import annotations

import statistics
from pathlib import Path


def pct(values: list[float], q: int) -> float:
    """The ``q``-th percentile (1..99), inclusive method; a single sample is its own."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def rss_mb() -> float:
    """This process's resident memory (Linux ``/proc``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
