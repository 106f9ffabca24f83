"""What the user asks for (status, trades, P&L), computed from the database.

The CLI (``predarb status|trades|pnl``) and Telegram (``/status /trades /pnl``) both
call these; the figures are summed in SQL over integer micro-dollars, so they agree to
the cent with an independent recomputation. Runtime facts the engine learns (mode,
balances, venue health, last scan) are kept in ``bot_state`` so the CLI sees them too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from predarb.balance_rows import SHARD_BALANCE_PREFIX as SHARD_BALANCE_PREFIX
from predarb.balance_rows import stored_balances
from predarb.capital.view import CapitalView, capital_view
from predarb.domain import ExecutionStatus, Venue
from predarb.store import Store
from predarb.store.records import ExecutionRecord, from_micros, iso, parse_iso
from predarb.store.state import BALANCE_PREFIX as BALANCE_PREFIX
from predarb.store.state import MODE_KEY, this_mode

# bot_state keys written by the engine (and BALANCE_PREFIX, from the store's own, and
# SHARD_BALANCE_PREFIX, from ``balance_rows``)
MODE = MODE_KEY
TRADING_ENABLED = "trading_enabled"
KILL_REASON = "kill_reason"
LAST_SCAN = "last_scan"
HEALTH_PREFIX = "health:"
LAST_DAILY_SUMMARY = "last_daily_summary"  # the UTC day (ISO date) last summarized
# The daily limits the bot (or the demo, with its own) last ran with: `predarb status`
# shows those, not the defaults of the shell it is typed in.
LIMIT_DAILY_TRADES = "limit:max_daily_trades"
LIMIT_DAILY_LOSS = "limit:max_daily_loss"

# An execution that bought and sold nothing is not a trade for win rates.
_TRADED = (
    ExecutionStatus.SUCCESS,
    ExecutionStatus.HEDGED,
    ExecutionStatus.UNWOUND,
    ExecutionStatus.EXPOSED,
    ExecutionStatus.PARTIAL,
)


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def week_start(now: datetime) -> datetime:
    start = day_start(now)
    return start - timedelta(days=start.weekday())


@dataclass(frozen=True, slots=True)
class PnlWindow:
    """P&L of a time window. Executions that bought nothing (failed, pending) are not
    trades and count nowhere here; an execution belongs to the window it settled in."""

    label: str
    executions: int  # executions that traded, created in the window
    settled: int  # executions settled in the window
    realized: Decimal  # P&L of executions settled in the window
    cost: Decimal  # money paid by those settled executions, net of sales, before fees
    fees: Decimal  # fees paid on fills in the window
    expected_open: Decimal  # expected profit of traded executions still open
    wins: int  # settled in the window with a profit
    losses: int  # settled in the window with a loss (a flat result is neither)
    expected: Decimal = Decimal(0)  # expected profit of the executions settled in the window
    settled_fees: Decimal = Decimal(0)  # fees of the executions settled in the window

    @property
    def roi_pct(self) -> Decimal | None:
        """Realized P&L over the money put in (cost plus fees) of settled executions."""
        outlay = self.cost + self.settled_fees
        if outlay <= 0:
            return None
        return (self.realized / outlay * 100).quantize(Decimal("0.01"))

    @property
    def win_rate_pct(self) -> Decimal | None:
        n = self.wins + self.losses
        return None if n == 0 else (Decimal(self.wins) / n * 100).quantize(Decimal("0.1"))


@dataclass(frozen=True, slots=True)
class VenueTotals:
    venue: Venue
    bought: Decimal  # all time, every fill
    fees: Decimal
    payout: Decimal  # paid by settlements
    sold: Decimal = Decimal(0)  # received for sells (unwinds)
    realized: Decimal = Decimal(0)  # payout - net cost - fees of this venue's settled legs


@dataclass(frozen=True, slots=True)
class PnlReport:
    today: PnlWindow
    week: PnlWindow
    all_time: PnlWindow
    per_venue: tuple[VenueTotals, ...]
    mode: str = ""  # the database's: paper and demo figures say so


@dataclass(frozen=True, slots=True)
class StatusReport:
    mode: str
    trading_enabled: bool
    kill_reason: str
    balances: dict[Venue, Decimal] = field(default_factory=dict)
    health: dict[Venue, str] = field(default_factory=dict)
    open_positions: int = 0
    shard_balances: dict[Venue, dict[int, Decimal]] = field(default_factory=dict)
    exposure: Decimal = Decimal(0)
    trades_today: int = 0
    pnl_today: Decimal = Decimal(0)
    max_daily_trades: int = 0
    max_daily_loss: Decimal = Decimal(0)
    last_scan: datetime | None = None
    exposed: tuple[str, ...] = ()
    capital: CapitalView | None = None  # per venue and shard, when the need is known


_TRADED_VALUES = tuple(s.value for s in _TRADED)
_TRADED_MARKS = ",".join("?" * len(_TRADED_VALUES))
_END = "~"  # sorts after every fixed-width ISO timestamp


async def pnl_window(
    store: Store,
    label: str,
    since: datetime | None,
    now: datetime,
    *,
    until: datetime | None = None,
    expected_open: Decimal | None = None,
) -> PnlWindow:
    """Figures for ``[since, until)`` (open ends when None), summed in SQL as integer
    micro-dollars."""
    lo, hi = (iso(since) if since else ""), (iso(until) if until else _END)
    rows = await store.query(
        "SELECT"
        " COALESCE(SUM(created_at >= ?1 AND created_at < ?2), 0),"
        " COALESCE(SUM(settled_at >= ?1 AND settled_at < ?2), 0),"
        " COALESCE(SUM(CASE WHEN settled_at >= ?1 AND settled_at < ?2"
        "  THEN realized_pnl_micros END), 0),"
        " COALESCE(SUM(CASE WHEN settled_at >= ?1 AND settled_at < ?2"
        "  THEN expected_profit_micros END), 0),"
        " COALESCE(SUM(settled_at >= ?1 AND settled_at < ?2 AND realized_pnl_micros > 0), 0),"
        " COALESCE(SUM(settled_at >= ?1 AND settled_at < ?2 AND realized_pnl_micros < 0), 0)"
        f" FROM executions WHERE status IN ({_TRADED_MARKS}) AND {this_mode()}",
        (lo, hi, *_TRADED_VALUES),
    )
    executions, settled, realized, expected, wins, losses = (int(v) for v in rows[0])
    rows = await store.query(
        "SELECT COALESCE(SUM(f.cost_micros), 0), COALESCE(SUM(f.fee_micros), 0)"
        " FROM executions e JOIN fills f ON f.execution_id = e.id"
        f" WHERE e.settled_at >= ? AND e.settled_at < ? AND e.status IN ({_TRADED_MARKS})"
        f" AND {this_mode('e')}",
        (lo, hi, *_TRADED_VALUES),
    )
    cost, settled_fees = rows[0]
    rows = await store.query(
        "SELECT COALESCE(SUM(f.fee_micros), 0) FROM fills f"
        f" JOIN executions e ON e.id = f.execution_id WHERE f.ts >= ? AND f.ts < ?"
        f" AND {this_mode('e')}",
        (lo, hi),
    )
    fees = rows[0][0]
    if expected_open is None:
        expected_open = await _expected_open(store)
    return PnlWindow(
        label=label,
        executions=executions,
        settled=settled,
        realized=from_micros(realized),
        cost=from_micros(cost),
        fees=from_micros(fees),
        expected_open=expected_open,
        wins=wins,
        losses=losses,
        expected=from_micros(expected),
        settled_fees=from_micros(settled_fees),
    )


async def _expected_open(store: Store) -> Decimal:
    rows = await store.query(
        "SELECT COALESCE(SUM(expected_profit_micros), 0) FROM executions"
        f" WHERE settled_at IS NULL AND status IN ({_TRADED_MARKS}) AND {this_mode()}",
        _TRADED_VALUES,
    )
    return from_micros(rows[0][0])


async def per_venue(store: Store) -> tuple[VenueTotals, ...]:
    """All-time totals per venue; ``realized`` sums over settled executions only."""
    rows = await store.query(
        "SELECT f.venue,"
        " COALESCE(SUM(CASE WHEN f.cost_micros > 0 THEN f.cost_micros END), 0),"
        " COALESCE(SUM(CASE WHEN f.cost_micros < 0 THEN -f.cost_micros END), 0),"
        " COALESCE(SUM(f.fee_micros), 0),"
        " COALESCE(SUM(CASE WHEN e.settled_at IS NOT NULL"
        "  THEN f.cost_micros + f.fee_micros END), 0)"
        " FROM fills f JOIN executions e ON e.id = f.execution_id"
        f" WHERE {this_mode('e')} GROUP BY f.venue ORDER BY f.venue"
    )
    payouts = {
        str(r[0]): int(r[1])
        for r in await store.query(
            "SELECT s.venue, COALESCE(SUM(s.payout_micros), 0) FROM settlements s"
            f" JOIN executions e ON e.id = s.execution_id WHERE {this_mode('e')}"
            " GROUP BY s.venue"
        )
    }
    return tuple(
        VenueTotals(
            venue=Venue(r[0]),
            bought=from_micros(r[1]),
            fees=from_micros(r[3]),
            payout=from_micros(payouts.get(r[0], 0)),
            sold=from_micros(r[2]),
            realized=from_micros(payouts.get(r[0], 0) - int(r[4])),
        )
        for r in rows
        if r[0] in Venue._value2member_map_
    )


async def pnl(store: Store, now: datetime) -> PnlReport:
    """Today, this week and all time, as of ``now`` (UTC days, weeks from Monday)."""
    expected_open = await _expected_open(store)
    return PnlReport(
        today=await pnl_window(store, "today", day_start(now), now, expected_open=expected_open),
        week=await pnl_window(
            store, "this week", week_start(now), now, expected_open=expected_open
        ),
        all_time=await pnl_window(store, "all time", None, now, expected_open=expected_open),
        per_venue=await per_venue(store),
        mode=await store.get_state(MODE),
    )


async def day_report(store: Store, day: date, now: datetime) -> PnlReport:
    """The P&L of one whole UTC day (its week and all time up to its end), for the
    summary sent once the day is over."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    expected_open = await _expected_open(store)
    return PnlReport(
        today=await pnl_window(
            store, day.isoformat(), start, now, until=end, expected_open=expected_open
        ),
        week=await pnl_window(
            store, "week", week_start(start), now, until=end, expected_open=expected_open
        ),
        all_time=await pnl_window(
            store, "all time", None, now, until=end, expected_open=expected_open
        ),
        per_venue=await per_venue(store),
        mode=await store.get_state(MODE),
    )


