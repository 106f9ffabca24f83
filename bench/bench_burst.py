"""A burst: N arbitrages on N events appear at once (one goal moving many markets),
with both loopback fake venues answering every order 600 ms late. The real engine
(streams, book cache, calculator, risk with reservations, placer, SQLite write-ahead)
runs its executions side by side; the baseline, same run and same fakes, is the same
engine with EXECUTOR_MAX_IN_FLIGHT=1: one execution at a time, as the loop was.

Each round the Polymarket fake streams N ``price_change`` frames back to back, each
opening the arbitrage of a fresh pair. Figures per round: the spread of the N
executions' first orders (the first of each execution's two order requests fully
written to its socket, told apart by the ticker or token in the request) and the time
from the first frame's arrival (``received_ns``) to the last of them.

Run: .venv/bin/python -m bench.bench_burst [--n 4] [--rounds 5] [--delay-ms 600]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from bench.bench_tick_to_trade import BenchEngine, SendClock, bench_venues, settings
from bench.fake_venues import FakeVenuesProcess
from bench.measure import pct
from predarb.domain import Contract, OrderBook, Pair, Venue
from predarb.marketdata import BookCache
from predarb.notify.console import ConsoleNotifier
from predarb.store import Store


class BurstClock(BookCache):
    """The engine's book cache, noting when the first frame of a burst arrived."""

    targets: frozenset[Contract] = frozenset()
    first_ns = 0

    def apply(self, books: Iterable[OrderBook], received_ns: int) -> None:
        books = list(books)
        if not self.first_ns and any(b.contract in self.targets for b in books):
            self.first_ns = received_ns
        super().apply(books, received_ns)


@dataclass
class Figures:
    spread_ms: list[float]  # first orders of the N executions, last minus first
    to_last_ms: list[float]  # first frame of the burst to the last first order


def first_order_ns(clock: SendClock, start: int, pair: Pair) -> int:
    """When the first order request of ``pair``'s execution was written."""
    kalshi, poly = pair.worlds[0].contracts[0], pair.worlds[1].contracts[1]
    marks = (f'"{kalshi.market_id}"'.encode(), f'"{poly.token_id}"'.encode())
    times = [
        ns
        for ns, request in zip(clock.writes[start:], clock.requests[start:], strict=True)
        if any(mark in request for mark in marks)
    ]
    return min(times)


async def run_engine(
    fakes: FakeVenuesProcess,
    workdir: Path,
    key_path: Path,
    poly_key: str,
    pairs_from: int,
    n: int,
    rounds: int,
    *,
    in_flight: int,
) -> Figures:
    clock = SendClock()
    venues, pairs = await bench_venues(fakes, key_path, poly_key, clock)
    # One database for both engines: the fakes keep the first one's positions, and a live
    # start compares the venues' positions with its database before it trades.
    store = await Store.open(workdir / "burst.sqlite3")
    config = settings(workdir / "x.sqlite3").model_copy(
        update={"executor_max_in_flight": in_flight}
    )
    engine = BenchEngine(
        config,
        store,
        venues,
        ConsoleNotifier(echo=False),
        mode="live",
        pairs=pairs,
        say=lambda _text: None,
    )
    cache = BurstClock()
    engine.book_cache = cache
    await engine.start()
    runner = asyncio.create_task(engine.run())
    while cache.live != {Venue.KALSHI, Venue.POLYMARKET}:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    spread, to_last = [], []
    for r in range(rounds):
        burst = pairs[pairs_from + r * n : pairs_from + (r + 1) * n]
        targets = [p.worlds[1].contracts[1] for p in burst]  # Polymarket "No"
        cache.targets, cache.first_ns = frozenset(targets), 0
        start, done = len(clock.writes), engine.traded
        fakes.poly_levels([(str(t.token_id), "SELL", "0.50", "100000") for t in targets])
        await asyncio.wait_for(clock.wait_for(start + 2 * n), 30)
        while engine.traded < done + n:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        # Closed again: the next engine must not trade it.
        fakes.poly_levels([(str(t.token_id), "SELL", "0.50", "0") for t in targets])
        firsts = [first_order_ns(clock, start, p) for p in burst]
        spread.append((max(firsts) - min(firsts)) / 1e6)
        to_last.append((max(firsts) - cache.first_ns) / 1e6)
    engine.stop()
    await runner
    await engine.shutdown()
    await store.close()
    return Figures(spread, to_last)


async def measure(n: int, rounds: int, delay_s: float) -> tuple[Figures, Figures]:
    poly_key = "0x" + secrets.token_hex(32)
    address = Account.from_key(poly_key).address
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        key_path = workdir / "kalshi.pem"
        fakes = FakeVenuesProcess(2 * n * rounds, key_path, address, order_delay_s=delay_s)
        try:
            side = await run_engine(
                fakes, workdir, key_path, poly_key, 0, n, rounds, in_flight=max(n, 4)
            )
            one = await run_engine(
                fakes, workdir, key_path, poly_key, n * rounds, n, rounds, in_flight=1
            )
        finally:
            fakes.stop()
    return side, one


def report(side: Figures, one: Figures, n: int, delay_ms: int) -> dict[str, tuple[float, float]]:
    rows = {
        f"burst of {n}: first-order spread p50 (ms)": (
            pct(side.spread_ms, 50),
            pct(one.spread_ms, 50),
        ),
        f"burst of {n}: first-order spread max (ms)": (max(side.spread_ms), max(one.spread_ms)),
        f"burst of {n}: to the last first order p50 (ms)": (
            pct(side.to_last_ms, 50),
            pct(one.to_last_ms, 50),
        ),
    }
    print(
        f"{n} arbitrages at once, orders answered {delay_ms} ms late, {len(side.spread_ms)}"
        " bursts per engine; baseline: one execution at a time (EXECUTOR_MAX_IN_FLIGHT=1)"
    )
    for name, (ours, base) in rows.items():
        print(f"{name:48} {ours:8.2f}   baseline {base:8.2f}   ratio {ours / base:6.3f}")
    return rows


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--delay-ms", type=int, default=600)
    args = parser.parse_args(argv)
    side, one = asyncio.run(measure(args.n, args.rounds, args.delay_ms / 1000))
    return report(side, one, args.n, args.delay_ms)


if __name__ == "__main__":
    main()
