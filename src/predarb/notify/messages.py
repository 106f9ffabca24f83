"""Alert texts, built by pure functions (no I/O, no bot): Telegram HTML with every
dynamic value escaped. The console notifier shows the same text without tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape

from predarb.domain import ExecutionStatus, Venue
from predarb.notify.base import Alert, AlertKind
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
