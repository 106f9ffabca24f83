"""Alert texts, built by pure functions (no I/O, no bot): Telegram HTML with every
dynamic value escaped. The console notifier shows the same text without tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from html import escape

from predarb.domain import ExecutionStatus, Venue
from predarb.notify.base import Alert, AlertKind
from predarb.reports import PnlReport, PnlWindow, StatusReport
from predarb.store.records import ExecutionRecord, OrderRecord

TELEGRAM_LIMIT = 4096


def money(amount: Decimal | None) -> str:
    """Dollars to the cent, sign first: ``-$1.25``."""
    if amount is None:
        return "n/a"
    cents = amount.quantize(Decimal("0.01"))
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def pct(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value.quantize(Decimal('0.01'))}%"


def qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


def leg_line(o: OrderRecord) -> str:
    filled = f"{qty(o.filled)}/{qty(o.contracts)}"
    side = escape(o.side if o.venue is Venue.KALSHI else f"{o.side}")
    price = o.avg_price if o.filled else o.price
    return (
        f"{escape(o.role)} {escape(o.venue.value)} {escape(o.market_id)} "
        f"{escape(o.action)} {side} {filled} @ {price:.4f} [{escape(o.status.value)}]"
    )


def executed(ex: ExecutionRecord, balances: Mapping[Venue, Decimal] | None = None) -> Alert:
    lines = [
        f"<b>EXECUTED</b> {escape(ex.event)} ({escape(ex.kind)})",
        *(leg_line(o) for o in ex.orders),
        f"cost {money(ex.expected_cost)} + fees {money(ex.expected_fees)}, "
        f"expected profit {money(ex.expected_profit)} (ROI {pct(ex.roi_pct)})",
    ]
    if balances:
        lines.append(
            "balances: " + ", ".join(f"{escape(v.value)} {money(b)}" for v, b in balances.items())
        )
    return Alert(AlertKind.EXECUTED, "\n".join(lines))


def partial(ex: ExecutionRecord, action: str, exposure: Decimal) -> Alert:
    filled = [o for o in ex.orders if o.role == "leg" and o.filled > 0]
    missing = [o for o in ex.orders if o.role == "leg" and o.filled < o.contracts]
    lines = [
        f"<b>PARTIAL FILL</b> {escape(ex.event)} ({escape(ex.kind)})",
        "filled: " + ("; ".join(leg_line(o) for o in filled) or "none"),
        "missing: " + ("; ".join(leg_line(o) for o in missing) or "none"),
        f"exposure {money(exposure)}; action: {escape(action)}",
    ]
    return Alert(AlertKind.PARTIAL, "\n".join(lines))


def outcome_after_partial(ex: ExecutionRecord) -> Alert:
    """The result of handling a partial: hedged, unwound, or still exposed."""
    if ex.status is ExecutionStatus.EXPOSED:
        return Alert(
            AlertKind.EXPOSED,
            f"<b>EXPOSED</b> {escape(ex.event)}: an unhedged leg is still held; trading on this"
            f" event is blocked until it is resolved.\n{escape(ex.note)}\n"
            + "\n".join(leg_line(o) for o in ex.orders),
        )
    word = "HEDGED" if ex.status is ExecutionStatus.HEDGED else escape(ex.status.value.upper())
    window = f" in {ex.unhedged_ms} ms" if ex.unhedged_ms is not None else ""
    return Alert(
        AlertKind.EXECUTED,
        f"<b>{word}</b> {escape(ex.event)}{window}. {escape(ex.note)}\n"
        + "\n".join(leg_line(o) for o in ex.orders),
    )


def kill_switch(reason: str, trades_today: int, pnl_today: Decimal) -> Alert:
    return Alert(
        AlertKind.KILL_SWITCH,
        f"<b>KILL SWITCH</b>: trading stopped. Reason: {escape(reason)}\n"
        f"today: {trades_today} executions, P&amp;L {money(pnl_today)}\n"
        "Open positions keep being tracked and settled. Send /start to resume"
        " once the cause is fixed.",
    )


def settled(ex: ExecutionRecord) -> Alert:
    return Alert(
        AlertKind.SETTLED,
        f"<b>SETTLED</b> {escape(ex.event)}: {escape(ex.resolution or 'resolved')}\n"
        f"payout {money(ex.payout)}, P&amp;L {money(ex.realized_pnl)}"
        f" (expected {money(ex.expected_profit)})",
    )


def venue_down(venue: Venue, reason: str) -> Alert:
    return Alert(
        AlertKind.VENUE_DOWN,
        f"<b>VENUE DOWN</b> {escape(venue.value)}: {escape(reason)}."
        " No new executions that need it.",
    )


def venue_up(venue: Venue) -> Alert:
    return Alert(AlertKind.VENUE_UP, f"<b>VENUE BACK</b> {escape(venue.value)} answers again.")


def info(text: str, kind: AlertKind = AlertKind.INFO) -> Alert:
    return Alert(kind, escape(text))


def batch(alerts: Sequence[Alert]) -> list[str]:
    """Join alerts into as few messages as fit under Telegram's length limit."""
    chunks: list[str] = []
    current = ""
    for alert in alerts:
        for piece in split(alert.html):
            joined = f"{current}\n\n{piece}" if current else piece
            if len(joined) <= TELEGRAM_LIMIT - 96:
                current = joined
            else:
                chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks


