"""Push alerts end to end: outbox, batching, urgency, 429/5xx/400 handling, Telegram
down at start, restarts. The real notifier against the fake Bot API over loopback."""

from __future__ import annotations

import asyncio
import time

from predarb.control import Control
from predarb.domain import ExecutionStatus, Venue
from predarb.notify import messages
from predarb.notify.base import Alert
from predarb.notify.telegram import TelegramNotifier
from predarb.store import Store
from tests.fakes.telegram_server import FakeBotApi
from tests.notify.conftest import CHAT, make_bot
from tests.notify.seed import D, execution_record, order_record


def executed(n: int) -> Alert:
    return messages.executed(execution_record(event=f"Game <{n}> & 🏀"), {Venue.KALSHI: D(n)})


def partial_alert() -> Alert:
    ex = execution_record(
        status=ExecutionStatus.PARTIAL,
        orders=(order_record(), order_record(Venue.POLYMARKET, filled="0")),
    )
    return messages.partial(ex, "unwinding the Kalshi leg", D("2.07"))


async def outbox_empty(store: Store) -> bool:
    return not await store.pending_alerts()


async def test_burst_of_30_is_batched_and_fully_delivered(
    fake: FakeBotApi, store: Store, bot: TelegramNotifier
) -> None:
    alerts = [executed(n) for n in range(30)]
    started = time.monotonic()
    for alert in alerts:
        await bot.send(alert)
    assert time.monotonic() - started < 1.0  # send() only writes the outbox
    await fake.wait_for(lambda: bot.sender.delivered == 30)
    assert 1 <= len(fake.sent) <= 3
    text = "\n\n".join(s.text for s in fake.sent)
    for alert in alerts:
        assert alert.html in text
    assert all(s.silent and s.parse_mode == "HTML" and s.chat_id == CHAT for s in fake.sent)
    assert all(messages.tg_len(s.text) < messages.TELEGRAM_LIMIT for s in fake.sent)
    assert await outbox_empty(store)


async def test_partial_fill_is_one_loud_message_never_merged_with_routine(
    fake: FakeBotApi, bot: TelegramNotifier
) -> None:
    await bot.send(executed(1))
    await bot.send(partial_alert())
    await bot.send(executed(2))
    await fake.wait_for(lambda: bot.sender.delivered == 3)
    loud = [s for s in fake.sent if not s.silent]
    assert len(loud) == 1 and loud[0].text == partial_alert().html
    assert "PARTIAL FILL" not in "".join(s.text for s in fake.sent if s.silent)


async def test_429_is_waited_out_then_delivered(
    fake: FakeBotApi, store: Store, bot: TelegramNotifier
) -> None:
    await asyncio.wait_for(bot.ready.wait(), 5)
    fake.fail("sendMessage", 429, retry_after=1)
    await bot.send(partial_alert())
    await fake.wait_for_messages(1, timeout=5)
    calls = fake.calls_of("sendMessage")
    assert [c.status for c in calls] == [429, 200]
    await fake.wait_for(lambda: bot.sender.delivered == 1)
    assert await outbox_empty(store)


async def test_5xx_and_bad_html_are_retried_not_dropped(
    fake: FakeBotApi, store: Store, bot: TelegramNotifier
) -> None:
    await asyncio.wait_for(bot.ready.wait(), 5)
    fake.fail("sendMessage", 502, times=2)
    fake.fail("sendMessage", 400, description="Bad Request: can't parse entities")
    await bot.send(executed(7))
    sent = await fake.wait_for_messages(1, timeout=5)
    assert [c.status for c in fake.calls_of("sendMessage")] == [502, 502, 400, 200]
    assert sent[0].parse_mode is None and sent[0].text == executed(7).plain
    await fake.wait_for(lambda: bot.sender.delivered == 1)
    assert await outbox_empty(store)


async def test_telegram_down_at_start_does_not_block_and_delivers_later(
    fake: FakeBotApi, store: Store, control: Control
) -> None:
    await fake.go_down()
    bot = make_bot(fake, control, store)
    try:
        started = time.monotonic()
        await bot.start()
        for n in range(3):
            await bot.send(executed(n))
        await bot.send(partial_alert())
        assert time.monotonic() - started < 0.5
        assert len(await store.pending_alerts()) == 4
        await asyncio.sleep(0)  # let the connect task hit the closed port at least once
        await fake.come_up()
        await fake.wait_for(lambda: bot.sender.delivered == 4, timeout=10)
        assert await outbox_empty(store)
        fake.command("/help", CHAT)
        await fake.wait_for(lambda: any(s.text == messages.help_text() for s in fake.sent), 10)
    finally:
        stopping = time.monotonic()
        await bot.stop()
        assert time.monotonic() - stopping < 3


async def test_unsent_rows_from_a_previous_run_are_sent_at_start(
    fake: FakeBotApi, store: Store, control: Control
) -> None:
    first = make_bot(fake, control, store)
    await fake.go_down()
    await first.start()
    await first.send(executed(1))
    await first.stop()
    assert len(await store.pending_alerts()) == 1

    await fake.come_up()
    second = make_bot(fake, control, store)
    await second.start()
    try:
        sent = await fake.wait_for_messages(1)
        assert sent[0].text == executed(1).html
        await fake.wait_for(lambda: second.sender.delivered == 1)
        assert await outbox_empty(store)
    finally:
        await second.stop()


async def test_stop_is_bounded_when_telegram_vanishes(
    fake: FakeBotApi, store: Store, control: Control
) -> None:
    bot = make_bot(fake, control, store)
    await bot.start()
    await asyncio.wait_for(bot.polling.wait(), 5)
    await fake.go_down()
    await bot.send(executed(1))
    started = time.monotonic()
    await bot.stop()
    assert time.monotonic() - started < 5
    assert len(await store.pending_alerts()) == 1  # kept for the next start
