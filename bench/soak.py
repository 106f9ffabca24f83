"""Soak: the demo bot for ``--minutes`` with venue faults, watching for leaks.

    .venv/bin/python bench/soak.py --minutes 30

The demo engine (simulated venues, simulated fills, a real SQLite file, circuit
breakers and the supervisor) runs in this process while each venue is made to fail:
a share of reads raise ``VenueUnavailable`` or ``BadResponse``, and every few minutes
a venue goes fully dark for a while (its breaker trips and recovers). Every sample
prints the resident memory and the open file descriptors; at the end the growth from
the settled first tenth of the run to its end is reported, and the exit code is 1 if
it exceeds the bounds (``--max-rss-growth-mb``, ``--max-fd-growth``). CI does not run
it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from bench.measure import rss_mb
from predarb.config import Settings
from predarb.domain import Contract, Market, OrderBook, Venue
from predarb.logs import setup_logging
from predarb.modes import Mode, build_demo_venues, demo_settings
from predarb.runner import run_engine
from predarb.venues.base import BadResponse, VenueClient, VenueUnavailable
from predarb.venues.paper import PaperVenue


@dataclass
class Faults:
    """When each venue fails: a share of reads at random, plus dark windows."""

    rng: random.Random
    read_failure_rate: float = 0.05
    dark_every_s: float = 180.0
    dark_for_s: float = 20.0
    started: float = field(default_factory=time.monotonic)

    def dark(self, venue: Venue) -> bool:
        offset = 0.0 if venue is Venue.KALSHI else self.dark_every_s / 2
        phase = (time.monotonic() - self.started + offset) % self.dark_every_s
        return phase > self.dark_every_s - self.dark_for_s

    def maybe_fail(self, venue: Venue) -> None:
        if self.dark(venue):
            raise VenueUnavailable(venue, "soak: venue dark")
        roll = self.rng.random()
        if roll < self.read_failure_rate / 2:
            raise VenueUnavailable(venue, "soak: injected 503")
        if roll < self.read_failure_rate:
            raise BadResponse(venue, "soak: injected malformed body")


class FlakyPaper(PaperVenue):
    """The demo's paper venue whose market-data reads fail as ``faults`` says."""

    faults: Faults

    async def list_markets(self) -> list[Market]:
        self.faults.maybe_fail(self.venue)
        return await super().list_markets()

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        self.faults.maybe_fail(self.venue)
        return await super().get_order_books(contracts)

    async def get_balance(self) -> Decimal:
        self.faults.maybe_fail(self.venue)
        return await super().get_balance()

    async def health(self) -> bool:
        return not self.faults.dark(self.venue)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def sample(every_s: float, out: list[tuple[float, float, int]]) -> None:
    started = time.monotonic()
    while True:
        point = (time.monotonic() - started, rss_mb(), open_fds())
        out.append(point)
        print(f"{point[0]:7.0f} s  rss {point[1]:7.1f} MB  open files {point[2]:4d}", flush=True)
        await asyncio.sleep(every_s)


async def soak(minutes: float, seed: int, db: Path) -> list[tuple[float, float, int]]:
    settings, _ = demo_settings(Settings(_env_file=None, predarb_db_path=db))
    # At least three dark windows per venue, however short the run.
    every = min(180.0, minutes * 20)
    faults = Faults(random.Random(seed), dark_every_s=every, dark_for_s=every / 8)
    venues: dict[Venue, VenueClient] = {}
    for venue, client in build_demo_venues(seed, resolve_after_s=60.0).items():
        assert isinstance(client, PaperVenue)
        client.__class__ = FlakyPaper  # same state, flaky reads
        client.faults = faults  # type: ignore[attr-defined]
        venues[venue] = client
    samples: list[tuple[float, float, int]] = []
    sampler = asyncio.create_task(sample(max(5.0, minutes * 60 / 30), samples))
    try:
        _, store = await run_engine(
            settings,
            Mode.DEMO,
            venues,
            duration_s=minutes * 60,
            say=lambda _text: None,
            echo_alerts=False,
        )
        await store.close()
    finally:
        sampler.cancel()
    samples.append((samples[-1][0] if samples else 0.0, rss_mb(), open_fds()))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--max-rss-growth-mb", type=float, default=40.0)
    parser.add_argument("--max-fd-growth", type=int, default=10)
    args = parser.parse_args()
    setup_logging("ERROR")  # the injected faults would fill the screen
    with tempfile.TemporaryDirectory() as tmp:
        samples = asyncio.run(soak(args.minutes, args.seed, Path(tmp) / "soak.sqlite3"))
    # The first tenth warms caches, the matcher and the simulator: the baseline is after it.
    base = samples[max(1, len(samples) // 10)] if len(samples) > 2 else samples[0]
    end = samples[-1]
    rss_growth, fd_growth = end[1] - base[1], end[2] - base[2]
    print(
        f"\nsoak {args.minutes:g} min: rss {base[1]:.1f} -> {end[1]:.1f} MB"
        f" ({rss_growth:+.1f}, bound {args.max_rss_growth_mb:g});"
        f" open files {base[2]} -> {end[2]} ({fd_growth:+d}, bound {args.max_fd_growth})"
    )
    ok = rss_growth <= args.max_rss_growth_mb and fd_growth <= args.max_fd_growth
    print("within bounds" if ok else "GROWTH BEYOND BOUNDS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
