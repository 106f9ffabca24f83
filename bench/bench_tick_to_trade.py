"""Tick-to-trade and leg skew: the real engine (streams, book cache, calculator, risk,
placer, SQLite write-ahead) against loopback fake venues in a child process.

Each sample: the Polymarket fake streams a ``price_change`` that opens an arbitrage on
one of the watched pairs. Tick-to-trade runs from the moment the stream adapter has the
frame (``received_ns``, the clock the stream hands to the book cache) to the moment both
order requests have been written to their sockets (an httpcore network backend records
the last write of each order request); leg skew is the time between those two writes.

Baseline, same run, same fakes: a full re-scan of every pair per update and the legs
sent one after the other (the second once the first is answered).

Run: .venv/bin/python -m bench.bench_tick_to_trade [--samples N] [--pairs N]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpcore
import httpx
from eth_account import Account
from httpcore._backends.auto import AutoBackend

from bench.fake_venues import FakeVenuesProcess
from bench.measure import pct
from predarb.app import post_trade
from predarb.config import Settings
from predarb.domain import Contract, Market, Opportunity, OrderBook, Pair, PairKind, Venue, World
from predarb.engine import Engine
from predarb.events import ExecutionFinished
from predarb.marketdata import BookCache
from predarb.notify.console import ConsoleNotifier
from predarb.store import Store
from predarb.venues.base import VenueClient
from predarb.venues.kalshi.client import KalshiVenue
from predarb.venues.polymarket.client import PolymarketVenue

ORDER_LINES = (b"POST /trade-api/v2/portfolio/events/orders ", b"POST /order ")


@dataclass
class SendClock:
    """Monotonic times at which order requests were fully written to a socket."""

    writes: list[int] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)  # each order request's bytes
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, ns: int, request: bytes = b"") -> None:
        self.writes.append(ns)
        self.requests.append(request)
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        while len(self.writes) < count:
            self.changed.clear()
            await self.changed.wait()


class _TimedStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream, clock: SendClock) -> None:
        self._inner, self._clock = inner, clock
        self._order_written: int | None = None
        self._request = bytearray()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)
        if buffer.startswith(ORDER_LINES) or (self._order_written is not None and buffer):
            self._order_written = time.monotonic_ns()
            self._request += buffer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        if self._order_written is not None:
            self._clock.record(self._order_written, bytes(self._request))
            self._order_written = None
            self._request.clear()
        return await self._inner.read(max_bytes, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return await self._inner.start_tls(*args, **kwargs)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _TimedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, clock: SendClock) -> None:
        self._inner, self._clock = AutoBackend(), clock

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return _TimedStream(await self._inner.connect_tcp(*args, **kwargs), self._clock)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def timed_client(clock: SendClock) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport()
    transport._pool._network_backend = _TimedBackend(clock)
    return httpx.AsyncClient(transport=transport, timeout=10)


class UpdateClock(BookCache):
    """The engine's book cache, noting when the frame carrying ``target`` arrived."""

    target: Contract | None = None
    arrived_ns = 0

    def apply(self, books: Iterable[OrderBook], received_ns: int) -> None:
        books = list(books)
        if any(b.contract == self.target for b in books):
            self.arrived_ns = received_ns
        super().apply(books, received_ns)


