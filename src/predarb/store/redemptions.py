"""Redemptions and merges of Polymarket positions, written ahead like orders.

A row is written (signed transaction and its hash included) and committed before the
transaction leaves the process; its status then moves ``signed -> sent -> mined ->
confirmed`` (or ``failed``: reverted, or ``dropped``: its nonce went to another
transaction). A partial unique index allows one row in flight per condition and kind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import aiosqlite

from predarb.store.records import from_micros, iso, parse_iso, to_micros
from predarb.store.state import StateTables


class RedemptionStatus(StrEnum):
    SIGNED = "signed"  # written ahead; may or may not have left
    SENT = "sent"  # handed to the endpoint or relayer
    MINED = "mined"  # in a block, not yet deep enough to count
    CONFIRMED = "confirmed"  # counts: the pUSD is back
    FAILED = "failed"  # reverted or refused
    DROPPED = "dropped"  # never mined: its nonce was used by another transaction

    @property
    def in_flight(self) -> bool:
        return self in (RedemptionStatus.SIGNED, RedemptionStatus.SENT, RedemptionStatus.MINED)


@dataclass(frozen=True, slots=True)
class Redemption:
    id: str
    kind: str  # "redeem" | "merge"
    condition_id: str
    neg_risk: bool
    route: str  # "eoa" | "proxy" | "safe"
    wallet: str
    tokens: tuple[str, ...]
    amount_units: int  # merge: pUSD base units merged; redeem: 0
    expected: Decimal
    status: RedemptionStatus
    nonce: int | None
    tx_hash: str
    signed: str  # the signed transaction (EOA) or relayer request (JSON), for resending
    relayer_id: str
    block_number: int | None
    gas_used: int | None
    gas_cost_wei: int
    received: Decimal | None
    error: str
    created_at: datetime
    confirmed_at: datetime | None


def _row(r: aiosqlite.Row) -> Redemption:
    return Redemption(
        id=r["id"],
        kind=r["kind"],
        condition_id=r["condition_id"],
        neg_risk=bool(r["neg_risk"]),
        route=r["route"],
        wallet=r["wallet"],
        tokens=tuple(json.loads(r["tokens"])),
        amount_units=int(r["amount_units"]),
        expected=from_micros(r["expected_micros"]),
        status=RedemptionStatus(r["status"]),
        nonce=r["nonce"],
        tx_hash=r["tx_hash"],
        signed=r["signed"],
        relayer_id=r["relayer_id"],
        block_number=r["block_number"],
        gas_used=r["gas_used"],
        gas_cost_wei=int(r["gas_cost_wei"] or 0),
        received=None if r["received_micros"] is None else from_micros(r["received_micros"]),
        error=r["error"],
        created_at=parse_iso(r["created_at"]),
        confirmed_at=parse_iso(r["confirmed_at"]) if r["confirmed_at"] else None,
    )


class RedemptionTables(StateTables):
    async def create_redemption(
        self,
        *,
        redemption_id: str,
        kind: str,
        condition_id: str,
        neg_risk: bool,
        route: str,
        wallet: str,
        tokens: Sequence[str],
        amount_units: int,
        expected: Decimal,
        nonce: int | None,
        tx_hash: str,
        signed: str,
        now: datetime,
    ) -> None:
        """The write-ahead: committed before anything is sent. Raises
        ``sqlite3.IntegrityError`` when one is already in flight for the condition."""
        await self._write(
            "INSERT INTO redemptions(id, kind, condition_id, neg_risk, route, wallet, tokens,"
            " amount_units, expected_micros, status, nonce, tx_hash, signed, created_at,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                redemption_id,
                kind,
                condition_id,
                int(neg_risk),
                route,
                wallet,
                json.dumps(list(tokens)),
                amount_units,
                to_micros(expected),
                RedemptionStatus.SIGNED.value,
                nonce,
                tx_hash,
                signed,
                iso(now),
                iso(now),
            ),
        )

    async def update_redemption(
        self, redemption_id: str, status: RedemptionStatus, now: datetime, **fields: Any
    ) -> None:
        """Move a redemption on; ``fields`` are columns (``received`` in dollars)."""
        cols: dict[str, Any] = {"status": status.value, "updated_at": iso(now)}
        if status is RedemptionStatus.SENT:
            cols["sent_at"] = iso(now)
        if status is RedemptionStatus.CONFIRMED:
            cols["confirmed_at"] = iso(now)
        for key, value in fields.items():
            if key == "received":
                cols["received_micros"] = to_micros(value)
            elif key == "gas_cost_wei":
                cols[key] = str(value)
            else:
                cols[key] = value
        sets = ", ".join(f"{k} = ?" for k in cols)
        await self._write(
            f"UPDATE redemptions SET {sets} WHERE id = ?", (*cols.values(), redemption_id)
        )

    async def redemptions(
        self, *, in_flight: bool | None = None, condition_id: str | None = None
    ) -> list[Redemption]:
        sql, params = "SELECT * FROM redemptions WHERE 1=1", []
        if in_flight is not None:
            sql += (
                " AND status IN ('signed','sent','mined')"
                if in_flight
                else (" AND status NOT IN ('signed','sent','mined')")
            )
        if condition_id is not None:
            sql += " AND condition_id = ?"
            params.append(condition_id)
        rows = await self._rows(sql + " ORDER BY created_at, id", params)
        return [_row(r) for r in rows]

    async def redemption(self, redemption_id: str) -> Redemption | None:
        rows = await self._rows("SELECT * FROM redemptions WHERE id = ?", (redemption_id,))
        return _row(rows[0]) if rows else None

    async def polymarket_tokens(self) -> list[tuple[str, str]]:
        """(token id, execution id) of every Polymarket fill, oldest first."""
        rows = await self._rows(
            "SELECT token_id, execution_id, MIN(ts) AS first FROM fills"
            " WHERE venue = 'polymarket' AND token_id != ''"
            " GROUP BY token_id, execution_id ORDER BY first"
        )
        return [(r["token_id"], r["execution_id"]) for r in rows]
