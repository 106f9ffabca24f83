"""Alert and reply texts, built by pure functions (no I/O, no bot): Telegram HTML with
every dynamic value escaped. The console notifier shows the same text without tags.

Lengths are measured as Telegram measures them (UTF-16 code units), so a message full
of emoji still stays under the 4096 limit once split.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from predarb.domain import ExecutionStatus, Venue
from predarb.notify.base import Alert, AlertKind
from predarb.reports import PnlReport, PnlWindow, StatusReport
from predarb.reports_quality import latency_line
from predarb.store.records import ExecutionRecord, Holding, OrderRecord
from predarb.store.redemptions import Redemption

TELEGRAM_LIMIT = 4096
# Room left under the limit for a continuation marker and Telegram's own counting quirks.
MESSAGE_BUDGET = TELEGRAM_LIMIT - 96
SEPARATOR = "\n\n"

# (command, description) for /help and setMyCommands, in menu order.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("status", "mode, trading on/off, balances, exposure, today vs limits"),
    ("stop", "turn trading off (open positions keep being tracked)"),
    ("start", "turn trading on again"),
    ("trades", "the last 10 executions"),
    ("pnl", "P&L today, this week, all time; /pnl day|week|month|kind|category|pair"),
    ("positions", "open positions"),
    ("balance", "balance per venue"),
    ("pairs", "pairs waiting for review (Approve / Reject / Show rules)"),
    ("help", "this list"),
    ("quality", "execution quality: slippage, fill rate, leg latency; /quality DAYS|EXECUTION"),
    ("daily", "P&L of each of the last days; /daily DAYS"),
    ("chart", "a picture of cumulative realized P&L and the balances"),
    ("settings", "limits set at run time, blacklist, muted alerts, blocked pairs"),
    ("limits", "the trading limits now"),
    ("set", "/set NAME VALUE: change a limit (validated like the configuration)"),
    ("blacklist", "/blacklist add|remove X: series, league, category or pair"),
    ("unblock", "/unblock PAIR: lift a pair's block"),
    ("mute", "/mute KIND: stop an alert kind (never partial fills)"),
    ("unmute", "/unmute KIND"),
    ("unwind", "/unwind EXECUTION: sell an open position back (asks first)"),
)
# Answered only when the composition root hands the bot the operations behind them
# (``notify.telegram_control``): a bot without them neither lists nor explains them.
CONTROL_COMMANDS = frozenset(
    {"chart", "settings", "limits", "set", "blacklist", "unblock", "mute", "unmute", "unwind"}
)


def tg_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji may count 2)."""
    return len(text.encode("utf-16-le")) // 2