class BenchEngine(Engine):
    """The engine, counting the executions that have ended (the trade, the balance
    refresh and the alert after it), so that samples do not overlap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        post_trade(self)  # as the bot runs it: balances and alerts after each execution
        self.traded = 0
        self.bus.subscribe(self._count, ExecutionFinished)

    def _count(self, _event: ExecutionFinished) -> None:
        self.traded += 1


class FullRescanEngine(BenchEngine):
    """The baseline: every update re-prices every pair."""

    async def scan(self) -> list[Opportunity]:
        self.book_cache.take_dirty()
        self.book_cache.mark_all()
        return await super().scan()


class SequentialLegs:
    """A venue whose orders wait for the previous order (on any venue) to be answered."""

    def __init__(self, inner: VenueClient, lock: asyncio.Lock) -> None:
        self._inner, self._lock = inner, lock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def place_order(self, order: Any) -> Any:
        async with self._lock:
            return await self._inner.place_order(order)


@dataclass
class Figures:
    tick_to_trade_ms: list[float]
    skew_ms: list[float]


def build_pairs(kalshi: list[Market], poly: list[Market]) -> list[Pair]:
    by_title = {m.title.rstrip("?"): m for m in poly}
    pairs = []
    for k in kalshi:
        p = by_title.get(k.title)
        if p is None:
            continue
        worlds = (
            World("yes", (k.contract("yes"), p.contract("Yes"))),
            World("no", (k.contract("no"), p.contract("No"))),
        )
        pairs.append(Pair(f"pair-{k.market_id}", PairKind.BINARY, k.title, worlds, 1.0, True))
    pairs.sort(key=lambda p: p.pair_id)
    return pairs


def settings(db: Path) -> Settings:
    # Every trade is on the same event: no cooldown between them (below the floor a user
    # may set, EXECUTOR_COOLDOWN_S, hence set after validation).
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        predarb_db_path=db,
        executor_min_bet=1,
        executor_max_bet=10,
        executor_min_roi=0.1,
        executor_max_roi=50,
        executor_max_daily_trades=100_000,
        executor_max_daily_loss=1_000_000,
        # Executions in flight count as possible one-legged results: not the limit here.
        executor_daily_partial_limit=1000,
        executor_max_exposure=10_000_000,
        predarb_poll_interval_s=2,
    ).model_copy(update={"executor_cooldown_s": 0})


async def bench_venues(
    fakes: FakeVenuesProcess, key_path: Path, poly_key: str, clock: SendClock
) -> tuple[dict[Venue, Any], list[Pair]]:
    """Both real adapters on the fakes, their order writes timed by ``clock``, with
    rate limits out of the way; and the pairs of the markets they list."""
    urls = fakes.urls
    kalshi = KalshiVenue(
        urls.kalshi_rest,
        urls.key_id,
        key_path,
        ws_url=urls.kalshi_ws,
        http_client=timed_client(clock),
        read_rate=10_000,
        write_rate=10_000,
    )
    poly = PolymarketVenue(
        urls.clob,
        urls.gamma,
        private_key=poly_key,
        api_creds=urls.poly_creds,
        ws_url=urls.poly_ws,
        http_client=timed_client(clock),
        clob_reads_per_10s=100_000,
        clob_writes_per_10s=100_000,
        gamma_reads_per_10s=100_000,
        page_size=500,
    )
    pairs = build_pairs(await kalshi.list_markets(), await poly.list_markets())
    return {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly}, pairs


async def run_engine(
    fakes: FakeVenuesProcess,
    workdir: Path,
    key_path: Path,
    poly_key: str,
    first: int,
    samples: int,
    *,
    naive: bool,
) -> Figures:
    clock = SendClock()
    venues, pairs = await bench_venues(fakes, key_path, poly_key, clock)
    if naive:
        lock = asyncio.Lock()
        venues = {v: SequentialLegs(c, lock) for v, c in venues.items()}
    # One database for both runs: the fakes keep the first run's positions, and a live
    # start compares the venues' positions with its database before it trades.
    store = await Store.open(workdir / "engine.sqlite3")
    cls = FullRescanEngine if naive else BenchEngine
    engine = cls(
        settings(workdir / "x.sqlite3"),
        store,
        venues,
        ConsoleNotifier(echo=False),
        mode="live",
        pairs=pairs,
        say=lambda _text: None,
    )
    cache = UpdateClock()
    engine.book_cache = cache
    await engine.start()
    runner = asyncio.create_task(engine.run())
    while cache.live != {Venue.KALSHI, Venue.POLYMARKET}:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    t2t, skew = [], []
    for n in range(first, first + samples):
        pair = pairs[n]
        target = pair.worlds[1].contracts[1]  # Polymarket "No"
        cache.target = target
        before = len(clock.writes)
        done = engine.traded
        fakes.poly_level(target.token_id, "SELL", "0.50", "100000")
        await asyncio.wait_for(clock.wait_for(before + 2), 10)
        a, b = clock.writes[before : before + 2]
        t2t.append((max(a, b) - cache.arrived_ns) / 1e6)
        skew.append(abs(a - b) / 1e6)
        while engine.traded == done:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    engine.stop()
    await runner
    await engine.shutdown()
    await store.close()
    return Figures(t2t, skew)


async def measure(pairs: int, samples: int) -> tuple[Figures, Figures]:
    poly_key = "0x" + secrets.token_hex(32)
    address = Account.from_key(poly_key).address
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        key_path = workdir / "kalshi.pem"
        fakes = FakeVenuesProcess(pairs, key_path, address)
        try:
            fast = await run_engine(fakes, workdir, key_path, poly_key, 0, samples, naive=False)
            slow = await run_engine(
                fakes, workdir, key_path, poly_key, samples, samples, naive=True
            )
        finally:
            fakes.stop()
    return fast, slow


def report(fast: Figures, slow: Figures, pairs: int) -> dict[str, tuple[float, float]]:
    rows = {
        "tick-to-trade p50 (ms)": (pct(fast.tick_to_trade_ms, 50), pct(slow.tick_to_trade_ms, 50)),
        "tick-to-trade p99 (ms)": (pct(fast.tick_to_trade_ms, 99), pct(slow.tick_to_trade_ms, 99)),
        "leg skew p50 (ms)": (pct(fast.skew_ms, 50), pct(slow.skew_ms, 50)),
        "leg skew p99 (ms)": (pct(fast.skew_ms, 99), pct(slow.skew_ms, 99)),
    }
    print(f"{pairs} watched pairs, {len(fast.skew_ms)} trades per engine")
    for name, (ours, base) in rows.items():
        print(f"{name:24} {ours:8.2f}   baseline {base:8.2f}   ratio {ours / base:5.2f}")
    return rows


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args(argv)
    fast, slow = asyncio.run(measure(args.pairs, min(args.samples, args.pairs // 2)))
    return report(fast, slow, args.pairs)


if __name__ == "__main__":
    main()
