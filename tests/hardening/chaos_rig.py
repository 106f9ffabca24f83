"""The bot as ``predarb run --live`` assembles it (real Kalshi and Polymarket adapters,
real signing, circuit breakers, console + Telegram notifiers, a real SQLite file,
JSON logs through the redaction filter), pointed at the loopback fakes, with
generated keys. Shared by the chaos test and ``bench/soak.py``.

In-process rather than a subprocess so the test can fill the engine's own database
(``PRAGMA max_page_count`` is per connection) and read every output it produced.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

from eth_account import Account

from predarb.app import post_trade
from predarb.config import Settings
from predarb.domain import Contract, Pair, PairKind, Venue, World
from predarb.engine import Engine
from predarb.logs import setup_logging
from predarb.notify.base import FanOut
from predarb.notify.console import ConsoleNotifier
from predarb.notify.telegram import TelegramNotifier
from predarb.safety import is_disk_full
from predarb.store import Store
from predarb.venues.kalshi import KalshiVenue
from predarb.venues.polymarket import PolymarketVenue
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.fakes.telegram_server import TOKEN, FakeBotApi

POLY_KEY = "0x8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63"
POLY_ADDRESS = Account.from_key(POLY_KEY).address
CHAT = 4242
FAIR = (("0.60", "20"),)  # Kalshi YES ask + Polymarket NO ask = 1.15: nothing to do
ARB_K, ARB_P = "0.40", "0.55"  # 0.95 plus fees: an arbitrage


@dataclass
class ChaosMarket:
    index: int
    ticker: str
    poly_id: str
    tokens: dict[str, str]

    @property
    def event(self) -> str:
        return f"Chaos event {self.index}"

    def pair(self) -> Pair:
        k = (Contract(Venue.KALSHI, self.ticker, s) for s in ("yes", "no"))
        k_yes, k_no = k
        p_yes = Contract(Venue.POLYMARKET, self.poly_id, "Yes", self.tokens["Yes"])
        p_no = Contract(Venue.POLYMARKET, self.poly_id, "No", self.tokens["No"])
        return Pair(
            pair_id=f"chaos-{self.index}",
            kind=PairKind.BINARY,
            event=self.event,
            worlds=(World("yes", (k_yes, p_yes)), World("no", (k_no, p_no))),
            confidence=0.99,
            tradable=True,
        )


@dataclass
class Chaos:
    kalshi: FakeKalshi
    poly: FakePolymarket
    bot: FakeBotApi
    engine: Engine
    store: Store
    settings: Settings
    markets: list[ChaosMarket]
    console: ConsoleNotifier
    console_out: StringIO
    log_out: StringIO
    pem: str
    extra: dict[str, Any] = field(default_factory=dict)

    def arm(self, m: ChaosMarket, *, depth: str = "20") -> None:
        """An arbitrage on ``m``: Kalshi YES at 0.40, Polymarket NO at 0.55."""
        self.kalshi.set_book(m.ticker, yes=[("0.30", 5)], no=[(str(1 - Decimal(ARB_K)), depth)])
        self.poly.set_book(m.tokens["No"], bids=[("0.50", "5")], asks=[(ARB_P, depth)])
        self.poly.set_book(m.tokens["Yes"], bids=[("0.30", "5")], asks=[("0.70", "5")])

    def disarm(self, m: ChaosMarket) -> None:
        self.kalshi.set_book(m.ticker, yes=[("0.30", 5)], no=[("0.40", 20)])
        self.poly.set_book(m.tokens["No"], bids=[("0.50", "5")], asks=list(FAIR))
        self.poly.set_book(m.tokens["Yes"], bids=[("0.30", "5")], asks=[("0.70", "5")])

    def secrets(self) -> list[str]:
        """Every secret the bot was given, as a grep would look for it."""
        body = "".join(line for line in self.pem.splitlines() if "-----" not in line)
        return [*self.settings.secrets(), POLY_KEY[2:], body[:64], body[-64:]]


async def fill_disk(store: Store) -> None:
    """The database's disk full: the file capped at its size (``max_page_count`` is
    per connection, so this is the bot's own), then the free space left in its pages
    used up, until even an empty row cannot be written."""
    pages = (await store.query("PRAGMA page_count"))[0][0]
    await store.conn.execute(f"PRAGMA max_page_count = {pages}")
    for pad in (2000, 200, 0):
        try:
            for n in range(100_000):
                await store.log_event("filler", datetime.now(UTC), n=n, pad="x" * pad)
        except sqlite3.OperationalError as exc:
            assert is_disk_full(exc), exc
        else:
            raise AssertionError("the database never filled up")


async def free_disk(store: Store) -> None:
    await store.conn.execute("PRAGMA max_page_count = 1073741823")


@asynccontextmanager
async def chaos_bot(tmp_path: Path, n_markets: int = 10) -> AsyncIterator[Chaos]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        bot = FakeBotApi()
        await bot.start()
        key_path = tmp_path / "kalshi.pem"
        key_id = kalshi.new_key(key_path)
        kalshi.exchange.balance = Decimal(100_000)
        creds = poly.register_wallet(POLY_ADDRESS, balance="100000")
        markets = []
        for i in range(n_markets):
            ticker = f"KXCHAOS-26DEC31-M{i:02d}"
            kalshi.add_market(ticker)
            fm = poly.add_market(f"77{i:02d}", tick="0.01", fee_rate="0.04", min_size="1")
            markets.append(ChaosMarket(i, ticker, fm.market_id, dict(fm.tokens)))
        settings = Settings(
            _env_file=None,
            kalshi_api_key_id=key_id,
            kalshi_private_key_path=key_path,
            kalshi_base_url=kalshi.base_url,
            poly_private_key=POLY_KEY,
            poly_api_key=creds[0],
            poly_api_secret=creds[1],
            poly_api_passphrase=creds[2],
            poly_clob_url=poly.clob_url,
            poly_gamma_url=poly.gamma_url,
            telegram_bot_token=TOKEN,
            telegram_chat_id=CHAT,
            telegram_base_url=bot.base_url,
            executor_max_bet=Decimal(10),
            executor_min_roi=Decimal("0.5"),
            executor_cooldown_s=1,
            executor_max_daily_trades=100_000,
            executor_max_daily_loss=Decimal(1000),
            executor_max_exposure=Decimal(100_000),
            predarb_poll_interval_s=0.2,
            predarb_settlement_interval_s=10,
            predarb_db_path=tmp_path / "chaos.sqlite3",
            log_format="json",
        )
        log_out, console_out = StringIO(), StringIO()
        setup_logging("INFO", "json", settings.secrets(), stream=log_out)
        venues = {
            Venue.KALSHI: KalshiVenue(
                kalshi.base_url, key_id, key_path, timeout_s=1.0, max_backoff_s=0.05
            ),
            Venue.POLYMARKET: PolymarketVenue(
                poly.clob_url,
                poly.gamma_url,
                private_key=POLY_KEY,
                api_creds=creds,
                timeout_s=1.0,
                max_backoff_s=0.05,
            ),
        }
        store = await Store.open(settings.predarb_db_path)
        console = ConsoleNotifier(console_out)
        engine = Engine(
            settings,
            store,
            venues,
            FanOut([]),
            mode="live",
            pairs=[m.pair() for m in markets],
            circuit_breakers=True,
        )
        post_trade(engine)
        engine.notifier = FanOut(
            [
                console,
                TelegramNotifier(
                    TOKEN,
                    CHAT,
                    bot.base_url,
                    engine.control,
                    store,
                    batch_window_s=0.2,
                    min_interval_s=0.01,
                    poll_timeout_s=1.0,
                    stop_timeout_s=2.0,
                ),
            ]
        )
        for guarded in engine.safety.guarded.values():
            guarded.breaker.threshold = 3
            guarded.breaker.base_backoff_s = 0.5
            guarded.breaker.max_backoff_s = 2.0
        engine.safety.storage_probe_s = 1.0
        chaos = Chaos(
            kalshi,
            poly,
            bot,
            engine,
            store,
            settings,
            markets,
            console,
            console_out,
            log_out,
            key_path.read_text(),
        )
        for m in markets:
            chaos.disarm(m)
        try:
            yield chaos
        finally:
            await store.close()
            await bot.close()
            for handler in list(root.handlers):
                root.removeHandler(handler)
            for handler in saved[0]:
                root.addHandler(handler)
            root.setLevel(saved[1])
