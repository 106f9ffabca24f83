"""The JSON the dashboard's API answers, read from the store (the same rows and sums as
``reports``, so the page, the CLI and Telegram agree) and from the engine's memory
(the live board, the pairs). Amounts are decimal strings, never floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiosqlite

from predarb import reports, reports_quality
from predarb.arbitrage.calculator import opportunity_to_json
from predarb.domain import ExecutionStatus, Pair
from predarb.matching.codec import pair_to_json
from predarb.store import Store
from predarb.store.records import from_micros, iso, parse_iso
from predarb.store.state import this_mode
from predarb.web.board import OpportunityBoard

CENT = Decimal("0.01")
MAX_PAGE = 200
MAX_CHART_POINTS = 1000
_TRADED = list(reports._TRADED_VALUES)  # executions that bought or sold something


def usd(amount: Decimal) -> str:
    """Dollars with at least cents and no trailing zeros past them: 500.00, 0.1234."""
    n = amount.normalize()
    exponent = n.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        n = n.quantize(CENT)
    return f"{n:f}"


def num(value: Decimal) -> str:
    """A price or a count, as plain decimal text: 0.45, 5."""
    return f"{value.normalize():f}"


def when(ts: datetime | None) -> str | None:
    return iso(ts) if ts is not None else None


def _ms_between(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    return round((parse_iso(end) - parse_iso(start)).total_seconds() * 1000)


# -- status --------------------------------------------------------------------


async def status(
    store: Store,
    now: datetime,
    *,
    mode: str,
    limits: tuple[int, Decimal],
    halted: str,
    pairs: Sequence[Pair],
) -> dict[str, Any]:
    s = await reports.status(store, now, max_daily_trades=limits[0], max_daily_loss=limits[1])
    today = await reports.pnl_window(store, "today", reports.day_start(now), now)
    return {
        "mode": mode,
        "trading": s.trading_enabled,
        "kill_reason": None if s.trading_enabled else (s.kill_reason or "stopped"),
        "halted": halted or None,
        "balances": {v.value: usd(b) for v, b in sorted(s.balances.items())},
        # A venue that holds cash per exchange shard: each shard, as /balance shows it.
        "shard_balances": {
            v.value: {str(i): usd(b) for i, b in sorted(shards.items())}
            for v, shards in sorted(s.shard_balances.items())
        },
        "health": {v.value: h for v, h in sorted(s.health.items())},
        "open_positions": s.open_positions,
        "exposure": usd(s.exposure),
        "exposed_events": list(s.exposed),
        "trades_today": s.trades_today,
        "max_daily_trades": s.max_daily_trades,
        "max_daily_loss": usd(s.max_daily_loss),
        "today": {
            "executions": today.executions,
            "settled": today.settled,
            "realized": usd(today.realized),
            "fees": usd(today.fees),
            "wins": today.wins,
            "losses": today.losses,
            "expected_open": usd(today.expected_open),
        },
        "pairs": len(pairs),
        "tradable_pairs": sum(p.tradable for p in pairs),
        "last_scan": when(s.last_scan),
        "now": iso(now),
    }


# -- executions ----------------------------------------------------------------


def _leg(order: aiosqlite.Row, fills: list[aiosqlite.Row]) -> dict[str, Any]:
    price, filled, avg = (
        Decimal(order["price"]),
        Decimal(order["filled"]),
        Decimal(order["avg_price"]),
    )
    # Slippage against the price seen (the limit the calculator priced): positive is worse.
    per_contract = None
    if filled > 0:
        per_contract = (avg - price) if order["action"] == "buy" else (price - avg)
    return {
        "role": order["role"],
        "leg": order["leg_index"],
        "venue": order["venue"],
        "market": order["market_id"],
        "side": order["side"],
        "action": order["action"],
        "tif": order["tif"],
        "price_seen": num(price),
        "contracts": num(Decimal(order["contracts"])),
        "status": order["status"],
        "filled": num(filled),
        "avg_price": num(avg) if filled > 0 else None,
        "fee": usd(from_micros(order["fee_micros"])),
        "slippage": num(per_contract) if per_contract is not None else None,
        "slippage_usd": usd(per_contract * filled) if per_contract is not None else None,
        "sent_at": order["sent_at"],
        "latency_ms": _ms_between(order["sent_at"], order["answered_at"]),
        "error": order["error"] or order["error_code"] or None,
        "fills": [
            {
                "price": num(Decimal(f["price"])),
                "contracts": num(Decimal(f["contracts"])),
                "cost": usd(from_micros(f["cost_micros"])),
                "fee": usd(from_micros(f["fee_micros"])),
                "at": f["ts"],
                "final": bool(f["final"]),
            }
            for f in fills
        ],
    }


def _epoch_ms(ts: str | None) -> int | None:
    return reports_quality.ms_of(parse_iso(ts)) if ts else None


def _figures(order: aiosqlite.Row) -> reports_quality.OrderFigures:
    filled = Decimal(order["filled"])
    return reports_quality.OrderFigures(
        role=order["role"],
        leg_index=order["leg_index"],
        venue=order["venue"],
        action=order["action"],
        price=Decimal(order["price"]),
        contracts=Decimal(order["contracts"]),
        filled=filled,
        avg_price=Decimal(order["avg_price"]) if filled > 0 else Decimal(0),
        fee_micros=order["fee_micros"],
        sent_ms=_epoch_ms(order["sent_at"]),
        answered_ms=_epoch_ms(order["answered_at"]),
    )


def _quality(row: aiosqlite.Row, orders: Sequence[aiosqlite.Row]) -> dict[str, Any]:
    """The execution measured by ``reports_quality`` (as ``/quality EXECUTION`` and
    ``predarb quality --execution`` measure it): slippage and fill rate of the entry
    legs; what hedges and unwinds paid is their cost, apart."""
    realized = row["realized_pnl_micros"]
    q = reports_quality.measure(
        row["id"],
        ExecutionStatus(row["status"]),
        [_figures(o) for o in orders],
        row["unhedged_ms"],
        from_micros(row["expected_profit_micros"]),
        from_micros(realized) if realized is not None else None,
    )
    latencies = [lat.ms for lat in q.latencies]
    rate = q.fill_rate
    return {
        "slippage_usd": usd(q.slippage) if q.filled > 0 else None,
        "fill_rate": num(rate.quantize(Decimal("0.0001"))) if rate is not None else None,
        "max_leg_latency_ms": max(latencies) if latencies else None,
        "skew_ms": q.skew_ms,
        "unhedged_ms": q.unhedged_ms,
        "hedge_cost": usd(q.hedge_cost),
        "unwind_cost": usd(q.unwind_cost),
    }


def _execution(
    row: aiosqlite.Row, orders: Sequence[aiosqlite.Row], legs: list[dict[str, Any]]
) -> dict[str, Any]:
    realized = row["realized_pnl_micros"]
    payout = row["payout_micros"]
    cost = sum((Decimal(f["cost"]) for leg in legs for f in leg["fills"]), Decimal(0))
    fees = sum((Decimal(f["fee"]) for leg in legs for f in leg["fills"]), Decimal(0))
    return {
        "id": row["id"],
        "created_at": row["created_at"],
        "finished_at": row["finished_at"],
        "event": row["event"],
        "pair_id": row["pair_id"],
        "kind": row["kind"],
        "mode": row["mode"],
        "status": row["status"],
        "contracts": num(Decimal(row["contracts"])),
        "expected_cost": usd(from_micros(row["expected_cost_micros"])),
        "expected_fees": usd(from_micros(row["expected_fees_micros"])),
        "expected_profit": usd(from_micros(row["expected_profit_micros"])),
        "roi_pct": num(Decimal(row["roi_pct"])),
        "cost": usd(cost),
        "fees": usd(fees),
        "settled_at": row["settled_at"],
        "payout": usd(from_micros(payout)) if payout is not None else None,
        "realized_pnl": usd(from_micros(realized)) if realized is not None else None,
        "resolution": row["resolution"] or None,
        "note": row["note"] or None,
        "legs": legs,
        "quality": _quality(row, orders),
    }


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


async def executions(
    store: Store, *, limit: int = 50, before: str | None = None, open_only: bool = False
) -> dict[str, Any]:
    """A page of executions, newest first, each with its legs (orders), their fills
    and the execution quality; ``next`` is the cursor of the following page."""
    limit = max(1, min(limit, MAX_PAGE))
    where: list[str] = [this_mode()]  # never another mode's rows (an old shared file)
    params: list[Any] = []
    if before:
        created, _, ex_id = before.partition("|")
        where.append("(created_at, id) < (?, ?)")
        params += [created, ex_id]
    if open_only:
        where.append(f"settled_at IS NULL AND status IN ({_marks(_TRADED)})")
        params += _TRADED
    sql = "SELECT * FROM executions WHERE " + " AND ".join(where)
    rows = await store.query(f"{sql} ORDER BY created_at DESC, id DESC LIMIT ?", [*params, limit])
    ids = [r["id"] for r in rows]
    orders: dict[str, list[aiosqlite.Row]] = {}
    fills: dict[str, list[aiosqlite.Row]] = {}
    if ids:
        for o in await store.query(
            f"SELECT * FROM orders WHERE execution_id IN ({_marks(ids)})"
            " ORDER BY created_at, leg_index, client_order_id",
            ids,
        ):
            orders.setdefault(o["execution_id"], []).append(o)
        for f in await store.query(
            f"SELECT * FROM fills WHERE execution_id IN ({_marks(ids)}) ORDER BY ts, fill_id", ids
        ):
            fills.setdefault(f["client_order_id"], []).append(f)
    out = [
        _execution(
            r,
            orders.get(r["id"], []),
            [_leg(o, fills.get(o["client_order_id"], [])) for o in orders.get(r["id"], [])],
        )
        for r in rows
    ]
    last = rows[-1] if len(rows) == limit else None
    return {
        "executions": out,
        "next": f"{last['created_at']}|{last['id']}" if last is not None else None,
    }


# -- opportunities and pairs -----------------------------------------------------


def opportunities(board: OpportunityBoard, now: datetime) -> dict[str, Any]:
    out = []
    for s in board.sightings():
        opp, decision = s.opportunity, s.decision
        item: dict[str, Any] = opportunity_to_json(opp)
        item.update(
            pair_id=opp.pair_id,
            contracts=num(opp.contracts),
            payout=usd(opp.payout),
            seen_at=iso(s.seen_at),
            quote_age_s=round(max(0.0, (now - opp.quote_ts).total_seconds()), 3),
            decision=(
                None
                if decision is None
                else {
                    "approved": decision.approved,
                    "code": decision.code,
                    "reason": decision.reason,
                }
            ),
        )
        for leg, data in zip(opp.legs, item["legs"], strict=True):
            data.update(world=leg.world, cost=usd(leg.cost), fee=usd(leg.fee))
        for key in ("cost", "fees", "profit"):
            item[key] = usd(Decimal(item[key]))
        out.append(item)
    return {"opportunities": out, "now": iso(now)}


def pairs(found: Iterable[Pair]) -> list[dict[str, Any]]:
    """The ``pairs --json`` objects (blocks, which change, are added per request)."""
    return [{**pair_to_json(p), "blocked_until": None} for p in found]


# -- P&L -----------------------------------------------------------------------


def _thin(points: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` points, evenly spread, the last one always kept."""
    if len(points) <= limit:
        return points
    step = len(points) / (limit - 1)
    return [points[int(i * step)] for i in range(limit - 1)] + [points[-1]]


