"""The position manager's repository: every write and read of trading state.

One ``Store`` wraps one aiosqlite connection. Writes that must be durable before an
order leaves the process (the write-ahead of an execution and its orders) commit
before returning. Money crosses this edge as ``Decimal`` and is kept as integer
micro-dollars.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite

from predarb.domain import (
    Action,
    ExecutionStatus,
    Opportunity,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Venue,
)
from predarb.store.db import backup, open_database
from predarb.store.records import (
    ExecutionRecord,
    Holding,
    OrderRecord,
    from_micros,
    iso,
    parse_iso,
    to_micros,
)

SERIES_BLOCKS_KEY = "blocked_series"


class AlreadySettled(sqlite3.IntegrityError):
    """The execution already has a settlement; nothing was written."""


_IN_TRANSACTION: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "predarb_store_transaction", default=False
)


class Store:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, readonly: bool = False) -> Store:
        return cls(await open_database(path, readonly=readonly))

    async def close(self) -> None:
        await self.conn.close()

    async def backup(self, target: Path) -> None:
        await backup(self.conn, target)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One writer at a time on the shared connection, so that a transaction is never
        joined by another task's statements. Nested use joins the open transaction."""
        if _IN_TRANSACTION.get():
            yield
            return
        async with self._lock:
            token = _IN_TRANSACTION.set(True)
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    await self.conn.execute("ROLLBACK")
                    raise
                await self.conn.execute("COMMIT")
            finally:
                _IN_TRANSACTION.reset(token)

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> None:
        async with self.transaction():
            await self.conn.execute(sql, params)

    async def _write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction():
            await self.conn.executemany(sql, rows)

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """A read-only query, for the reports module."""
        return await self._rows(sql, params)

    # -- bot state ---------------------------------------------------------------

    async def get_state(self, key: str, default: str = "") -> str:
        rows = await self._rows("SELECT value FROM bot_state WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else default

    async def set_state(self, key: str, value: str, now: datetime) -> None:
        await self._write(
            "INSERT INTO bot_state(key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (key, value, iso(now)),
        )

    # -- the append-only event log and rejections --------------------------------

    async def log_event(
        self,
        kind: str,
        now: datetime,
        *,
        execution_id: str = "",
        pair_id: str = "",
        **payload: Any,
    ) -> None:
        await self._write(
            "INSERT INTO events(ts, kind, execution_id, pair_id, payload) VALUES (?, ?, ?, ?, ?)",
            (iso(now), kind, execution_id, pair_id, json.dumps(payload, default=str)),
        )

    async def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT ts, kind, execution_id, pair_id, payload FROM events"
        if kind:
            rows = await self._rows(sql + " WHERE kind = ? ORDER BY id", (kind,))
        else:
            rows = await self._rows(sql + " ORDER BY id")
        return [
            {
                "ts": r["ts"],
                "kind": r["kind"],
                "execution_id": r["execution_id"],
                "pair_id": r["pair_id"],
                **json.loads(r["payload"]),
            }
            for r in rows
        ]

    async def record_rejection(
        self, now: datetime, pair_id: str, event: str, code: str, reason: str
    ) -> None:
        await self._write(
            "INSERT INTO rejections(ts, pair_id, event, code, reason) VALUES (?, ?, ?, ?, ?)",
            (iso(now), pair_id, event, code, reason),
        )

    async def rejection_counts(self, since: datetime) -> dict[str, int]:
        rows = await self._rows(
            "SELECT code, COUNT(*) FROM rejections WHERE ts >= ? GROUP BY code", (iso(since),)
        )
        return {str(r[0]): int(r[1]) for r in rows}

    # -- pairs ---------------------------------------------------------------------

    async def save_pairs(self, pairs: Iterable[dict[str, Any]], now: datetime) -> None:
        """Replace the stored pairs with ``pairs`` (``pair_to_json`` objects)."""
        rows = [
            (
                p["pair_id"],
                p.get("event", ""),
                p["kind"],
                int(bool(p["tradable"])),
                float(p["confidence"]),
                json.dumps(p, sort_keys=True),
                iso(now),
            )
            for p in pairs
        ]
        async with self.transaction():
            await self.conn.execute("DELETE FROM pairs")
            await self.conn.executemany("INSERT INTO pairs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    async def load_pairs(self) -> list[dict[str, Any]]:
        rows = await self._rows("SELECT data FROM pairs ORDER BY tradable DESC, pair_id")
        return [json.loads(r[0]) for r in rows]

    async def pairs_updated_at(self) -> datetime | None:
        rows = await self._rows("SELECT MAX(updated_at) FROM pairs")
        return parse_iso(rows[0][0]) if rows and rows[0][0] else None

    async def block_pair(self, pair_id: str, until: datetime, reason: str) -> None:
        await self._write(
            "INSERT OR REPLACE INTO pair_blocks(pair_id, until, reason) VALUES (?, ?, ?)",
            (pair_id, iso(until), reason),
        )

    async def pair_blocks(self, now: datetime) -> dict[str, datetime]:
        """Pairs blocked now: blocked one by one, or because a series they belong to
        (``block_series``) is blocked; a pair under both keeps the later end."""
        sql = "SELECT pair_id, until FROM pair_blocks WHERE until > ?"
        rows = await self._rows(sql, (iso(now),))
        blocks = {str(r[0]): parse_iso(r[1]) for r in rows}
        series = await self.blocked_series(now)
        if not series:
            return blocks
        marks = ",".join("?" * len(series))
        rows = await self._rows(
            "SELECT DISTINCT p.pair_id, lower(s.value)"
            " FROM pairs p, json_each(p.data, '$.series') s"
            f" WHERE lower(s.value) IN ({marks})",
            list(series),
        )
        for pair_id, key in rows:
            until = series[str(key)]
            blocks[str(pair_id)] = max(until, blocks.get(str(pair_id), until))
        return blocks

    async def block_series(
        self, names: Iterable[str], until: datetime, reason: str, now: datetime
    ) -> None:
        """Block every pair of these series (a kind of pair whose resolution went
        wrong once) until ``until``; kept in bot_state and applied by ``pair_blocks``."""
        current = json.loads(await self.get_state(SERIES_BLOCKS_KEY, "{}"))
        for name in names:
            if name.strip():
                current[name.strip().lower()] = {"until": iso(until), "reason": reason}
        await self.set_state(SERIES_BLOCKS_KEY, json.dumps(current, sort_keys=True), now)

    async def blocked_series(self, now: datetime) -> dict[str, datetime]:
        raw = json.loads(await self.get_state(SERIES_BLOCKS_KEY, "{}"))
        out = {str(k): parse_iso(v["until"]) for k, v in raw.items()}
        return {k: until for k, until in out.items() if until > now}

    async def pair_series(self, pair_id: str) -> tuple[str, ...]:
        """The series of a stored pair (empty when the pair is not stored)."""
        rows = await self._rows("SELECT data FROM pairs WHERE pair_id = ?", (pair_id,))
        if not rows:
            return ()
        return tuple(str(s) for s in json.loads(rows[0][0]).get("series") or () if s)

    # -- executions and orders: write-ahead ------------------------------------

    async def create_execution(
        self,
        execution_id: str,
        opp: Opportunity,
        mode: str,
        orders: Sequence[tuple[OrderRequest, str]],
        now: datetime,
    ) -> None:
        """Write the execution and its orders (with client order ids), committed before
        any order is sent. ``orders`` pairs each request with its world label."""
        async with self.transaction():
            await self.conn.execute(
                "INSERT INTO executions(id, pair_id, event, kind, mode, status, contracts,"
                " expected_cost_micros, expected_fees_micros, expected_profit_micros, roi_pct,"
                " quote_ts, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    execution_id,
                    opp.pair_id,
                    opp.event,
                    opp.kind.value,
                    mode,
                    ExecutionStatus.PENDING.value,
                    str(opp.contracts),
                    to_micros(opp.cost),
                    to_micros(opp.fees),
                    to_micros(opp.profit),
                    str(opp.roi_pct),
                    iso(opp.quote_ts),
                    iso(now),
                    iso(now),
                ),
            )
            for index, (order, world) in enumerate(orders):
                await self._insert_order(execution_id, order, "leg", index, world, now)
            await self._write(
                "INSERT INTO events(ts, kind, execution_id, pair_id, payload) VALUES (?,?,?,?,?)",
                (iso(now), "execution_created", execution_id, opp.pair_id, "{}"),
            )

    async def add_order(
        self,
        execution_id: str,
        order: OrderRequest,
        role: str,
        leg_index: int,
        world: str,
        now: datetime,
    ) -> None:
        """Write a hedge or unwind order ahead of sending it."""
        await self._insert_order(execution_id, order, role, leg_index, world, now)

    async def _insert_order(
        self,
        execution_id: str,
        order: OrderRequest,
        role: str,
        leg_index: int,
        world: str,
        now: datetime,
    ) -> None:
        c = order.contract
        await self._write(
            "INSERT INTO orders(client_order_id, execution_id, role, leg_index, venue, market_id,"
            " side, token_id, world, action, tif, price, contracts, status, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                order.client_order_id,
                execution_id,
                role,
                leg_index,
                c.venue.value,
                c.market_id,
                c.side,
                c.token_id,
                world,
                order.action.value,
                order.tif.value,
                str(order.price),
                str(order.contracts),
                OrderStatus.PENDING.value,
                iso(now),
                iso(now),
            ),
        )

    async def mark_sent(self, client_order_ids: Sequence[str], now: datetime) -> None:
        await self._write_many(
            "UPDATE orders SET sent_at = ?, updated_at = ? WHERE client_order_id = ?",
            [(iso(now), iso(now), cid) for cid in client_order_ids],
        )

    async def set_venue_order_id(
        self, client_order_id: str, venue_order_id: str, now: datetime
    ) -> None:
        """Remember the id the venue knows an order by, as soon as it is known."""
        await self._write(
            "UPDATE orders SET venue_order_id = ?, updated_at = ? WHERE client_order_id = ?",
            (venue_order_id, iso(now), client_order_id),
        )

    async def one_legged_count(self, since: datetime, pair_id: str | None = None) -> int:
        """Executions created since ``since`` (on ``pair_id``, if given) that filled only
        some legs: whatever became of them afterwards (hedged, unwound, exposed)."""
        statuses = [
            s.value
            for s in (
                ExecutionStatus.PARTIAL,
                ExecutionStatus.HEDGED,
                ExecutionStatus.UNWOUND,
                ExecutionStatus.EXPOSED,
            )
        ]
        sql = (
            "SELECT COUNT(*) FROM executions WHERE created_at >= ?"
            f" AND status IN ({','.join('?' * len(statuses))})"
        )
        params: list[Any] = [iso(since), *statuses]
        if pair_id is not None:
            sql += " AND pair_id = ?"
            params.append(pair_id)
        rows = await self._rows(sql, params)
        return int(rows[0][0])

    async def known_venue_order_ids(self) -> set[str]:
        """Every venue order id recorded for any order (to tell our orders apart)."""
        rows = await self._rows("SELECT venue_order_id FROM orders WHERE venue_order_id != ''")
        return {str(r[0]) for r in rows}

    async def record_result(self, execution_id: str, result: OrderResult, now: datetime) -> None:
        """Store what the venue said of one order, and its fills (each fill once)."""
        await self._write(
            "UPDATE orders SET status = ?,"
            " venue_order_id = COALESCE(NULLIF(?, ''), venue_order_id),"
            " filled = ?, avg_price = ?, fee_micros = ?, error_code = ?, error = ?,"
            " answered_at = ?, updated_at = ? WHERE client_order_id = ?",
            (
                result.status.value,
                result.venue_order_id,
                str(result.filled),
                str(result.avg_price),
                to_micros(result.fee),
                result.error_code,
                result.error[:500],
                iso(now),
                iso(now),
                result.client_order_id,
            ),
        )
        for n, fill in enumerate(result.fills):
            c = fill.contract
            sign = 1 if fill.action is Action.BUY else -1
            await self._write(
                "INSERT INTO fills(venue, fill_id, client_order_id, execution_id, market_id, side,"
                " token_id, action, price, contracts, cost_micros, fee_micros, final, ts)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(venue, fill_id) DO UPDATE SET final = excluded.final",
                (
                    c.venue.value,
                    fill.fill_id or f"{result.client_order_id}#{n}",
                    result.client_order_id,
                    execution_id,
                    c.market_id,
                    c.side,
                    c.token_id,
                    fill.action.value,
                    str(fill.price),
                    str(fill.contracts),
                    sign * to_micros(fill.price * fill.contracts),
                    to_micros(fill.fee),
                    int(fill.final),
                    iso(fill.ts),
                ),
            )

    async def set_status(
        self,
        execution_id: str,
        status: ExecutionStatus,
        now: datetime,
        *,
        note: str = "",
        unhedged_ms: int | None = None,
    ) -> None:
        await self._write(
            "UPDATE executions SET status = ?, updated_at = ?,"
            " finished_at = CASE WHEN ? THEN ? ELSE finished_at END,"
            " note = CASE WHEN ? != '' THEN ? ELSE note END,"
            " unhedged_ms = COALESCE(?, unhedged_ms) WHERE id = ?",
            (
                status.value,
                iso(now),
                int(status.final),
                iso(now),
                note,
                note,
                unhedged_ms,
                execution_id,
            ),
        )
        await self.log_event(f"execution_{status.value}", now, execution_id=execution_id, note=note)

    async def record_settlement(
        self,
        execution_id: str,
        lines: Sequence[tuple[Holding, Decimal, bool]],
        resolution: str,
        now: datetime,
    ) -> Decimal:
        """Settle an execution: ``lines`` are (holding, payout per contract, void).
        Returns the realized P&L (payouts - costs - fees, summed as integer micros so
        the stored figures add up exactly). Settling twice is refused: by the
        settlements primary key, and by ``AlreadySettled`` for an execution that
        already carries a settlement time."""
        payouts = [to_micros(h.contracts * per) for h, per, _ in lines]
        costs = await self._rows(
            "SELECT COALESCE(SUM(cost_micros), 0), COALESCE(SUM(fee_micros), 0)"
            " FROM fills WHERE execution_id = ?",
            (execution_id,),
        )
        payout = sum(payouts)
        pnl = payout - int(costs[0][0]) - int(costs[0][1])
        async with self.transaction():
            for (h, _, void), paid in zip(lines, payouts, strict=True):
                await self._write(
                    "INSERT INTO settlements VALUES (?,?,?,?,?,?,?,?)",
                    (
                        execution_id,
                        h.venue.value,
                        h.market_id,
                        h.side,
                        str(h.contracts),
                        paid,
                        int(void),
                        iso(now),
                    ),
                )
            cur = await self.conn.execute(
                "UPDATE executions SET settled_at = ?, payout_micros = ?, realized_pnl_micros = ?,"
                " resolution = ?, updated_at = ? WHERE id = ? AND settled_at IS NULL",
                (iso(now), payout, pnl, resolution, iso(now), execution_id),
            )
            if cur.rowcount != 1:
                raise AlreadySettled(f"execution {execution_id} is already settled (or unknown)")
            await self._write(
                "INSERT INTO events(ts, kind, execution_id, payload) VALUES (?,?,?,?)",
                (iso(now), "settled", execution_id, json.dumps({"pnl": str(from_micros(pnl))})),
            )
        return from_micros(pnl)

    async def settled_contracts(self) -> set[tuple[str, str, str, str]]:
        """(venue, market id, side, token id) of every contract held by a settled
        execution: a venue may keep reporting these until they are redeemed."""
        rows = await self._rows(
            "SELECT DISTINCT f.venue, f.market_id, f.side, f.token_id FROM fills f"
            " JOIN executions e ON e.id = f.execution_id WHERE e.settled_at IS NOT NULL"
        )
        return {(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows}

    # -- reads -------------------------------------------------------------------

    async def execution(self, execution_id: str) -> ExecutionRecord | None:
        rows = await self._rows("SELECT * FROM executions WHERE id = ?", (execution_id,))
        if not rows:
            return None
        return (await self._with_orders(rows))[0]

    async def executions(
        self,
        *,
        statuses: Iterable[ExecutionStatus] | None = None,
        since: datetime | None = None,
        unsettled: bool = False,
        limit: int | None = None,
    ) -> list[ExecutionRecord]:
        where: list[str] = []
        params: list[Any] = []
        if statuses is not None:
            values = [s.value for s in statuses]
            where.append(f"status IN ({','.join('?' * len(values))})")
            params.extend(values)
        if since is not None:
            where.append("created_at >= ?")
            params.append(iso(since))
        if unsettled:
            where.append("settled_at IS NULL")
        sql = "SELECT * FROM executions" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return await self._with_orders(await self._rows(sql, params))

    async def _with_orders(self, rows: Sequence[aiosqlite.Row]) -> list[ExecutionRecord]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        order_rows = await self._rows(
            f"SELECT * FROM orders WHERE execution_id IN ({','.join('?' * len(ids))})"
            " ORDER BY created_at, leg_index, client_order_id",
            ids,
        )
        by_exec: dict[str, list[OrderRecord]] = {}
        for o in order_rows:
            by_exec.setdefault(o["execution_id"], []).append(_order(o))
        return [_execution(r, tuple(by_exec.get(r["id"], ()))) for r in rows]

    async def holdings(self, execution_id: str | None = None) -> list[Holding]:
        """Net holdings per execution and contract, from the fills (unsettled executions)."""
        sql = (
            "SELECT f.execution_id, f.venue, f.market_id, f.side, f.token_id,"
            " f.action, f.contracts, f.cost_micros, f.fee_micros"
            " FROM fills f JOIN executions e ON e.id = f.execution_id"
            " WHERE e.settled_at IS NULL"
        )
        params: tuple[Any, ...] = ()
        if execution_id is not None:
            sql += " AND f.execution_id = ?"
            params = (execution_id,)
        acc: dict[tuple[str, str, str, str, str], list[Decimal]] = {}
        for r in await self._rows(sql, params):
            key = (r[0], r[1], r[2], r[3], r[4])
            qty = Decimal(r[6]) * (1 if r[5] == Action.BUY.value else -1)
            tot = acc.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])
            tot[0] += qty
            tot[1] += from_micros(r[7])
            tot[2] += from_micros(r[8])
        return [
            Holding(k[0], Venue(k[1]), k[2], k[3], k[4], v[0], v[1], v[2])
            for k, v in acc.items()
            if v[0] != 0 or v[1] != 0
        ]

    async def open_order_ids(self) -> list[tuple[str, str, str]]:
        """(venue, client order id, venue order id) of orders not known to be final."""
        rows = await self._rows(
            "SELECT venue, client_order_id, venue_order_id FROM orders WHERE status IN (?, ?, ?)",
            (OrderStatus.PENDING.value, OrderStatus.OPEN.value, OrderStatus.UNKNOWN.value),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    # -- alert outbox ----------------------------------------------------------

    async def enqueue_alert(self, kind: str, text: str, urgent: bool, now: datetime) -> int:
        async with self.transaction():
            cur = await self.conn.execute(
                "INSERT INTO outbox(ts, kind, text, urgent) VALUES (?, ?, ?, ?)",
                (iso(now), kind, text, int(urgent)),
            )
        return int(cur.lastrowid or 0)

    async def pending_alerts(self, limit: int = 50) -> list[tuple[int, str, str, bool]]:
        rows = await self._rows(
            "SELECT id, kind, text, urgent FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        return [(int(r[0]), str(r[1]), str(r[2]), bool(r[3])) for r in rows]

    async def mark_alerts(self, ids: Sequence[int], now: datetime, *, sent: bool) -> None:
        if sent:
            sql = "UPDATE outbox SET sent_at = ?, attempts = attempts + 1 WHERE id = ?"
            await self._write_many(sql, [(iso(now), i) for i in ids])
        else:
            sql = "UPDATE outbox SET attempts = attempts + 1 WHERE id = ?"
            await self._write_many(sql, [(i,) for i in ids])


def _order(r: aiosqlite.Row) -> OrderRecord:
    return OrderRecord(
        client_order_id=r["client_order_id"],
        execution_id=r["execution_id"],
        role=r["role"],
        leg_index=r["leg_index"],
        venue=Venue(r["venue"]),
        market_id=r["market_id"],
        side=r["side"],
        token_id=r["token_id"],
        world=r["world"],
        action=r["action"],
        tif=r["tif"],
        price=Decimal(r["price"]),
        contracts=Decimal(r["contracts"]),
        status=OrderStatus(r["status"]),
        venue_order_id=r["venue_order_id"],
        filled=Decimal(r["filled"]),
        avg_price=Decimal(r["avg_price"]),
        fee=from_micros(r["fee_micros"]),
        error_code=r["error_code"],
        error=r["error"],
        created_at=parse_iso(r["created_at"]),
        sent_at=parse_iso(r["sent_at"]) if r["sent_at"] else None,
    )


def _execution(r: aiosqlite.Row, orders: tuple[OrderRecord, ...]) -> ExecutionRecord:
    return ExecutionRecord(
        id=r["id"],
        pair_id=r["pair_id"],
        event=r["event"],
        kind=r["kind"],
        mode=r["mode"],
        status=ExecutionStatus(r["status"]),
        contracts=Decimal(r["contracts"]),
        expected_cost=from_micros(r["expected_cost_micros"]),
        expected_fees=from_micros(r["expected_fees_micros"]),
        expected_profit=from_micros(r["expected_profit_micros"]),
        roi_pct=Decimal(r["roi_pct"]),
        created_at=parse_iso(r["created_at"]),
        finished_at=parse_iso(r["finished_at"]) if r["finished_at"] else None,
        unhedged_ms=r["unhedged_ms"],
        settled_at=parse_iso(r["settled_at"]) if r["settled_at"] else None,
        payout=from_micros(r["payout_micros"]) if r["payout_micros"] is not None else None,
        realized_pnl=(
            from_micros(r["realized_pnl_micros"]) if r["realized_pnl_micros"] is not None else None
        ),
        resolution=r["resolution"] or "",
        note=r["note"],
        orders=orders,
    )