def split(text: str, limit: int = TELEGRAM_LIMIT - 96) -> list[str]:
    """Split on line boundaries below ``limit`` characters (a single overlong line is cut)."""
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(line[:limit])
            line = line[limit:]
        joined = f"{current}\n{line}" if current else line
        if len(joined) > limit:
            out.append(current)
            current = line
        else:
            current = joined
    if current:
        out.append(current)
    return out


def _ago(ts: datetime | None, now: datetime) -> str:
    if ts is None:
        return "never"
    seconds = int((now - ts).total_seconds())
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60}m ago"


def status_text(r: StatusReport, now: datetime) -> str:
    state = "ON" if r.trading_enabled else "OFF"
    lines = [f"<b>Status</b> mode {escape(r.mode)}, trading {state}"]
    if not r.trading_enabled and r.kill_reason:
        lines.append(f"reason: {escape(r.kill_reason)}")
    if r.balances:
        lines.append(
            "balances: " + ", ".join(f"{escape(v.value)} {money(b)}" for v, b in r.balances.items())
        )
    if r.health:
        lines.append(
            "venues: " + ", ".join(f"{escape(v.value)} {escape(h)}" for v, h in r.health.items())
        )
    lines.append(f"open positions {r.open_positions}, exposure {money(r.exposure)}")
    trades_cap = f"/{r.max_daily_trades}" if r.max_daily_trades else ""
    loss_cap = f" (loss limit {money(r.max_daily_loss)})" if r.max_daily_loss else ""
    lines.append(
        f"today: {r.trades_today}{trades_cap} executions, P&amp;L {money(r.pnl_today)}{loss_cap}"
    )
    if r.exposed:
        lines.append("<b>EXPOSED</b>: " + ", ".join(escape(e) for e in r.exposed))
    lines.append(f"last scan {_ago(r.last_scan, now)}")
    return "\n".join(lines)


def trades_text(executions: Sequence[ExecutionRecord]) -> str:
    if not executions:
        return "<b>Trades</b>: none yet"
    lines = [f"<b>Last {len(executions)} executions</b>"]
    for ex in executions:
        actual = money(ex.realized_pnl) if ex.realized_pnl is not None else "open"
        lines.append(
            f"{ex.created_at:%m-%d %H:%M} {escape(ex.event)} [{escape(ex.status.value)}]"
            f" expected {money(ex.expected_profit)}, actual {actual}"
        )
        lines.extend("  " + leg_line(o) for o in ex.orders)
    return "\n".join(lines)


def _window(w: PnlWindow) -> str:
    win = f"{w.win_rate_pct}%" if w.win_rate_pct is not None else "n/a"
    return (
        f"<b>{escape(w.label)}</b>: realized {money(w.realized)} on {w.settled} settled"
        f" (ROI {pct(w.roi_pct)}, win rate {win}), fees {money(w.fees)},"
        f" {w.executions} executions, expected on open {money(w.expected_open)}"
    )


def pnl_text(r: PnlReport) -> str:
    lines = ["<b>P&amp;L</b>", _window(r.today), _window(r.week), _window(r.all_time)]
    for v in r.per_venue:
        lines.append(
            f"{escape(v.venue.value)}: bought {money(v.bought)}, fees {money(v.fees)},"
            f" payouts {money(v.payout)}"
        )
    return "\n".join(lines)
