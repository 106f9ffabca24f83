"""Commands end to end: the real Application polls the fake Bot API over loopback and
answers from seeded SQLite rows; only the configured chat is served."""

from __future__ import annotations

import asyncio

import pytest

from predarb import reports
from predarb.control import Control
from predarb.domain import Venue
from predarb.notify import messages, telegram_replies
from predarb.notify.telegram import TelegramNotifier
from predarb.store import Store
from tests.fakes.telegram_server import FakeBotApi, Sent
from tests.notify.conftest import CHAT, STRANGER
from tests.notify.seed import NOW, execution
from tests.notify.seed import control as make_control


async def ask(fake: FakeBotApi, text: str, n_before: int | None = None) -> Sent:
    before = len(fake.sent) if n_before is None else n_before
    fake.command(text, CHAT)
    sent = await fake.wait_for_messages(before + 1)
    return sent[before]


async def seed(store: Store) -> None:
    await execution(store, "ex-1", "Lakers <vs> Celtics & co 🏀", settle=True)
    await execution(store, "ex-2", "Knicks @ Nets")
    await store.set_state(reports.BALANCE_PREFIX + Venue.KALSHI.value, "12.345", NOW)
    await store.set_state(reports.BALANCE_PREFIX + Venue.POLYMARKET.value, "40", NOW)
    await store.set_state(reports.HEALTH_PREFIX + Venue.KALSHI.value, "ok", NOW)
    await store.set_state(reports.LAST_SCAN, "2026-11-22T17:59:30.000000Z", NOW)


async def test_status_from_seeded_rows(
    fake: FakeBotApi, store: Store, bot: TelegramNotifier
) -> None:
    await seed(store)
    reply = await ask(fake, "/status")
    assert reply.chat_id == CHAT and reply.parse_mode == "HTML"
    assert "mode paper, trading ON" in reply.text
    assert "balances: kalshi $12.35, polymarket $40.00" in reply.text
    assert "venues: kalshi ok" in reply.text
    assert "open positions 1, exposure $4.82" in reply.text
    assert "today: 2/50 executions, P&amp;L $0.18 (loss limit $5.00)" in reply.text
    assert "last scan 30s ago" in reply.text
    assert reply.reply_markup == {
        "inline_keyboard": [
            [
                {"text": "Stop trading", "callback_data": "stop"},
                {"text": "Refresh", "callback_data": "status:refresh"},
            ]
        ]
    }


async def test_trades_pnl_positions_balance_help(
    fake: FakeBotApi, store: Store, bot: TelegramNotifier
) -> None:
    await seed(store)
    trades = await ask(fake, "/trades")
    assert trades.text.startswith("<b>Last 2 executions</b> (paper)\n")
    assert (
        "Lakers &lt;vs&gt; Celtics &amp; co 🏀 [success] expected $0.18, actual $0.18"
        in trades.text
    )
    assert "Knicks @ Nets [success] expected $0.18, actual open" in trades.text
    assert "leg kalshi KXNBAGAME-26NOV22LALBOS-LAL buy yes 5/5 @ 0.4000 [filled]" in trades.text
    assert "leg polymarket 512345 buy No 5/5 @ 0.5500 [filled]" in trades.text

    pnl = await ask(fake, "/pnl")
    assert pnl.text == messages.pnl_text(await reports.pnl(store, NOW))
    assert pnl.text.startswith("<b>P&amp;L</b> (paper)\n")  # a paper database's figures
    assert "<b>today</b>: realized $0.18 on 1 settled (ROI " in pnl.text
    assert "fees $0.14, 2 executions, expected on open $0.18" in pnl.text
    assert "<b>all time</b>" in pnl.text and "<b>this week</b>" in pnl.text

    positions = await ask(fake, "/positions")
    assert "<b>Open positions</b> (1)" in positions.text and "Knicks @ Nets" in positions.text
    assert "kalshi KXNBAGAME-26NOV22LALBOS-LAL yes 5 for $2.00 + fees $0.07" in positions.text

    balance = await ask(fake, "/balance")
    assert "kalshi: $12.35" in balance.text and "total $52.35" in balance.text

    help_reply = await ask(fake, "/help")
    assert help_reply.text == messages.help_text()
    commands = fake.calls_of("setMyCommands")
    menu = [c["command"] for c in commands[0].json("commands")]
    assert menu == [name for name, _ in messages.menu()]
    # No operations were handed over: the control commands are neither listed nor told.
    assert "status" in menu and "quality" in menu
    for name in messages.CONTROL_COMMANDS:
        assert name not in menu and f"/{name}:" not in help_reply.text


