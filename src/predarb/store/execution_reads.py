"""Reads of executions from the store: records with their orders, net holdings from
the fills, open orders, and the counts and ids that recovery and limits ask for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiosqlite

from predarb.domain import Action, ExecutionStatus, OrderStatus, Venue
from predarb.store.connection import StoreConnection
from predarb.store.records import ExecutionRecord, Holding, OrderRecord, from_micros, iso, parse_iso
from predarb.store.state import this_mode


class ExecutionReads(StoreConnection):
    """Queries over executions, orders and fills; they never write."""

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
            f"SELECT COUNT(*) FROM executions WHERE created_at >= ? AND {this_mode()}"
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
        where: list[str] = [this_mode()]
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
        sql = "SELECT * FROM executions WHERE " + " AND ".join(where)
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
            f" WHERE e.settled_at IS NULL AND {this_mode('e')}"
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
            "SELECT venue, client_order_id, venue_order_id FROM orders"
            " WHERE status IN (?, ?, ?, ?)",
            (
                OrderStatus.PENDING.value,
                OrderStatus.OPEN.value,
                OrderStatus.UNKNOWN.value,
                OrderStatus.DELAYED.value,
            ),
        )
        return [(r[0], r[1], r[2]) for r in rows]


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
        answered_at=parse_iso(r["answered_at"]) if r["answered_at"] else None,
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
