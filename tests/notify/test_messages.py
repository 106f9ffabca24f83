"""Message texts: pure functions, no bot. Escaping, cents, splitting and batching."""

from __future__ import annotations

import html
import re
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from predarb.domain import ExecutionStatus, Venue
from predarb.notify import messages as m
from predarb.notify.base import AlertKind
from predarb.reports import PnlReport, PnlWindow, StatusReport
from predarb.store.records import Holding
from tests.notify.seed import NOW, D, execution_record, order_record

NASTY = "Lakers <vs> Celtics & co 🏀"
TAG = re.compile(r"<(/?)(b|i|code|pre|a)( [^>]*)?>")


def assert_valid_html(text: str) -> None:
    """Only our tags remain, and every other < and & is an entity."""
    stripped = TAG.sub("", text)
    assert "<" not in stripped and ">" not in stripped
    assert re.search(r"&(?!(amp|lt|gt|quot|#x27);)", stripped) is None


def test_money_is_to_the_cent_with_sign_and_thousands() -> None:
    assert m.money(D("1234.565")) == "$1,234.57"
    assert m.money(D("-1.005")) == "-$1.01"
    assert m.money(D("-0.004")) == "$0.00"
    assert m.money(D("0.1")) == "$0.10"
    assert m.money(None) == "n/a"
    assert m.pct(D("3.8351")) == "3.84%"


def test_executed_escapes_names_and_keeps_emoji() -> None:
    alert = m.executed(execution_record(), {Venue.KALSHI: D("12.345"), Venue.POLYMARKET: D(7)})
    assert alert.kind is AlertKind.EXECUTED and not alert.urgent
    assert "Lakers &lt;vs&gt; Celtics &amp; co 🏀" in alert.html
    assert "KX&lt;A&gt;&amp;B" in alert.html
    assert_valid_html(alert.html)
    assert NASTY in alert.plain
    assert "expected profit $0.19 (ROI 3.84%)" in alert.html
    assert "balances: kalshi $12.35, polymarket $7.00" in alert.html
    assert "kalshi KX&lt;A&gt;&amp;B buy yes 5/5 @ 0.4000 [filled]" in alert.html


def test_partial_names_both_legs_exposure_and_action() -> None:
    ex = execution_record(
        status=ExecutionStatus.PARTIAL,
        orders=(order_record(), order_record(Venue.POLYMARKET, filled="0")),
    )
    alert = m.partial(ex, "unwind <sell back>", D("2.07"))
    assert alert.urgent and alert.kind is AlertKind.PARTIAL
    filled, missing = alert.html.split("\n")[1:3]
    assert filled.startswith("filled: leg kalshi") and missing.startswith("missing: leg polymarket")
    assert "exposure $2.07; action: unwind &lt;sell back&gt;" in alert.html
    assert_valid_html(alert.html)


def test_one_legged_is_loud_and_says_what_was_done() -> None:
    orders = (order_record(), order_record(Venue.POLYMARKET, filled="0"))
    exposed = m.one_legged(execution_record(status=ExecutionStatus.EXPOSED, orders=orders))
    hedged = m.one_legged(execution_record(status=ExecutionStatus.HEDGED, orders=orders))
    assert exposed.urgent and exposed.kind is AlertKind.EXPOSED
    assert "NOT HEDGED" in exposed.html and "blocked" in exposed.html
    assert hedged.urgent and hedged.kind is AlertKind.PARTIAL
    assert "action: HEDGED" in hedged.html
    for alert in (exposed, hedged):
        assert alert.html.startswith("<b>PARTIAL FILL</b>")
        assert "filled: leg kalshi" in alert.html and "missing: leg polymarket" in alert.html
        assert_valid_html(alert.html)


def test_kill_switch_settled_and_venue_texts() -> None:
    ks = m.kill_switch("daily loss $5.01 > <limit>", 7, D("-5.014"))
    assert ks.urgent and "&lt;limit&gt;" in ks.html and "P&amp;L -$5.01" in ks.html
    assert "/start" in ks.html
    st_alert = m.settled(execution_record(realized=D("0.1849")))
    assert "P&amp;L $0.18 (expected $0.19)" in st_alert.html
    assert m.venue_down(Venue.KALSHI, "HTTP 503 & <timeout>").urgent
    assert not m.venue_up(Venue.KALSHI).urgent
    for alert in (ks, st_alert, m.venue_down(Venue.KALSHI, "<x>"), m.info("a < b & c")):
        assert_valid_html(alert.html)


def test_status_text_shows_reason_limits_and_health() -> None:
    report = StatusReport(
        mode="live",
        trading_enabled=False,
        kill_reason="daily loss <5>",
        balances={Venue.KALSHI: D("10.005")},
        health={Venue.POLYMARKET: "down: HTTP 503"},
        open_positions=2,
        exposure=D("9.5"),
        trades_today=3,
        pnl_today=D("-1.2"),
        max_daily_trades=50,
        max_daily_loss=D(5),
        last_scan=NOW,
        exposed=("A & B",),
    )
    text = m.status_text(report, NOW)
    assert "mode live, trading OFF" in text and "reason: daily loss &lt;5&gt;" in text
    assert "kalshi $10.01" in text and "polymarket down: HTTP 503" in text
    assert "today: 3/50 executions, P&amp;L -$1.20 (loss limit $5.00)" in text
    assert "A &amp; B" in text and "last scan 0s ago" in text
    assert "Kalshi" not in m.balance_text(report) and "total $10.01" in m.balance_text(report)


