"""How fast the dashboard answers over real HTTP with a month of trading in SQLite.

Builds the simulated month of ``bench_pnl`` (1,000+ executions, settled), serves the
dashboard on a loopback port in front of an engine on it, and times ``GET /api/status``
(the goal: under 50 ms), a page of executions and the P&L series, each a full HTTP
round trip with the token. The baseline, in the same run, is what a naive status costs:
every execution and order read into Python and summed there. Prints figures, asserts
nothing.

    .venv/bin/python -m bench.bench_web [executions] [runs]
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import httpx
from tests.fakes.scripted_venue import ScriptedVenue
from tests.settlement.month import build_month

from bench.bench_pnl import timed
from bench.measure import pct
from predarb.app import post_trade
from predarb.config import Settings
from predarb.domain import ExecutionStatus, Venue
from predarb.engine import Engine
from predarb.notify.base import FanOut
from predarb.store import Store
from predarb.web import Access, Dashboard

TOKEN = "bench-dashboard-token-0123456789"


async def naive_status(store: Store) -> tuple[int, Decimal]:
    """The baseline: every execution with its orders into Python, then counted there."""
    executions = await store.executions()
    open_ = [e for e in executions if e.settled_at is None and e.status != ExecutionStatus.FAILED]
    exposure = sum((o.avg_price * o.filled + o.fee for e in open_ for o in e.orders), Decimal(0))
    return len(open_), exposure


def line(name: str, ms: list[float]) -> str:
    return f"{name:<34} p50 {pct(ms, 50):8.2f} ms   p99 {pct(ms, 99):8.2f} ms"


async def main(n: int, runs: int) -> dict[str, tuple[float, float]]:
    logging.getLogger("predarb").setLevel(logging.CRITICAL)  # the month's mismatch alerts
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "month.sqlite3")
        sock = socket.create_server(("127.0.0.1", 0))
        access = Access("127.0.0.1", int(sock.getsockname()[1]), TOKEN, generated=False)
        venues = {v: ScriptedVenue(v) for v in Venue}
        engine = Engine(Settings(_env_file=None), store, venues, FanOut([]), mode="paper")
        post_trade(engine)
        dashboard = Dashboard(engine, access, sock, say=lambda _: None)
        try:
            await build_month(store, n=n)
            count = (await store.query("SELECT COUNT(*) FROM executions"))[0][0]
            print(f"month: {count} executions in the database")
            await dashboard.start()
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=dashboard.url, headers=headers) as http:

                async def get(path: str) -> None:
                    resp = await http.get(path)
                    assert resp.status_code == 200, resp.text

                status = await timed(lambda: get("/api/status"), runs)
                page = await timed(lambda: get("/api/executions?limit=50"), runs)
                series = await timed(lambda: get("/api/pnl"), max(1, runs // 4))
            naive = await timed(lambda: naive_status(store), max(1, runs // 4))
            print(line("GET /api/status", status))
            print(line("GET /api/executions?limit=50", page))
            print(line("GET /api/pnl", series))
            print(line("naive status (rows into Python)", naive))
            print(
                f"naive / GET /api/status (p50): {pct(naive, 50) / pct(status, 50):.1f}x;"
                " goal: /api/status under 50 ms"
            )
            return {"/api/status p50 (ms)": (pct(status, 50), pct(naive, 50))}
        finally:
            await dashboard.close()
            await store.close()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(args[0] if args else 1200, args[1] if len(args) > 1 else 200))
