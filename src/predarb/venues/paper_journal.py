"""The paper ledger on disk: a small SQLite file of its own beside the bot's database.

Paper mode keeps each venue's simulated account (cash, positions, orders with their
fills, the venue order id counter) here, written in one transaction after every change,
so a paper run killed and started again goes on with the same money and positions, and
an order id it already answered is answered the same way (no second fill). Each write is
a few rows; the file is ``PREDARB_DB_PATH`` with ``.paper`` before its suffix.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from predarb.domain import (
    Action,
    Contract,
    Fill,
    OrderResult,
    OrderStatus,
    Venue,
    VenuePosition,
)
from predarb.store.records import iso, parse_iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS paper_accounts (
    venue TEXT PRIMARY KEY,
    balance TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS paper_positions (
    venue TEXT NOT NULL,
    contract TEXT NOT NULL,
    contracts TEXT NOT NULL,
    cost TEXT NOT NULL,
    PRIMARY KEY (venue, contract)
);
CREATE TABLE IF NOT EXISTS paper_orders (
    venue TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (venue, client_order_id)
);
"""


def journal_path(db_path: Path) -> Path:
    """``predarb.sqlite3`` -> ``predarb.paper.sqlite3``."""
    return db_path.with_name(f"{db_path.stem}.paper{db_path.suffix or '.sqlite3'}")


def _contract(c: Contract) -> str:
    return json.dumps([c.venue.value, c.market_id, c.side, c.token_id])


def _contract_of(text: str) -> Contract:
    venue, market_id, side, token_id = json.loads(text)
    return Contract(Venue(venue), market_id, side, token_id)


def _fill_json(f: Fill) -> dict[str, Any]:
    return {
        "id": f.fill_id,
        "coid": f.client_order_id,
        "contract": _contract(f.contract),
        "action": f.action.value,
        "price": str(f.price),
        "contracts": str(f.contracts),
        "fee": str(f.fee),
        "ts": iso(f.ts),
        "final": f.final,
    }


def _fill_of(raw: dict[str, Any]) -> Fill:
    return Fill(
        raw["id"],
        raw["coid"],
        _contract_of(raw["contract"]),
        Action(raw["action"]),
        Decimal(raw["price"]),
        Decimal(raw["contracts"]),
        Decimal(raw["fee"]),
        parse_iso(raw["ts"]),
        bool(raw["final"]),
    )


def _result_json(r: OrderResult) -> str:
    return json.dumps(
        {
            "coid": r.client_order_id,
            "status": r.status.value,
            "voi": r.venue_order_id,
            "filled": str(r.filled),
            "avg": str(r.avg_price),
            "fee": str(r.fee),
            "fills": [_fill_json(f) for f in r.fills],
            "code": r.error_code,
            "error": r.error,
        }
    )


def _result_of(text: str) -> OrderResult:
    raw = json.loads(text)
    return OrderResult(
        raw["coid"],
        OrderStatus(raw["status"]),
        venue_order_id=raw["voi"],
        filled=Decimal(raw["filled"]),
        avg_price=Decimal(raw["avg"]),
        fee=Decimal(raw["fee"]),
        fills=tuple(_fill_of(f) for f in raw["fills"]),
        error_code=raw["code"],
        error=raw["error"],
    )


@dataclass
class Account:
    balance: Decimal
    seq: int
    positions: dict[Contract, VenuePosition]
    orders: dict[str, OrderResult]


class PaperJournal:
    """One SQLite file for every venue's paper account. Writes are small and synchronous
    (a paper order is not on a real venue's clock); one lock serializes them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def load(self, venue: Venue) -> Account | None:
        """The venue's account as last written, or None for a new one."""
        with self._lock:
            row = self._conn.execute(
                "SELECT balance, seq FROM paper_accounts WHERE venue = ?", (venue.value,)
            ).fetchone()
            if row is None:
                return None
            positions = {
                (c := _contract_of(contract)): VenuePosition(c, Decimal(n), Decimal(cost))
                for contract, n, cost in self._conn.execute(
                    "SELECT contract, contracts, cost FROM paper_positions WHERE venue = ?",
                    (venue.value,),
                )
            }
            orders = {
                coid: _result_of(result)
                for coid, result in self._conn.execute(
                    "SELECT client_order_id, result FROM paper_orders WHERE venue = ?",
                    (venue.value,),
                )
            }
        return Account(Decimal(row[0]), int(row[1]), positions, orders)

    def save(
        self,
        venue: Venue,
        balance: Decimal,
        seq: int,
        *,
        orders: Iterable[OrderResult] = (),
        positions: Iterable[tuple[Contract, VenuePosition | None]] = (),
    ) -> None:
        """The account's cash and counter, and the orders and positions that changed
        (a position of None is gone), in one transaction."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO paper_accounts (venue, balance, seq) VALUES (?, ?, ?)"
                    " ON CONFLICT (venue) DO UPDATE SET balance = excluded.balance,"
                    " seq = excluded.seq",
                    (venue.value, str(balance), seq),
                )
                for r in orders:
                    conn.execute(
                        "INSERT OR REPLACE INTO paper_orders VALUES (?, ?, ?)",
                        (venue.value, r.client_order_id, _result_json(r)),
                    )
                for contract, pos in positions:
                    if pos is None:
                        conn.execute(
                            "DELETE FROM paper_positions WHERE venue = ? AND contract = ?",
                            (venue.value, _contract(contract)),
                        )
                    else:
                        conn.execute(
                            "INSERT OR REPLACE INTO paper_positions VALUES (?, ?, ?, ?)",
                            (venue.value, _contract(contract), str(pos.contracts), str(pos.cost)),
                        )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()
