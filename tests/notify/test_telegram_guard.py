"""What may command the bot, and how fast (issue 16, findings 4, 5 and 7), with the real
python-telegram-bot polling the fake Bot API: stale and edited commands do nothing,
only the allowed users command it, a group without that list is warned about, and
``/stop`` acts within a second behind a thousand queued commands and a few 429s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from predarb import reports
from predarb.control import Control
from predarb.notify import messages
from predarb.notify.telegram import TelegramNotifier
from predarb.store import Store
from tests.fakes.telegram_server import TOKEN, FakeBotApi
from tests.notify.conftest import CHAT
from tests.notify.seed import NOW

OWNER, OTHER = 111, 222
GROUP = -1001234


async def _started(
    fake: FakeBotApi, control: Control, store: Store, chat: int = CHAT, **kwargs: object
) -> TelegramNotifier:
    bot = TelegramNotifier(
        TOKEN,
        chat,
        fake.base_url,
        control,
        store,
        batch_window_s=0.05,
        clock=lambda: NOW,
        min_interval_s=0.01,
        poll_timeout_s=1.0,
        stop_timeout_s=2.0,
        **kwargs,  # type: ignore[arg-type]
    )
    await bot.start()
    await asyncio.wait_for(bot.polling.wait(), 10)
    return bot


@pytest.fixture
async def stopped(control: Control) -> Control:
    await control.stop("stopped before the test")
    return control


@pytest.fixture
async def allowed(
    fake: FakeBotApi, control: Control, store: Store
) -> AsyncIterator[TelegramNotifier]:
    bot = await _started(fake, control, store, allowed_users=frozenset({OWNER}))
    yield bot
    await bot.stop()


async def _answered(fake: FakeBotApi, text: str, user: int | None = None) -> str:
    """Send ``text`` and wait for its reply: everything queued before it was handled."""
    before = len(fake.sent)
    fake.command(text, CHAT, user_id=user)
    return (await fake.wait_for_messages(before + 1, timeout=10))[before].text


async def test_a_start_sent_before_the_bot_started_does_nothing(
    fake: FakeBotApi, stopped: Control, store: Store
) -> None:
    fake.command("/start", CHAT, date=time.time() - 3 * 3600)  # queued three hours ago
    bot = await _started(fake, stopped, store)
    try:
        reply = (await fake.wait_for_messages(1, timeout=10))[0].text
        assert reply.startswith("Ignored /start sent at ")
        assert "sent before this start" in reply
        assert await _answered(fake, "/help") == messages.help_text()
    finally:
        await bot.stop()
    assert not stopped.enabled and await store.get_state(reports.TRADING_ENABLED) == "0"


async def test_an_edited_stop_and_a_minute_old_start_do_nothing(
    fake: FakeBotApi, stopped: Control, store: Store
) -> None:
    bot = await _started(fake, stopped, store)
    bot.commands.started_at -= 120  # as if it had been running for two minutes
    try:
        fake.command("/start", CHAT, edited=True)
        fake.command("/start", CHAT, date=time.time() - 61)  # delivered a minute late
        assert "more than 60 s old" in (await fake.wait_for_messages(1, timeout=10))[0].text
        assert await _answered(fake, "/help") == messages.help_text()
        assert not stopped.enabled
        assert "turned <b>OFF</b>" not in await _answered(fake, "/start")
        assert stopped.enabled
        fake.command("/stop", CHAT, edited=True)
        assert await _answered(fake, "/help") == messages.help_text()
    finally:
        await bot.stop()
    assert stopped.enabled


async def test_only_allowed_users_command_the_bot(
    fake: FakeBotApi, control: Control, allowed: TelegramNotifier
) -> None:
    fake.command("/stop", CHAT, user_id=OTHER)
    fake.button("stop", CHAT, user_id=OTHER)
    fake.command("/status", CHAT, user_id=OTHER)
    assert await _answered(fake, "/help", user=OWNER) == messages.help_text()
    assert control.enabled and len(fake.sent) == 1
    assert not fake.calls_of("answerCallbackQuery")
    assert "turned <b>OFF</b>" in await _answered(fake, "/stop", user=OWNER)
    assert not control.enabled


async def test_a_group_without_allowed_users_is_warned_about(
    fake: FakeBotApi, control: Control, store: Store
) -> None:
    fake.known_chats.add(GROUP)
    fake.chat_types[GROUP] = "supergroup"
    bot = await _started(fake, control, store, chat=GROUP)
    try:
        warning = (await fake.wait_for_messages(1, timeout=10))[0]
    finally:
        await bot.stop()
    assert warning.chat_id == GROUP
    assert "is a supergroup and TELEGRAM_ALLOWED_USER_IDS is not set" in warning.text


async def test_stop_behind_a_thousand_queued_commands_acts_within_a_second(
    fake: FakeBotApi, control: Control, store: Store
) -> None:
    stopped = asyncio.Event()
    stop, status = control.stop, control.status
    handled: list[int] = []  # /status commands handled so far

    async def stop_and_tell(reason: str) -> bool:
        was = await stop(reason)
        stopped.set()
        return was

    async def count_status(*args: Any, **kwargs: Any) -> Any:
        handled.append(1)
        return await status(*args, **kwargs)

    control.stop = stop_and_tell  # type: ignore[method-assign]
    control.status = count_status  # type: ignore[method-assign]
    bot = await _started(fake, control, store)
    try:
        fake.fail("sendMessage", 429, times=2, retry_after=1)
        for _ in range(1000):
            fake.command("/status", CHAT)
        await fake.wait_for(lambda: len(fake.calls_of("sendMessage")) >= 1, timeout=10)
        sent_at = time.monotonic()
        fake.command("/stop", CHAT)
        waiting = 1000 - len(handled)  # fetched or not, not yet handled
        await asyncio.wait_for(stopped.wait(), 10)
        took = time.monotonic() - sent_at
        fetches_to_stop = len([n for n in fake.batches if n])
        # The /stop reply leaves ahead of the status replies still waiting.
        await fake.wait_for(lambda: any("turned <b>OFF</b>" in s.text for s in fake.sent), 15)
    finally:
        await bot.stop()
    print(
        f"\n/stop behind 1,000 queued commands ({waiting} not yet handled) took effect in"
        f" {took * 1000:.0f} ms, fetched in {fetches_to_stop} getUpdates"
    )
    assert waiting > 900, f"only {waiting} commands were waiting when /stop was sent"
    # Telegram hands out 100 updates a call: /stop came after ten full fetches at least.
    assert max(fake.batches) == 100 and fetches_to_stop >= 11
    assert took < 1.0, f"/stop took {took:.2f} s"
    assert not control.enabled and await store.get_state(reports.TRADING_ENABLED) == "0"
    # A thousand /status cost a handful of replies, not a thousand.
    assert len(fake.sent) < 20


async def test_the_stop_button_acts_before_its_press_is_answered(
    fake: FakeBotApi, control: Control, bot: TelegramNotifier
) -> None:
    """The press is answered beside the stop: with answerCallbackQuery hanging (or
    failing), trading is off and the chat told at once."""
    fake.hold("answerCallbackQuery")
    fake.button("stop", CHAT)
    # Shorter than python-telegram-bot's 5 s read timeout on the held answer.
    reply = (await fake.wait_for_messages(1, timeout=3))[0]
    assert "turned <b>OFF</b>" in reply.text and not control.enabled
    await fake.wait_for(lambda: fake.held("answerCallbackQuery") == 1)  # asked, still hanging
    fake.release("answerCallbackQuery")
    await fake.wait_for_calls("answerCallbackQuery", 1)
