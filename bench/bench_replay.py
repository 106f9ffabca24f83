"""Replay speed: a 10-minute recording replayed at 100x, twice, on the virtual clock.

The recording is written by ``RecordingWriter`` from the offline simulator stepped on its
own clock (the books of its 30 pairs every 2 s, the default poll interval, and every one
of them moves each time: busier than real markets, where most books sit still; listings
every 5 minutes; results as markets resolve), so it needs no network. The goal: under
10 s at 100x (6 s of it is the pacing itself), and the two reports identical. The
baseline is the same replay unpaced (speed 0), measured in the same process.

Run: .venv/bin/python -m bench.bench_replay
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from predarb.config import Settings
from predarb.domain import Venue
from predarb.modes import demo_settings
from predarb.rehearsal import codec
from predarb.rehearsal.recorder import RECORDED
from predarb.rehearsal.recording import RecordingWriter
from predarb.rehearsal.replay import replay
from predarb.venues.sim import SimWorld

MINUTES = 10
STEP_S = 2.0  # PREDARB_POLL_INTERVAL_S's default
LATENCY = {Venue.KALSHI: 120, Venue.POLYMARKET: 150}


def write_recording(path: Path, *, minutes: int = MINUTES, seed: int = 11) -> int:
    world = SimWorld(
        seed, n_games=10, n_crypto=4, n_soccer=4, step_s=STEP_S, respawn=True, resolve_after_s=240.0
    )
    writer = RecordingWriter(path, wall_ns=lambda: codec.ns_of(world.now()))
    end = world.now() + timedelta(minutes=minutes)
    next_listing = world.now()
    awaiting: dict[tuple[Venue, str], None] = {}
    while world.now() < end:
        if world.now() >= next_listing:
            for venue in RECORDED:
                listed = world.markets(venue)
                writer.markets(venue, listed)
                awaiting.update(((venue, m.market_id), None) for m in listed)
            next_listing = world.now() + timedelta(minutes=5)
        contracts = [c for p in world.ground_truth() for c in p.contracts]
        writer.books([b for c in contracts if (b := world.book(c)) is not None])
        for key in list(awaiting):
            resolution = world.resolution(*key)
            if resolution is not None:
                writer.resolution(key[0], resolution)
                del awaiting[key]
        world.step()
    writer.close()
    return writer.lines


async def main() -> dict[str, tuple[float, float]]:
    settings, _ = demo_settings(Settings(_env_file=None))
    settings = settings.model_copy(update={"executor_max_bet": Decimal(25)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ten-minutes.jsonl.gz"
        lines = write_recording(path)
        size_kb = path.stat().st_size / 1024
        started = time.monotonic()
        unpaced = await replay(settings, path, latency_ms=LATENCY, speed=0)
        baseline_s = time.monotonic() - started
        runs = []
        for _ in range(2):
            started, cpu = time.monotonic(), time.process_time()
            report = await replay(settings, path, latency_ms=LATENCY, speed=100)
            runs.append((time.monotonic() - started, report, time.process_time() - cpu))
    print(runs[0][1].text())
    same = runs[0][1].text() == runs[1][1].text() == unpaced.text()
    print(f"recording: {MINUTES} min, {lines} lines, {size_kb:.0f} kB compressed")
    print(
        f"replay at 100x: {runs[0][0]:.2f} s and {runs[1][0]:.2f} s (goal < 10 s);"
        f" CPU {runs[0][2]:.2f} s and {runs[1][2]:.2f} s (the box is shared)"
    )
    print(f"baseline, unpaced: {baseline_s:.2f} s ({MINUTES * 60 / baseline_s:.0f}x real time)")
    print(f"the same report each time: {same}")
    return {"replay 10 min at 100x (s)": (runs[0][0], baseline_s)}


if __name__ == "__main__":
    asyncio.run(main())
