"""Resident memory after streaming book updates over 2,000 watched pairs.

Each run is a fresh process. Polymarket ``price_change`` frames go through the real
stream state (``PolymarketBookState``), Kalshi books are replaced whole, both into the
engine's ``BookCache``; every update re-prices the touched pairs with the engine's
``price_pairs``, as ``Engine.scan`` does. The run lasts ``--minutes`` of wall time at
full speed (far more updates than the venues send in that time).

Baseline: the same stream, but every book update is also kept (a naive cache that
appends instead of replacing), for the same time up to ``BASELINE_MAX_MINUTES``.

Run: .venv/bin/python -m bench.bench_memory [--minutes M | --full]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from bench.measure import rss_mb
from predarb.arbitrage.calculator import CalcParams
from predarb.arbitrage.fees import kalshi_schedule, polymarket_schedule
from predarb.domain import Contract, Level, Market, OrderBook, Pair, PairKind, Venue, World
from predarb.engine import price_pairs
from predarb.marketdata import BookCache
from predarb.venues.polymarket.ws import PolymarketBookState

PAIRS = 2000
# The baseline keeps every update: ~270 MB a minute at full speed, so it is cut short.
BASELINE_MAX_MINUTES = 6.0
PARAMS = CalcParams(max_cost=Decimal(500))


@dataclass(frozen=True)
class MemoryRun:
    rss_start_mb: float
    rss_end_mb: float
    updates: int
    every_tenth: tuple[float, ...]  # RSS (MB) after each tenth of the run

    @property
    def growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_start_mb


def _world(n: int) -> tuple[Pair, list[Market]]:
    k = Market(
        Venue.KALSHI,
        f"KX-{n}",
        f"KXE-{n}",
        f"event {n}",
        (Contract(Venue.KALSHI, f"KX-{n}", "yes"), Contract(Venue.KALSHI, f"KX-{n}", "no")),
        fee=kalshi_schedule(),
    )
    tokens = (f"{n}1", f"{n}2")
    p = Market(
        Venue.POLYMARKET,
        f"m{n}",
        f"e{n}",
        f"event {n}?",
        tuple(
            Contract(Venue.POLYMARKET, f"m{n}", side, token)
            for side, token in zip(("Yes", "No"), tokens, strict=True)
        ),
        fee=polymarket_schedule(Decimal("0.05")),
    )
    worlds = (
        World("yes", (k.contracts[0], p.contracts[0])),
        World("no", (k.contracts[1], p.contracts[1])),
    )
    return Pair(f"pair-{n}", PairKind.BINARY, k.title, worlds, 1.0, True), [k, p]


def _snapshot(token: str, market: str) -> str:
    return json.dumps(
        {
            "event_type": "book",
            "asset_id": token,
            "market": market,
            "timestamp": "1",
            "hash": "",
            "bids": [{"price": "0.30", "size": "100"}],
            "asks": [{"price": "0.65", "size": "50"}, {"price": "0.60", "size": "100"}],
            "tick_size": "0.01",
        }
    )


def _change(token: str, market: str, price: int, size: int) -> str:
    change = {"asset_id": token, "price": f"0.{price}", "size": str(size), "side": "SELL"}
    return json.dumps({"event_type": "price_change", "market": market, "price_changes": [change]})


def stream(minutes: float, keep_every_update: bool) -> MemoryRun:
    rng = random.Random(7)
    built = [_world(n) for n in range(PAIRS)]
    pairs = [p for p, _ in built]
    markets = {c: m for _, ms in built for m in ms for c in m.contracts}
    poly = {c.token_id: c for c in markets if c.venue is Venue.POLYMARKET}
    kalshi = [c for c in markets if c.venue is Venue.KALSHI]
    cache = BookCache(pairs)
    state = PolymarketBookState(poly, lambda _t: Decimal(1))
    history: list[OrderBook] = []
    now = datetime.now(UTC)
    for token, c in poly.items():
        cache.apply(state.feed(_snapshot(token, c.market_id)), time.monotonic_ns())
    for c in kalshi:
        cache.apply([OrderBook(c, (), (Level(Decimal("0.6"), Decimal(100)),), now)], 0)
    tokens = list(poly)
    start_rss = rss_mb()
    start = time.monotonic()
    deadline = start + minutes * 60
    updates = 0
    every_tenth: list[float] = []
    while time.monotonic() < deadline:
        if time.monotonic() - start >= minutes * 6 * (len(every_tenth) + 1):
            every_tenth.append(rss_mb())
        for _ in range(200):
            if rng.random() < 0.5:
                token = rng.choice(tokens)
                size = rng.choice((0, rng.randint(1, 500)))
                frame = _change(token, poly[token].market_id, rng.randint(61, 98), size)
                books = state.feed(frame)
            else:
                c = rng.choice(kalshi)
                price = Decimal(rng.randint(50, 98)) / 100
                books = [OrderBook(c, (), (Level(price, Decimal(rng.randint(1, 500))),), now)]
            cache.apply(books, time.monotonic_ns())
            if keep_every_update:
                history.extend(books)
            dirty = [p for p, _ in cache.take_dirty()]
            price_pairs(dirty, cache.quotes(dirty, now), markets, PARAMS, now)
            updates += 1
    return MemoryRun(start_rss, rss_mb(), updates, tuple(every_tenth))


def run_isolated(minutes: float, naive: bool) -> MemoryRun:
    """In a fresh process, so that each figure is that run's alone."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(stream, minutes, naive).result()


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=0.5)
    parser.add_argument("--full", action="store_true", help="an hour (60 minutes)")
    args = parser.parse_args(argv)
    minutes = 60.0 if args.full else args.minutes
    base_minutes = min(minutes, BASELINE_MAX_MINUTES)
    ours = run_isolated(minutes, naive=False)
    base = run_isolated(base_minutes, naive=True)
    print(f"{PAIRS} pairs, {minutes:g} min of streaming (baseline {base_minutes:g} min)")
    for name, r in (("predarb", ours), ("baseline (keeps every update)", base)):
        print(
            f"{name:30} RSS {r.rss_start_mb:7.1f} -> {r.rss_end_mb:7.1f} MB"
            f" (growth {r.growth_mb:+7.1f} MB) after {r.updates} updates"
        )
        print(f"{'':30} by tenths: " + " ".join(f"{mb:.1f}" for mb in r.every_tenth))
    print(f"RSS ratio predarb/baseline: {ours.rss_end_mb / base.rss_end_mb:.2f}")
    return {
        "resident memory (MB)": (ours.rss_end_mb, base.rss_end_mb),
        "memory growth (MB)": (ours.growth_mb, base.growth_mb),
    }


if __name__ == "__main__":
    main()
