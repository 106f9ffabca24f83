"""Execution quality, P&L breakdowns and the last days: the figures from real SQLite
rows, and the commands end to end through the fake Bot API (the real
python-telegram-bot polling it), from the configured chat and from a stranger."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from predarb import reports, reports_periods, reports_quality
from predarb.domain import ExecutionStatus
from predarb.notify import messages, report_texts
from predarb.notify.telegram import TelegramNotifier
from predarb.store import Store
from tests.fakes.telegram_server import FakeBotApi
from tests.notify.conftest import CHAT, STRANGER
from tests.notify.seed import NOW, execution
from tests.notify.seed_quality import timed_execution
from tests.notify.test_telegram_commands import ask

D = Decimal


async def seed(store: Store) -> None:
    await timed_execution(store, "q-1", "Lakers @ Celtics", settle=True)
    await timed_execution(store, "q-2", "Knicks @ Nets", latencies_ms=(80, 1500), one_leg="unwound")
    await timed_execution(
        store, "q-3", "Bulls @ Heat", latencies_ms=(200, 260), one_leg="hedged", kind="cross_team"
    )


async def test_quality_figures_from_the_rows(store: Store) -> None:
    await seed(store)
    record = await store.execution("q-1")
    assert record is not None
    one = reports_quality.execution_quality(record)
    # priced 0.40 and 0.55, filled at 0.41 and 0.55: 5 contracts a cent worse
    assert one.slippage == D("0.05")
    assert [(lat.venue, lat.ms) for lat in one.latencies] == [("kalshi", 120), ("polymarket", 340)]
    assert one.skew_ms == 220 and one.fill_rate == 1

    q = await reports_quality.quality(store, NOW + timedelta(hours=1), days=7)
    assert q.executions == 3 and q.complete == 1 and q.one_legged == 2
    assert q.asked == 30 and q.filled == 20  # q-2 and q-3 missed their second leg
    assert q.slippage == D("0.15") and q.slipped_contracts == 20
    assert q.latency["kalshi"].worst == 200 and q.latency["kalshi"].median == 120
    assert q.latency["polymarket"].worst == 1500  # a leg that did not fill is timed too
    # unwound: bought at 0.41, sold at 0.38, 5 contracts, fee 0.02
    assert q.unwind_cost == D("0.17")
    # hedged: priced 0.55, bought at 0.57, 5 contracts, fee 0.01
    assert q.hedge_cost == D("0.11")
    assert q.unhedged is not None and q.unhedged.worst == 900
    assert q.settled == 1
    settled = await store.execution("q-1")
    assert settled is not None and q.realized_settled == settled.realized_pnl

    text = report_texts.quality_text(q)
    assert "3 executions" in text and "fill rate 66.7%" in text
    assert "hedges cost $0.11, unwinds cost $0.17" in text
    assert "latency kalshi: median 120 ms, p95 200 ms, worst 200 ms (3)" in text


async def test_quality_window_leaves_older_executions_out(store: Store) -> None:
    await timed_execution(store, "old", "Old game", at=NOW - timedelta(days=10))
    await timed_execution(store, "new", "New game")
    q = await reports_quality.quality(store, NOW, days=7)
    assert q.executions == 1
    assert "no executions" in report_texts.quality_text(
        await reports_quality.quality(store, NOW - timedelta(days=20), days=1)
    )


def test_executed_and_partial_alerts_carry_leg_latencies() -> None:
    from tests.notify.seed import execution_record, order_record

    legs = tuple(
        o.__class__(
            **{
                **{f: getattr(o, f) for f in o.__slots__},
                "answered_at": NOW + timedelta(milliseconds=ms),
            }
        )
        for o, ms in ((order_record(), 150), (order_record(filled="0"), 420))
    )
    ex = execution_record(orders=legs)
    assert "latency: kalshi 150 ms, kalshi 420 ms (skew 270 ms)" in messages.executed(ex).html
    partial = execution_record(status=ExecutionStatus.UNWOUND, orders=legs)
    assert "latency: kalshi 150 ms" in messages.one_legged(partial).html


async def test_breakdowns_total_to_all_time_pnl(store: Store) -> None:
    await execution(store, "b-1", "Lakers @ Celtics", settle=True)
    await execution(store, "b-2", "Knicks @ Nets", at=NOW - timedelta(days=40), settle=True)
    await timed_execution(store, "b-3", "Bulls @ Heat", settle=True, kind="cross_team")
    all_time = (await reports.pnl(store, NOW + timedelta(hours=1))).all_time
    for by in reports_periods.GROUPS:
        b = await reports_periods.breakdown(store, by)
        assert b.total.net == all_time.realized, by
        assert b.total.fees == all_time.settled_fees and b.total.gross - b.total.fees == b.total.net
    months = await reports_periods.breakdown(store, "month")
    assert [r.key for r in months.rows] == ["2026-11", "2026-10"]
    weeks = await reports_periods.breakdown(store, "week")
    assert weeks.rows[0].key == "2026-11-16"  # 22 Nov 2026 is a Sunday: its Monday
    kinds = {r.key for r in (await reports_periods.breakdown(store, "kind")).rows}
    assert kinds == {"yes_no", "cross_team"}
    text = report_texts.breakdown_text(months)
    assert "<b>fees</b>:" in text and "<b>net</b>:" in text


async def test_daily_days_match_the_day_report(store: Store) -> None:
    await execution(store, "d-1", "Lakers @ Celtics", settle=True)
    await execution(store, "d-2", "Knicks @ Nets", at=NOW - timedelta(days=2), settle=True)
    days = await reports_periods.daily(store, NOW, 3)
    assert [w.label for w in days] == ["2026-11-22", "2026-11-21", "2026-11-20"]
    assert days[0].settled == 1 and days[1].settled == 0 and days[2].settled == 1
    day = await reports.day_report(store, (NOW - timedelta(days=2)).date(), NOW)
    assert days[2].realized == day.today.realized


async def test_quality_daily_pnl_commands_from_the_chat(
    fake: FakeBotApi, store: Store, bot: TelegramNotifier
) -> None:
    await seed(store)
    reply = await ask(fake, "/quality 30")
    assert reply.text == report_texts.quality_text(
        await reports_quality.quality(store, NOW, days=30)
    )
    assert "<b>Execution quality</b>, last 30 days: 3 executions" in reply.text
    bad = await ask(fake, "/quality many")
    assert bad.text.startswith("Usage: /quality") and "no execution many" in bad.text
    assert (await ask(fake, "/quality 91")).text.startswith("Usage: /quality")
    one = await ask(fake, "/quality q-3")
    measured = await reports_quality.of_execution(store, "q-3")
    assert measured is not None
    assert one.text == report_texts.execution_quality_text(measured)
    assert one.text.startswith("<b>Execution quality</b> q-3 (Bulls @ Heat) [hedged]")
    # The entry legs only: 0.41 for 0.40 on the filled leg; the hedge is its own cost.
    assert "fill rate 50.0% (5 of 10 contracts of the entry legs)" in one.text
    assert "slippage vs priced: $0.05 (1.00¢ a contract" in one.text
    assert "latency: kalshi 200 ms, polymarket 260 ms (skew 60 ms)" in one.text
    assert "unhedged window: 900 ms" in one.text and "hedges cost $0.11" in one.text
    daily = await ask(fake, "/daily 2")
    assert daily.text.startswith("<b>Last 2 days</b>")
    pnl = await ask(fake, "/pnl")
    buttons = [b["callback_data"] for row in pnl.reply_markup["inline_keyboard"] for b in row]
    assert buttons == [f"pnl:{by}" for by in reports_periods.GROUPS]
    kind = await ask(fake, "/pnl kind")
    assert kind.text.startswith("<b>P&amp;L by arbitrage kind</b>")
    before = len(fake.sent)
    fake.button("pnl:month", CHAT)
    month = (await fake.wait_for_messages(before + 1))[before]
    assert month.text.startswith("<b>P&amp;L by month of settlement</b>")


async def test_status_refresh_button_edits_the_message(
    fake: FakeBotApi, store: Store, bot: TelegramNotifier
) -> None:
    status = await ask(fake, "/status")
    assert status.reply_markup["inline_keyboard"][0][1] == {
        "text": "Refresh",
        "callback_data": "status:refresh",
    }
    fake.button("status:refresh", CHAT)
    edits = await fake.wait_for_calls("editMessageText", 1)
    assert "<b>Status</b>" in edits[0].params["text"]


async def test_stranger_gets_nothing_from_the_report_commands(
    fake: FakeBotApi, store: Store, bot: TelegramNotifier
) -> None:
    await seed(store)
    for text in ("/quality", "/quality q-1", "/daily", "/pnl kind"):
        fake.command(text, STRANGER)
    fake.button("pnl:day", STRANGER)
    fake.button("status:refresh", STRANGER)
    reply = await ask(fake, "/help", n_before=0)
    assert reply.text == messages.help_text()
    assert len(fake.sent) == 1 and not fake.sent_to(STRANGER)
    assert not fake.calls_of("answerCallbackQuery") and not fake.calls_of("editMessageText")