def test_replies_and_help() -> None:
    text = m.help_text(m.CONTROL_COMMANDS)
    for name, _ in m.COMMANDS:
        assert f"/{name}:" in text
    assert "/unwind:" not in m.help_text({"set"}) and "/set:" in m.help_text({"set"})
    assert "already" in m.stop_reply(False) and "turned <b>OFF</b>" in m.stop_reply(True)
    assert (
        m.start_reply("count <50> reached", False)
        == "Trading stays <b>OFF</b>: count &lt;50&gt; reached"
    )
    assert "turned <b>ON</b>" in m.start_reply(None, False)


def test_trades_text_lists_legs_and_pnl() -> None:
    text = m.trades_text([execution_record(realized=D("-0.456")), execution_record()])
    assert text.startswith("<b>Last 2 executions</b>")
    assert "actual -$0.46" in text and "actual open" in text
    assert text.count("buy yes 5/5 @ 0.4000") == 2
    assert m.trades_text([]) == "<b>Trades</b>: none yet"


def test_split_counts_emoji_as_telegram_does() -> None:
    text = "🏀" * 5000  # 10000 UTF-16 units, one line
    pieces = m.split(text)
    assert all(m.tg_len(p) <= m.MESSAGE_BUDGET for p in pieces)
    assert "".join(pieces) == text


def test_split_never_cuts_an_entity() -> None:
    text = ("a&amp;" * 2000) + "<b>x</b>"
    for piece in m.split(text):
        assert m.tg_len(piece) < m.TELEGRAM_LIMIT
        assert re.search(r"&[a-z]*$", piece) is None  # no dangling entity start


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=300), max_size=60))
def test_split_keeps_every_line_and_stays_under_limit(lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    text = "\n".join(lines)
    pieces = m.split(text, limit=500)
    assert all(m.tg_len(p) <= 500 for p in pieces)
    assert "\n".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_batch_packs_a_burst_into_few_messages_under_the_limit() -> None:
    alerts = [m.executed(execution_record(event=f"{NASTY} #{n}")) for n in range(30)]
    chunks = m.batch(alerts)
    assert 1 < len(chunks) <= 3
    assert all(m.tg_len(c) < m.TELEGRAM_LIMIT for c in chunks)
    joined = "\n\n".join(chunks)
    for a in alerts:
        assert a.html in joined
    bundles = m.bundles([a.html for a in alerts])
    assert [i for b in bundles for i in b.members] == list(range(30))


def test_bundles_give_an_overlong_alert_its_own_messages() -> None:
    long = "\n".join(f"line {n} " + "x" * 100 for n in range(100))
    out = m.bundles(["short one", long, "short two"])
    assert [b.members for b in out] == [(0,), (1,), (2,)]
    assert len(out[1].messages) > 1
    assert html.unescape("\n".join(out[1].messages)) == long


def test_daily_summary_and_positions() -> None:
    w = PnlWindow("today", 3, 2, D("1.5"), D("9"), D("0.14"), D("0.2"), 2, 0)
    report = StatusReport(mode="paper", trading_enabled=True, kill_reason="")
    alert = m.daily_summary("2026-11-22", report, PnlReport(w, w, w, ()))
    assert alert.kind is AlertKind.DAILY_SUMMARY and "realized $1.50 on 2 settled" in alert.html
    holding = Holding("e1", Venue.KALSHI, "KX<1>", "yes", "", D(5), D("2"), D("0.07"))
    text = m.positions_text([execution_record()], [holding])
    assert "KX&lt;1&gt; yes 5 for $2.00 + fees $0.07" in text
    assert m.positions_text([execution_record()], []) == "<b>Positions</b>: none open"


def test_paper_and_demo_say_so_wherever_a_trader_reads_live_says_nothing() -> None:
    orders = (order_record(), order_record(Venue.POLYMARKET, filled="0"))
    paper = execution_record()
    live = replace(paper, mode="live")
    assert m.executed(paper).html.startswith("<b>EXECUTED</b> (paper) Lakers")
    assert m.executed(live).html.startswith("<b>EXECUTED</b> Lakers")
    one_leg = replace(paper, status=ExecutionStatus.UNWOUND, orders=orders)
    assert m.one_legged(one_leg).html.startswith("<b>PARTIAL FILL</b> (paper) Lakers")
    assert m.partial(replace(one_leg, mode="demo"), "unwind", D(2)).html.startswith(
        "<b>PARTIAL FILL</b> (demo) Lakers"
    )
    assert m.one_legged(replace(one_leg, mode="live")).html.startswith("<b>PARTIAL FILL</b> Lakers")

    assert m.trades_text([paper]).startswith("<b>Last 1 executions</b> (paper)\n")
    assert m.trades_text([live]).startswith("<b>Last 1 executions</b>\n")
    assert "actual open, id <code>e1</code>" in m.trades_text([live])

    w = PnlWindow("today", 3, 2, D("1.5"), D("9"), D("0.14"), D("0.2"), 2, 0)
    assert m.pnl_text(PnlReport(w, w, w, (), mode="paper")).startswith("<b>P&amp;L</b> (paper)\n")
    assert m.pnl_text(PnlReport(w, w, w, (), mode="live")).startswith("<b>P&amp;L</b>\n")
    for mode, mark in (("demo", " (demo)"), ("live", "")):
        status = StatusReport(mode=mode, trading_enabled=True, kill_reason="")
        summary = m.daily_summary("2026-11-22", status, PnlReport(w, w, w, ()))
        assert summary.html.startswith(f"<b>Daily summary</b> 2026-11-22{mark}: trading ON")
