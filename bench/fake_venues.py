"""Loopback fake venues for the benchmarks, run in a child process so that their work
(signature checks, matching) does not share the benchmarked event loop or the GIL.

The child serves the Kalshi and Polymarket REST fakes and their WebSocket fakes, with
``pairs`` binary markets on each venue and no arbitrage in the books. The parent steers
it through a pipe: ``("poly", token, side, price, size)`` changes a Polymarket level
(and streams the ``price_change``), ``("poly_many", [(token, side, price, size), ...])``
changes several at once (a burst: one frame), ``("stop",)`` ends it. ``order_delay_s``: both
venues answer every order that late (it is matched at once).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

KALSHI_SERIES = "KXBENCH"


@dataclass(frozen=True)
class FakeUrls:
    kalshi_rest: str
    kalshi_ws: str
    key_id: str
    clob: str
    gamma: str
    poly_ws: str
    poly_creds: tuple[str, str, str]


def kalshi_ticker(n: int) -> str:
    return f"{KALSHI_SERIES}-26-P{n:04d}"


async def _serve(
    conn: Connection, pairs: int, key_path: Path, poly_address: str, order_delay_s: float
) -> None:
    from tests.fakes.kalshi_server import FakeKalshi
    from tests.fakes.polymarket_server import FakePolymarket
    from tests.fakes.ws_kalshi import FakeKalshiWs
    from tests.fakes.ws_polymarket import FakePolymarketWs

    kalshi = FakeKalshi()
    kalshi.order_reply_delay_s = order_delay_s
    await kalshi.start()
    kalshi_ws = FakeKalshiWs(kalshi)
    await kalshi_ws.start()
    poly = FakePolymarket(page_size=500)
    poly.order_reply_delay_s = order_delay_s
    await poly.start()
    poly_ws = FakePolymarketWs(poly)
    await poly_ws.start()
    key_id = kalshi.new_key(key_path)
    kalshi.exchange.balance = Decimal(10_000_000)
    creds = poly.register_wallet(poly_address, balance="10000000")
    for n in range(pairs):
        ticker = kalshi_ticker(n)
        kalshi.add_market(ticker, title=f"Bench event {n}")
        kalshi.set_book(ticker, yes=[("0.40", 100_000)], no=[("0.55", 100_000)])
        m = poly.add_market(f"b{n}", question=f"Bench event {n}?")
        for token in m.tokens.values():
            poly.set_book(token, bids=[("0.30", "100000")], asks=[("0.60", "100000")])
    conn.send(
        FakeUrls(
            kalshi.base_url,
            kalshi_ws.url,
            key_id,
            poly.clob_url,
            poly.gamma_url,
            poly_ws.url,
            creds,
        )
    )
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    def on_command() -> None:
        while conn.poll():
            cmd: tuple[Any, ...] = conn.recv()
            if cmd[0] in ("poly", "poly_many"):
                levels = [cmd[1:]] if cmd[0] == "poly" else cmd[1]
                task = loop.create_task(poly_ws.set_levels(levels))
                pending.add(task)
                task.add_done_callback(pending.discard)
            elif cmd[0] == "stop":
                done.set()

    loop.add_reader(conn.fileno(), on_command)
    await done.wait()
    for server in (poly_ws, kalshi_ws, poly, kalshi):
        await server.stop()


def _child(
    conn: Connection, pairs: int, key_path: str, poly_address: str, order_delay_s: float
) -> None:
    asyncio.run(_serve(conn, pairs, Path(key_path), poly_address, order_delay_s))


class FakeVenuesProcess:
    def __init__(
        self, pairs: int, key_path: Path, poly_address: str, *, order_delay_s: float = 0.0
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_child,
            args=(child, pairs, str(key_path), poly_address, order_delay_s),
            daemon=True,
        )
        self._proc.start()
        self.urls: FakeUrls = self._conn.recv()

    def poly_level(self, token: str, side: str, price: str, size: str) -> None:
        self._conn.send(("poly", token, side, price, size))

    def poly_levels(self, levels: list[tuple[str, str, str, str]]) -> None:
        self._conn.send(("poly_many", levels))

    def stop(self) -> None:
        self._conn.send(("stop",))
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()
