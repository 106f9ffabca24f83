"""Executions in the store, written ahead of the venues: an execution and its orders
(committed before any order is sent), what each venue answered and its fills, status
changes, and the settlement that closes an execution.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from predarb.domain import (
    Action,
    ExecutionStatus,
    Opportunity,
    OrderRequest,
    OrderResult,
    OrderStatus,
)
from predarb.store.records import Holding, from_micros, iso, to_micros
from predarb.store.state import StateTables


class AlreadySettled(sqlite3.IntegrityError):
    """The execution already has a settlement; nothing was written."""


class ExecutionWrites(StateTables):
    """Writes of executions; status changes also go to the event log."""

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
            await self._write(
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