async def pnl(
    store: Store, now: datetime, balance_history: dict[str, list[tuple[str, str]]]
) -> dict[str, Any]:
    rows = await store.query(
        "SELECT settled_at, realized_pnl_micros, id, event FROM executions"
        " WHERE settled_at IS NOT NULL AND realized_pnl_micros IS NOT NULL"
        f" AND {this_mode()} ORDER BY settled_at, id"
    )
    total = 0
    points = []
    for r in rows:
        total += int(r[1])
        points.append(
            {
                "at": r[0],
                "pnl": usd(from_micros(r[1])),
                "cumulative": usd(from_micros(total)),
                "execution": r[2],
                "event": r[3],
            }
        )
    report = await reports.pnl(store, now)

    def window(w: reports.PnlWindow) -> dict[str, Any]:
        return {
            "label": w.label,
            "executions": w.executions,
            "settled": w.settled,
            "realized": usd(w.realized),
            "fees": usd(w.fees),
            "expected_open": usd(w.expected_open),
            "wins": w.wins,
            "losses": w.losses,
            "roi_pct": num(w.roi_pct) if w.roi_pct is not None else None,
            "win_rate_pct": num(w.win_rate_pct) if w.win_rate_pct is not None else None,
        }

    return {
        "series": _thin(points, MAX_CHART_POINTS),
        "settled": len(points),
        "windows": [window(report.today), window(report.week), window(report.all_time)],
        "per_venue": [
            {
                "venue": v.venue.value,
                "bought": usd(v.bought),
                "sold": usd(v.sold),
                "fees": usd(v.fees),
                "payout": usd(v.payout),
                "realized": usd(v.realized),
            }
            for v in report.per_venue
        ],
        "balance_history": {
            venue: [{"at": at, "balance": b} for at, b in points_]
            for venue, points_ in balance_history.items()
        },
        "now": iso(now),
    }
