"""The dashboard on a real loopback port in front of an engine on scripted venues,
assembled as ``runner.run_engine`` assembles it (console and dashboard channels in one
FanOut, the engine's own Control), and a free port for child processes."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import httpx

from predarb.app import post_trade
from predarb.config import Settings
from predarb.domain import Venue
from predarb.engine import Engine
from predarb.notify.base import FanOut
from predarb.notify.console import ConsoleNotifier
from predarb.store import Store
from predarb.web import Access, Dashboard
from tests.fakes.scripted_venue import ScriptedVenue

TOKEN = "dashboard-test-token-0123456789abcdef"


def free_port() -> int:
    """A port free a moment ago, for a child process to listen on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Rig:
    engine: Engine
    dashboard: Dashboard
    console: ConsoleNotifier
    store: Store

    @property
    def url(self) -> str:
        return self.dashboard.url

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10, **kwargs)

    def bearer(self) -> httpx.AsyncClient:
        return self.client(headers={"Authorization": f"Bearer {TOKEN}"})

    @property
    def cookie(self) -> dict[str, str]:
        return {self.dashboard.access.cookie_name: self.dashboard.access.session}


@asynccontextmanager
async def dashboard_rig(tmp_path: Path, **settings: Any) -> AsyncIterator[Rig]:
    store = await Store.open(tmp_path / "web.sqlite3")
    config = Settings(_env_file=None, executor_max_bet=Decimal(10), **settings)
    venues = {v: ScriptedVenue(v) for v in (Venue.KALSHI, Venue.POLYMARKET)}
    engine = Engine(config, store, venues, FanOut([]), mode="paper")
    post_trade(engine)
    sock = socket.create_server(("127.0.0.1", 0))
    access = Access("127.0.0.1", int(sock.getsockname()[1]), TOKEN, generated=False)
    dashboard = Dashboard(engine, access, sock, say=lambda _: None)
    console = ConsoleNotifier(StringIO())
    engine.notifier = FanOut([console, dashboard.feed])
    await dashboard.start()
    await engine.start()
    try:
        yield Rig(engine, dashboard, console, store)
    finally:
        await engine.shutdown()
        await dashboard.close()
        await store.close()
