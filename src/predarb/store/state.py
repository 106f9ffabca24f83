"""The bot's own state in the store: key/value state, the append-only event log and
rejections, the matched pairs and their blocks (one by one or by series), each venue's
balance over time, and the alert outbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from predarb.domain import Venue
from predarb.store.connection import StoreConnection
from predarb.store.db import StoreError
from predarb.store.records import from_micros, iso, parse_iso, to_micros

SERIES_BLOCKS_KEY = "blocked_series"
MODE_KEY = "mode"  # the mode (demo, paper, live) a database belongs to
BALANCE_PREFIX = "balance:"  # + venue: its balance as last read (the balance job)


def this_mode(table: str = "") -> str:
    """SQL: the row (of ``executions``, or of the alias ``table``) belongs to the mode
    of this database. Modes never share a database; a file from before that rule may
    still hold another mode's rows, and no report counts them."""
    col = f"{table}.mode" if table else "mode"
    return f"{col} = COALESCE((SELECT value FROM bot_state WHERE key = '{MODE_KEY}'), {col})"


class ModeConflict(StoreError):
    """The database belongs to another mode; the message says which."""


class StateTables(StoreConnection):
    """Everything the store keeps that is not an execution."""

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

    async def delete_state(self, key: str) -> None:
        await self._write("DELETE FROM bot_state WHERE key = ?", (key,))

    async def claim_mode(self, mode: str, now: datetime) -> None:
        """Make this database ``mode``'s, or refuse with ``ModeConflict``: simulated
        trades never count toward live exposure, limits or P&L, nor the reverse. A
        database that has executions of another mode is refused as well."""
        async with self.transaction():
            owner = await self.get_state(MODE_KEY)
            if not owner:
                rows = await self._rows(
                    "SELECT DISTINCT mode FROM executions WHERE mode != ?", (mode,)
                )
                owner = str(rows[0][0]) if rows else ""
            if owner and owner != mode:
                raise ModeConflict(
                    f"PREDARB_DB_PATH: this database belongs to {owner} mode; give {mode}"
                    " its own file (modes never share a database)"
                )
            await self.set_state(MODE_KEY, mode, now)

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

    async def unblock(self, name: str, now: datetime) -> bool:
        """Lift the block of a pair (by id) or of a series (by name); False if neither
        was blocked."""
        rows = await self._rows(
            "SELECT 1 FROM pair_blocks WHERE pair_id = ? AND until > ?", (name, iso(now))
        )
        await self._write("DELETE FROM pair_blocks WHERE pair_id = ?", (name,))
        current = json.loads(await self.get_state(SERIES_BLOCKS_KEY, "{}"))
        series = current.pop(name.strip().lower(), None)
        if series is not None:
            await self.set_state(SERIES_BLOCKS_KEY, json.dumps(current, sort_keys=True), now)
        return bool(rows) or (series is not None and parse_iso(series["until"]) > now)

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

    # -- balances over time --------------------------------------------------------

    async def note_balance(
        self, venue: Venue, balance: Decimal, now: datetime, every_s: float
    ) -> None:
        """Keep ``balance`` as ``venue``'s at ``now``, unless one was kept less than
        ``every_s`` ago (the balance is read after every execution: the chart needs no
        more than a point every few minutes)."""
        await self._write(
            "INSERT OR REPLACE INTO balance_history(venue, ts, balance_micros)"
            " SELECT ?, ?, ? WHERE NOT EXISTS"
            " (SELECT 1 FROM balance_history WHERE venue = ? AND ts > ?)",
            (
                venue.value,
                iso(now),
                to_micros(balance),
                venue.value,
                iso(now - timedelta(seconds=every_s)),
            ),
        )

    async def balance_history(self) -> dict[Venue, list[tuple[datetime, Decimal]]]:
        """Every balance kept, by venue, oldest first."""
        rows = await self._rows(
            "SELECT venue, ts, balance_micros FROM balance_history ORDER BY venue, ts"
        )
        out: dict[Venue, list[tuple[datetime, Decimal]]] = {}
        for venue, ts, micros in rows:
            if venue in Venue._value2member_map_:
                out.setdefault(Venue(venue), []).append((parse_iso(ts), from_micros(micros)))
        return out

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
