"""The engine with Telegram wired as the runner wires it (console + Telegram in FanOut,
sharing the engine's Control): commands steer trading, a partial fill wakes the human
once, and trading goes on while the Bot API is unreachable."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest

from predarb.app import post_trade
from predarb.config import Settings
from predarb.domain import ExecutionStatus, Opportunity, Venue
from predarb.engine import Engine
from predarb.execution.placer import Placement
from predarb.notify.base import FanOut
from predarb.notify.console import ConsoleNotifier
from predarb.notify.telegram import TelegramNotifier
from predarb.store import Store
from tests.core.builders import T0, opportunity
from tests.fakes.scripted_venue import FILL, KILL, ScriptedVenue
from tests.fakes.telegram_server import TOKEN, FakeBotApi
from tests.notify.conftest import CHAT


class Rig:
    def __init__(self, engine: Engine, telegram: TelegramNotifier, console: ConsoleNotifier):
        self.engine = engine
        self.telegram = telegram
        self.console = console
        kalshi, poly = engine.venues[Venue.KALSHI], engine.venues[Venue.POLYMARKET]
        assert isinstance(kalshi, ScriptedVenue) and isinstance(poly, ScriptedVenue)
        self.kalshi, self.poly = kalshi, poly

    async def offer(self, opp: Opportunity) -> Placement | None:
        """What ``Engine.tick`` does with each opportunity the scan finds."""
        decision = await self.engine.check(opp)
        if not decision.approved:
            await self.engine._rejected(opp, decision)
            return None
        return await self.engine.execute(opp)


def build(fake: FakeBotApi, store: Store) -> Rig:
    """Engine, console and Telegram assembled as ``runner.run_engine`` does."""
    settings = Settings(_env_file=None, executor_max_bet=Decimal(10))
    venues = {
        Venue.KALSHI: ScriptedVenue(Venue.KALSHI),
        Venue.POLYMARKET: ScriptedVenue(Venue.POLYMARKET),
    }
    clock = iter(T0 + timedelta(milliseconds=n) for n in range(10**6))
    engine = Engine(settings, store, venues, FanOut([]), mode="paper", clock=lambda: next(clock))
    post_trade(engine)
    telegram = TelegramNotifier(
        TOKEN,
        CHAT,
        fake.base_url,
        engine.control,
        store,
        batch_window_s=0.2,
        clock=engine.clock,
        min_interval_s=0.01,
        poll_timeout_s=1.0,
        stop_timeout_s=2.0,
    )
    console = ConsoleNotifier(StringIO())
    engine.notifier = FanOut([console, telegram])
    return Rig(engine, telegram, console)


@pytest.fixture
async def rig(fake: FakeBotApi, store: Store) -> AsyncIterator[Rig]:
    built = build(fake, store)
    await built.engine.start()
    yield built
    await built.engine.shutdown()


async def test_stop_from_telegram_blocks_the_next_opportunity_and_start_resumes(
    fake: FakeBotApi, store: Store, rig: Rig
) -> None:
    fake.command("/stop", CHAT)
    await fake.wait_for_messages(1)
    assert not rig.engine.control.enabled

    assert await rig.offer(opportunity(event="After stop")) is None
    assert not rig.kalshi.placed and not rig.poly.placed
    assert await store.executions() == []

    fake.command("/start", CHAT)
    replies = await fake.wait_for_messages(2)
    assert replies[1].text == "Trading turned <b>ON</b>."
    placement = await rig.offer(opportunity(event="After start"))
    assert placement is not None and placement.status is ExecutionStatus.SUCCESS


async def test_a_partial_fill_sends_exactly_one_loud_alert(
    fake: FakeBotApi, store: Store, rig: Rig
) -> None:
    rig.kalshi.script = [FILL]
    rig.poly.script = [KILL]
    placement = await rig.offer(opportunity(event="Lakers <vs> Celtics"))
    # The scripted venues show no book to hedge or unwind into: the leg stays exposed.
    assert placement is not None and placement.status is ExecutionStatus.EXPOSED
    # Every alert the engine raised (the console saw them all) reached Telegram.
    await fake.wait_for(lambda: rig.telegram.sender.delivered == len(rig.console.sent))
    loud = [s for s in fake.sent if not s.silent]
    assert len(loud) == 1
    text = loud[0].text
    assert "PARTIAL FILL" in text and "Lakers &lt;vs&gt; Celtics" in text
    assert "filled: leg kalshi" in text and "missing: leg polymarket" in text
    assert "action:" in text
    assert "NOT HEDGED" in text
    one_legged = [a for a in rig.console.sent if a.kind.value in ("partial", "exposed")]
    assert len(one_legged) == 1


async def test_the_bot_trades_while_the_bot_api_is_unreachable(
    fake: FakeBotApi, store: Store
) -> None:
    await fake.go_down()
    rig = build(fake, store)
    engine, console = rig.engine, rig.console
    try:
        started = time.monotonic()
        await engine.start()
        placement = await rig.offer(opportunity(event="Offline"))
        assert time.monotonic() - started < 1.0
        assert placement is not None and placement.status is ExecutionStatus.SUCCESS
        assert [a.kind.value for a in console.sent] == ["executed"]
        assert len(await store.pending_alerts()) == 1  # waiting for Telegram, not lost
        await fake.come_up()
        sent = await fake.wait_for_messages(1, timeout=10)
        assert "EXECUTED" in sent[0].text and "Offline" in sent[0].text
    finally:
        await engine.shutdown()