async def test_stranger_is_ignored_and_gets_no_answer(
    fake: FakeBotApi, store: Store, control: Control, bot: TelegramNotifier
) -> None:
    fake.command("/stop", STRANGER)
    fake.button("stop", STRANGER)
    fake.command("/status", CHAT, user_id=STRANGER)  # chat decides, as documented
    reply = await ask(fake, "/help", n_before=1)
    assert reply.text == messages.help_text()
    assert [s.chat_id for s in fake.sent] == [CHAT, CHAT]
    assert not fake.sent_to(STRANGER) and not fake.calls_of("answerCallbackQuery")
    assert control.enabled and await store.get_state(reports.TRADING_ENABLED) == "1"


async def test_stop_persists_and_start_resumes(
    fake: FakeBotApi, store: Store, control: Control, bot: TelegramNotifier
) -> None:
    stop = await ask(fake, "/stop")
    assert "Trading turned <b>OFF</b>" in stop.text
    assert not control.enabled
    assert await store.get_state(reports.TRADING_ENABLED) == "0"
    assert "Telegram" in await store.get_state(reports.KILL_REASON)
    again = await make_control(store)  # what a restart would read
    assert not again.enabled

    status = await ask(fake, "/status")
    assert "trading OFF" in status.text and "reason: stopped from Telegram" in status.text

    start = await ask(fake, "/start")
    assert start.text == "Trading turned <b>ON</b>."
    assert control.enabled and await store.get_state(reports.TRADING_ENABLED) == "1"


async def test_start_refused_while_daily_trade_count_reached(
    fake: FakeBotApi, store: Store, bot: TelegramNotifier
) -> None:
    limited = await make_control(store, max_daily_trades=2)
    bot.commands.control = limited
    await execution(store, "ex-1", "A")
    await execution(store, "ex-2", "B")
    await ask(fake, "/stop")
    reply = await ask(fake, "/start")
    assert reply.text.startswith("Trading stays <b>OFF</b>: daily trade count 2 reached")
    assert not limited.enabled and await store.get_state(reports.TRADING_ENABLED) == "0"


async def test_button_press_from_the_chat_stops_trading(
    fake: FakeBotApi, control: Control, bot: TelegramNotifier
) -> None:
    fake.button("stop", CHAT)
    reply = (await fake.wait_for_messages(1))[0]
    assert "turned <b>OFF</b>" in reply.text and not control.enabled
    # The press is answered beside the stop, never before it acts.
    assert len(await fake.wait_for_calls("answerCallbackQuery", 1)) == 1


async def test_conflict_on_get_updates_does_not_kill_the_bot(
    fake: FakeBotApi, bot: TelegramNotifier
) -> None:
    await asyncio.wait_for(bot.polling.wait(), 5)
    fake.fail("getUpdates", 409)
    await fake.wait_for(lambda: any(c.status == 409 for c in fake.calls_of("getUpdates")))
    reply = await ask(fake, "/help")
    assert reply.text == messages.help_text()


async def test_reply_lost_to_5xx_or_429_is_sent_again(
    fake: FakeBotApi, bot: TelegramNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram_replies, "REPLY_BACKOFF_S", 0.01)
    await asyncio.wait_for(bot.polling.wait(), 5)
    fake.fail("sendMessage", 500, times=2)
    fake.fail("sendMessage", 429, times=1, retry_after=0)
    before = len(fake.calls_of("sendMessage"))
    reply = await ask(fake, "/help")
    assert reply.text == messages.help_text()
    statuses = [c.status for c in fake.calls_of("sendMessage")[before:]]
    assert statuses == [500, 500, 429, 200]


async def test_reply_refused_by_telegram_is_not_sent_again(
    fake: FakeBotApi, bot: TelegramNotifier
) -> None:
    await asyncio.wait_for(bot.polling.wait(), 5)
    fake.fail("sendMessage", 400, times=1, description="Bad Request: chat not found")
    before = len(fake.calls_of("sendMessage"))
    fake.command("/help", CHAT)
    await fake.wait_for(lambda: len(fake.calls_of("sendMessage")) > before)
    reply = await ask(fake, "/help")  # the bot lives on and answers the next one
    assert reply.text == messages.help_text()
    statuses = [c.status for c in fake.calls_of("sendMessage")[before:]]
    assert statuses == [400, 200]
