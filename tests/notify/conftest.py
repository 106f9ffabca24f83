"""Fixtures: the fake Bot API on loopback, a real SQLite store, and the real
TelegramNotifier (python-telegram-bot Application polling the fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from predarb.control import Control
from predarb.notify.telegram import TelegramNotifier
from predarb.store import Store
from tests.fakes.telegram_server import TOKEN, FakeBotApi
from tests.notify.seed import NOW
from tests.notify.seed import control as make_control

CHAT = 4242
STRANGER = 666


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "predarb.sqlite3")
    yield s
    await s.close()


@pytest.fixture
async def control(store: Store) -> Control:
    return await make_control(store)


def make_bot(fake: FakeBotApi, control: Control, store: Store) -> TelegramNotifier:
    return TelegramNotifier(
        TOKEN,
        CHAT,
        fake.base_url,
        control,
        store,
        batch_window_s=0.2,
        clock=lambda: NOW,
        min_interval_s=0.01,
        poll_timeout_s=1.0,
        stop_timeout_s=2.0,
    )


@pytest.fixture
async def bot(fake: FakeBotApi, control: Control, store: Store) -> AsyncIterator[TelegramNotifier]:
    notifier = make_bot(fake, control, store)
    await notifier.start()
    yield notifier
    await notifier.stop()