def money(amount: Decimal | None) -> str:
    """Dollars to the cent (half up), sign first: ``-$1,234.57``."""
    if amount is None:
        return "n/a"
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def pct(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _venues(amounts: Mapping[Venue, Decimal]) -> str:
    return ", ".join(f"{escape(v.value)} {money(b)}" for v, b in amounts.items())


def mode_mark(mode: str) -> str:
    """`` (paper)`` or `` (demo)`` after a title, so that simulated trades are never
    read as real money; nothing for live (or a database with no mode yet)."""
    if not mode or mode in ("live", "unknown"):
        return ""
    return f" ({escape(mode)})"


def leg_line(o: OrderRecord) -> str:
    filled = f"{qty(o.filled)}/{qty(o.contracts)}"
    price = o.avg_price if o.filled else o.price
    return (
        f"{escape(o.role)} {escape(o.venue.value)} {escape(o.market_id)} "
        f"{escape(o.action)} {escape(o.side)} {filled} @ {price:.4f} [{escape(o.status.value)}]"
    )


def executed(ex: ExecutionRecord, balances: Mapping[Venue, Decimal] | None = None) -> Alert:
    lines = [
        f"<b>EXECUTED</b>{mode_mark(ex.mode)} {escape(ex.event)} ({escape(ex.kind)})",
        *(leg_line(o) for o in ex.orders),
        f"cost {money(ex.expected_cost)} + fees {money(ex.expected_fees)}, "
        f"expected profit {money(ex.expected_profit)} (ROI {pct(ex.roi_pct)})",
    ]
    if latency := latency_line(ex):
        lines.append(f"latency: {escape(latency)}")
    if balances:
        lines.append("balances: " + _venues(balances))
    return Alert(AlertKind.EXECUTED, "\n".join(lines))


def partial(ex: ExecutionRecord, action: str, exposure: Decimal) -> Alert:
    filled = [o for o in ex.orders if o.role == "leg" and o.filled > 0]
    missing = [o for o in ex.orders if o.role == "leg" and o.filled < o.contracts]
    lines = [
        f"<b>PARTIAL FILL</b>{mode_mark(ex.mode)} {escape(ex.event)} ({escape(ex.kind)})",
        "filled: " + ("; ".join(leg_line(o) for o in filled) or "none"),
        "missing: " + ("; ".join(leg_line(o) for o in missing) or "none"),
        f"exposure {money(exposure)}; action: {escape(action)}",
    ]
    if latency := latency_line(ex):
        lines.append(f"latency: {escape(latency)}")
    return Alert(AlertKind.PARTIAL, "\n".join(lines))


def one_legged(ex: ExecutionRecord) -> Alert:
    """The one loud alert of a one-legged fill, sent once it was handled: which leg
    filled, the money that was exposed, and what was done (hedged, unwound, or still
    exposed, which blocks the event until a human resolves it)."""
    legs = [o for o in ex.orders if o.role == "leg"]
    exposure = sum((o.avg_price * o.filled + o.fee for o in legs), Decimal(0))
    window = f" in {ex.unhedged_ms} ms" if ex.unhedged_ms is not None else ""
    if ex.status is ExecutionStatus.HEDGED:
        action = f"HEDGED: the missing leg bought at a worse price{window}"
    elif ex.status is ExecutionStatus.UNWOUND:
        action = f"UNWOUND: the filled leg sold back{window}"
    else:
        action = (
            "NOT HEDGED: the filled leg is still held; trading on this event is blocked"
            " until it is resolved"
        )
    alert = partial(ex, action, exposure)
    extra = [leg_line(o) for o in ex.orders if o.role != "leg"]
    if ex.note:
        extra.append(escape(ex.note))
    text = "\n".join([alert.html, *extra])
    kind = AlertKind.EXPOSED if ex.status is ExecutionStatus.EXPOSED else AlertKind.PARTIAL
    return Alert(kind, text)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def order_unknown(
    ex: ExecutionRecord, unknown: Sequence[OrderRecord], window_s: float | None = None
) -> Alert:
    """An order was sent and its fate is not known: nothing is bought or sold on that
    event until it is (a late order may still fill)."""
    looking = f" for up to {_minutes(window_s)}" if window_s else ""
    lines = [
        f"<b>ORDER STATE UNKNOWN</b> {escape(ex.event)} ({escape(ex.kind)})",
        *(f"unknown: {leg_line(o)}" for o in unknown),
        *(f"known: {leg_line(o)}" for o in ex.orders if o.status.final),
        f"No answer from the venue. Looking the order up{looking}; it is never sent again,"
        " and no hedge or unwind is placed until its fate is known. Trading on this event"
        " is blocked.",
    ]
    return Alert(AlertKind.EXPOSED, "\n".join(lines))


def order_still_unknown(
    ex: ExecutionRecord, unknown: Sequence[OrderRecord], window_s: float
) -> Alert:
    after = f" after {_minutes(window_s)}" if window_s else ""
    lines = [
        f"<b>ORDER STILL UNKNOWN</b>{after} {escape(ex.event)} ({escape(ex.kind)})",
        *(f"unknown: {leg_line(o)}" for o in unknown),
        "The venue could not say what became of it. Check the order on the venue by hand;"
        " trading on this event stays blocked.",
    ]
    return Alert(AlertKind.EXPOSED, "\n".join(lines))


def outcome(
    ex: ExecutionRecord, context: str = "", balances: Mapping[Venue, Decimal] | None = None
) -> Alert:
    """The alert that says what an execution is now, whatever it is: executed, one-legged
    (hedged, unwound, exposed), nothing filled, or an order whose fate is unknown.
    ``context`` says why it is told now (recovered after a restart, a late answer)."""
    unknown = [o for o in ex.orders if not o.status.final]
    if unknown:
        alert = order_unknown(ex, unknown)
    elif ex.status is ExecutionStatus.SUCCESS:
        alert = executed(ex, balances)
    elif ex.status in (ExecutionStatus.HEDGED, ExecutionStatus.UNWOUND, ExecutionStatus.EXPOSED):
        alert = one_legged(ex)
    else:
        alert = Alert(
            AlertKind.INFO,
            f"<b>NOTHING FILLED</b> {escape(ex.event)} ({escape(ex.kind)}): no leg filled,"
            " nothing at risk",
        )
    if not context:
        return alert
    return Alert(alert.kind, f"{alert.html}\n<i>{escape(context)}</i>")


def kill_switch(reason: str, trades_today: int, pnl_today: Decimal) -> Alert:
    return Alert(
        AlertKind.KILL_SWITCH,
        f"<b>KILL SWITCH</b>: trading stopped. Reason: {escape(reason)}\n"
        f"today: {trades_today} executions, P&amp;L {money(pnl_today)}\n"
        "Open positions keep being tracked and settled. Send /start to resume"
        " once the cause is fixed.",
    )


def settled(ex: ExecutionRecord, money_back: str = "") -> Alert:
    """``money_back`` says when a payout that does not arrive by itself is spendable."""
    return Alert(
        AlertKind.SETTLED,
        f"<b>SETTLED</b> {escape(ex.event)}: {escape(ex.resolution or 'resolved')}\n"
        f"payout {money(ex.payout)}, P&amp;L {money(ex.realized_pnl)}"
        f" (expected {money(ex.expected_profit)})"
        + (f"\n{escape(money_back)}" if money_back else ""),
    )


def money_back(r: Redemption) -> Alert:
    """A redemption or merge confirmed on chain: the pUSD is spendable again."""
    what = "REDEEMED" if r.kind == "redeem" else "MERGED"
    return Alert(
        AlertKind.SETTLED,
        f"<b>MONEY BACK</b> polymarket {what.lower()} {money(r.received)}"
        f" (condition {escape(r.condition_id[:10])}…, tx {escape(r.tx_hash[:12])}…,"
        f" {r.gas_used or 0} gas): free to trade again",
    )


def redemption_failed(r: Redemption, reason: str) -> Alert:
    return Alert(
        AlertKind.BALANCE_LOW,
        f"<b>REDEMPTION FAILED</b> polymarket {escape(r.kind)} of condition"
        f" {escape(r.condition_id[:10])}… ({money(r.expected)}): {escape(reason)}."
        " Tried again next run; after 3 failures it waits for you (polymarket.com: Redeem).",
    )


def voided(ex: ExecutionRecord) -> Alert:
    """A settlement where every market held was voided or cancelled (refunds)."""
    return Alert(
        AlertKind.SETTLED,
        f"<b>VOIDED</b> {escape(ex.event)}: {escape(ex.resolution or 'voided')}\n"
        f"refunded {money(ex.payout)}, P&amp;L {money(ex.realized_pnl)}"
        f" (expected {money(ex.expected_profit)})",
    )


def resolution_mismatch(ex: ExecutionRecord, detail: str) -> Alert:
    """The venues resolved the legs of one arbitrage differently."""
    return Alert(
        AlertKind.MISMATCH,
        f"<b>RESOLUTION MISMATCH</b> {escape(ex.event)}: {escape(detail)}\n"
        f"payout {money(ex.payout)}, P&amp;L {money(ex.realized_pnl)}"
        f" (expected {money(ex.expected_profit)})",
    )


def positions_mismatch(differences: Sequence[tuple[str, Decimal, Decimal]]) -> Alert:
    """Local holdings that differ from a venue's: (contract, local, venue) each."""
    lines = [f"<b>POSITIONS MISMATCH</b>: {len(differences)} contract(s) differ"]
    lines.extend(
        f"{escape(name)}: local {qty(local)}, venue {qty(venue)}, difference {qty(venue - local)}"
        for name, local, venue in differences
    )
    return Alert(AlertKind.MISMATCH, "\n".join(lines))


def positions_at_start(differences: Sequence[tuple[str, Decimal, Decimal]]) -> Alert:
    """The database's positions differ from the venues' at a live start."""
    lines = [
        f"<b>POSITIONS DIFFER AT START</b>: {len(differences)} contract(s) differ between"
        " this database and the venues"
    ]
    lines.extend(
        f"{escape(name)}: database {qty(local)}, venue {qty(venue)},"
        f" difference {qty(venue - local)}"
        for name, local, venue in differences
    )
    lines.append(
        "Trading is OFF. Check these positions (an older or a new database?), then send"
        " /start to trade again."
    )
    return Alert(AlertKind.MISMATCH, "\n".join(lines))


def venue_halted(venue: str, reason: str) -> Alert:
    """Trading on one venue stopped until a person looks (a fee mismatch); never muted."""
    return Alert(
        AlertKind.KILL_SWITCH,
        f"{venue.upper()} HALTED: {reason}. No new executions on {venue} (the other pairs"
        " go on) until the fee is understood; then send /start to trade on it again.",
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


def daily_summary(day: str, s: StatusReport, p: PnlReport) -> Alert:
    """The end-of-day push: today's figures, then the state a human may want to check."""
    state = "ON" if s.trading_enabled else f"OFF ({escape(s.kill_reason or 'stopped')})"
    lines = [
        f"<b>Daily summary</b> {escape(day)}{mode_mark(s.mode)}: trading {state}",
        _window(p.today),
        _window(p.all_time),
        f"open positions {s.open_positions}, exposure {money(s.exposure)}",
    ]
    if s.balances:
        lines.append("balances: " + _venues(s.balances))
    if s.exposed:
        lines.append("<b>EXPOSED</b>: " + ", ".join(escape(e) for e in s.exposed))
    return Alert(AlertKind.DAILY_SUMMARY, "\n".join(lines))


# -- command replies --------------------------------------------------------------


def menu(wired: Collection[str] = ()) -> tuple[tuple[str, str], ...]:
    """The commands a bot answers, in menu order: every report, and of the control
    commands those in ``wired``."""
    return tuple((n, d) for n, d in COMMANDS if n not in CONTROL_COMMANDS or n in wired)


def help_text(wired: Collection[str] = ()) -> str:
    lines = ["<b>predarb</b> commands"]
    lines.extend(f"/{name}: {escape(text)}" for name, text in menu(wired))
    return "\n".join(lines)


def stop_reply(was_on: bool) -> str:
    head = "Trading turned <b>OFF</b>." if was_on else "Trading was already <b>OFF</b>."
    return f"{head} Open positions keep being tracked and settled. /start resumes."


def start_reply(refusal: str | None, was_on: bool, resumed: Sequence[Venue] = ()) -> str:
    if refusal:
        return f"Trading stays <b>OFF</b>: {escape(refusal)}"
    text = "Trading was already <b>ON</b>." if was_on else "Trading turned <b>ON</b>."
    if resumed:
        text += f" Trading on {escape(', '.join(v.value for v in resumed))} resumed."
    return text


def _shards(s: StatusReport, venue: Venue) -> str:
    """`` (shard 0 $1.00, shard 3 $4.00)`` for a venue that holds cash per shard."""
    shards = s.shard_balances.get(venue)
    if not shards:
        return ""
    return " (" + ", ".join(f"shard {i} {money(b)}" for i, b in sorted(shards.items())) + ")"


def balance_text(s: StatusReport) -> str:
    lines = ["<b>Balances</b>"]
    if s.balances:
        lines.extend(f"{escape(v.value)}: {money(b)}{_shards(s, v)}" for v, b in s.balances.items())
        lines.append(f"total {money(sum(s.balances.values(), Decimal(0)))}")
    else:
        lines.append("not known yet (no balance sync so far)")
    lines.append(f"in open positions {money(s.exposure)}")
    if s.capital is not None and s.capital.accounts:
        lines.append("<b>Per venue</b>")
        lines.extend(escape(line) for line in s.capital.lines())
        lines.extend(escape(line) for line in s.capital.advice())
    return "\n".join(lines)


def positions_text(executions: Sequence[ExecutionRecord], holdings: Sequence[Holding]) -> str:
    """Open (unsettled) executions and what each holds, from its fills."""
    held: dict[str, list[Holding]] = {}
    for h in holdings:
        held.setdefault(h.execution_id, []).append(h)
    shown = [ex for ex in executions if ex.id in held]
    if not shown:
        return "<b>Positions</b>: none open"
    lines = [f"<b>Open positions</b> ({len(shown)})"]
    for ex in shown:
        lines.append(
            f"{escape(ex.event)} [{escape(ex.status.value)}] expected {money(ex.expected_profit)},"
            f" id <code>{escape(ex.id)}</code>"
        )
        lines.extend(
            f"  {escape(h.venue.value)} {escape(h.market_id)} {escape(h.side)}"
            f" {qty(h.contracts)} for {money(h.cost)} + fees {money(h.fees)}"
            for h in held[ex.id]
        )
    return "\n".join(lines)


def _ago(ts: datetime | None, now: datetime) -> str:
    if ts is None:
        return "never"
    seconds = max(0, int((now - ts).total_seconds()))
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60}m ago"


def status_text(r: StatusReport, now: datetime) -> str:
    state = "ON" if r.trading_enabled else "OFF"
    lines = [f"<b>Status</b> mode {escape(r.mode)}, trading {state}"]
    if not r.trading_enabled and r.kill_reason:
        lines.append(f"reason: {escape(r.kill_reason)}")
    if r.balances:
        lines.append(
            "balances: "
            + ", ".join(
                f"{escape(v.value)} {money(b)}{_shards(r, v)}" for v, b in r.balances.items()
            )
        )
    if r.health:
        lines.append(
            "venues: " + ", ".join(f"{escape(v.value)} {escape(h)}" for v, h in r.health.items())
        )
    lines.append(f"open positions {r.open_positions}, exposure {money(r.exposure)}")
    if r.capital is not None:
        lines.extend("capital " + escape(line) for line in r.capital.lines())
        lines.extend("<b>MOVE</b> " + escape(line) for line in r.capital.advice())
    lines.append(
        f"today: {r.trades_today}/{r.max_daily_trades} executions,"
        f" P&amp;L {money(r.pnl_today)} (loss limit {money(r.max_daily_loss)})"
    )
    if r.exposed:
        lines.append("<b>EXPOSED</b>: " + ", ".join(escape(e) for e in r.exposed))
    lines.append(f"last scan {_ago(r.last_scan, now)}")
    return "\n".join(lines)


def trades_text(executions: Sequence[ExecutionRecord]) -> str:
    if not executions:
        return "<b>Trades</b>: none yet"
    simulated = sorted({ex.mode for ex in executions} - {"live"})
    mark = mode_mark("/".join(simulated))
    lines = [f"<b>Last {len(executions)} executions</b>{mark}"]
    for ex in executions:
        actual = money(ex.realized_pnl) if ex.realized_pnl is not None else "open"
        lines.append(
            f"{ex.created_at:%m-%d %H:%M} {escape(ex.event)} [{escape(ex.status.value)}]"
            f" expected {money(ex.expected_profit)}, actual {actual},"
            f" id <code>{escape(ex.id)}</code>"
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
    lines = [f"<b>P&amp;L</b>{mode_mark(r.mode)}", _window(r.today), _window(r.week)]
    lines.append(_window(r.all_time))
    for v in r.per_venue:
        lines.append(
            f"{escape(v.venue.value)}: bought {money(v.bought)}, fees {money(v.fees)},"
            f" payouts {money(v.payout)}"
        )
    return "\n".join(lines)


# -- fitting text into Telegram messages ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Bundle:
    """Messages carrying whole alerts: several short alerts joined into one message, or
    one long alert split into several. ``members`` are indexes into the input."""

    members: tuple[int, ...]
    messages: tuple[str, ...]


def bundles(texts: Sequence[str], limit: int = MESSAGE_BUDGET) -> list[Bundle]:
    """Pack texts, in order, into as few messages as fit under ``limit``."""
    out: list[Bundle] = []
    members: list[int] = []
    current = ""
    for index, text in enumerate(texts):
        pieces = split(text, limit)
        if len(pieces) > 1:
            if members:
                out.append(Bundle(tuple(members), (current,)))
                members, current = [], ""
            out.append(Bundle((index,), tuple(pieces)))
            continue
        piece = pieces[0] if pieces else ""
        joined = f"{current}{SEPARATOR}{piece}" if members else piece
        if members and tg_len(joined) > limit:
            out.append(Bundle(tuple(members), (current,)))
            members, joined = [], piece
        members.append(index)
        current = joined
    if members:
        out.append(Bundle(tuple(members), (current,)))
    return out


def batch(alerts: Sequence[Alert]) -> list[str]:
    """Join alerts into as few messages as fit under Telegram's length limit."""
    return [m for b in bundles([a.html for a in alerts]) for m in b.messages]


def split(text: str, limit: int = MESSAGE_BUDGET) -> list[str]:
    """Split on line boundaries below ``limit``; a single overlong line is cut at a
    space when it has one, and never inside an HTML entity or tag."""
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while tg_len(line) > limit:
            if current:
                out.append(current)
                current = ""
            cut = _cut_point(line, limit)
            out.append(line[:cut])
            line = line[cut:].lstrip(" ")
        joined = f"{current}\n{line}" if current else line
        if current and tg_len(joined) > limit:
            out.append(current)
            current = line
        else:
            current = joined
    if current:
        out.append(current)
    return out


def _cut_point(line: str, limit: int) -> int:
    """The longest prefix of ``line`` within ``limit`` that ends outside a tag or entity."""
    end = 0
    used = 0
    for i, ch in enumerate(line):
        used += tg_len(ch)
        if used > limit:
            break
        end = i + 1
    head = line[:end]
    amp, semi = head.rfind("&"), head.rfind(";")
    if amp > semi:
        end = amp
    lt, gt = head.rfind("<"), head.rfind(">")
    if lt > gt:
        end = min(end, lt)
    space = line.rfind(" ", 0, end)
    if space > end // 2:
        end = space
    return max(end, 1)