async def realized_since(store: Store, since: datetime) -> Decimal:
    rows = await store.query(
        "SELECT COALESCE(SUM(realized_pnl_micros), 0) FROM executions"
        f" WHERE settled_at >= ? AND {this_mode()}",
        (iso(since),),
    )
    return from_micros(rows[0][0])


async def trades_since(store: Store, since: datetime) -> int:
    """Executions attempted since ``since`` (every attempt counts toward the daily cap)."""
    rows = await store.query(
        f"SELECT COUNT(*) FROM executions WHERE created_at >= ? AND {this_mode()}", (iso(since),)
    )
    return int(rows[0][0])


async def open_exposure(store: Store) -> tuple[int, Decimal]:
    """(open executions, money at risk in them): net cost plus fees of unsettled fills."""
    rows = await store.query(
        "SELECT COUNT(DISTINCT f.execution_id), COALESCE(SUM(f.cost_micros + f.fee_micros), 0)"
        " FROM fills f JOIN executions e ON e.id = f.execution_id"
        f" WHERE e.settled_at IS NULL AND {this_mode('e')}"
    )
    return int(rows[0][0]), from_micros(rows[0][1])


async def status(
    store: Store,
    now: datetime,
    *,
    max_daily_trades: int = 0,
    max_daily_loss: Decimal = Decimal(0),
    needed: Decimal | None = None,
) -> StatusReport:
    """``needed``: what one venue needs to fund the next trades (adds the capital view)."""
    state = {str(r[0]): str(r[1]) for r in await store.query("SELECT key, value FROM bot_state")}
    balances, shards = stored_balances(state)
    health = {
        Venue(k.removeprefix(HEALTH_PREFIX)): v
        for k, v in state.items()
        if k.startswith(HEALTH_PREFIX) and k.removeprefix(HEALTH_PREFIX) in Venue._value2member_map_
    }
    n_open, exposure = await open_exposure(store)
    exposed = await store.executions(statuses=[ExecutionStatus.EXPOSED], unsettled=True)
    return StatusReport(
        mode=state.get(MODE, "unknown"),
        trading_enabled=state.get(TRADING_ENABLED, "1") == "1",
        kill_reason=state.get(KILL_REASON, ""),
        balances=balances,
        health=health,
        open_positions=n_open,
        exposure=exposure,
        trades_today=await trades_since(store, day_start(now)),
        pnl_today=await realized_since(store, day_start(now)),
        max_daily_trades=int(state.get(LIMIT_DAILY_TRADES, max_daily_trades)),
        max_daily_loss=Decimal(state.get(LIMIT_DAILY_LOSS, max_daily_loss)),
        last_scan=parse_iso(state[LAST_SCAN]) if state.get(LAST_SCAN) else None,
        exposed=tuple(e.event for e in exposed),
        capital=None if needed is None else await capital_view(store, needed=needed),
        shard_balances=shards,
    )


async def trades(store: Store, limit: int = 10) -> list[ExecutionRecord]:
    return await store.executions(limit=limit)
