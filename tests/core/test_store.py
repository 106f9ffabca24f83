"""The SQLite store: migration from nothing, refusal of bad files, round trips."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.domain import Action, ExecutionStatus, Fill, OrderRequest, OrderResult, OrderStatus
from predarb.store import Store, StoreError
from predarb.store.records import from_micros, to_micros
from predarb.store.schema import SCHEMA_VERSION
from tests.core.builders import K_YES, P_NO, T0, opportunity


def _orders(n: str = "5") -> list[tuple[OrderRequest, str]]:
    return [
        (OrderRequest("cid-k", K_YES, Action.BUY, Decimal("0.40"), Decimal(n)), "yes"),
        (OrderRequest("cid-p", P_NO, Action.BUY, Decimal("0.55"), Decimal(n)), "no"),
    ]


def _filled(cid: str, contract: object, price: str, n: str, fee: str) -> OrderResult:
    fill = Fill(f"f-{cid}", cid, contract, Action.BUY, Decimal(price), Decimal(n), Decimal(fee), T0)  # type: ignore[arg-type]
    return OrderResult(
        cid, OrderStatus.FILLED, "v-" + cid, Decimal(n), Decimal(price), Decimal(fee), (fill,)
    )


async def test_migrates_an_empty_file_and_records_the_version(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert meta == {"app": "predarb", "schema_version": str(SCHEMA_VERSION)}
    assert mode == "wal"
    # Opening again does not migrate twice.
    store = await Store.open(path)
    await store.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a database at all" * 100, "not a usable SQLite database"),
        (None, "foreign SQLite file"),
    ],
)
async def test_refuses_corrupt_or_foreign_files_without_writing(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "bad.sqlite3"
    if content is None:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE customers (id INTEGER)")
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=message):
        await Store.open(path)
    assert path.read_bytes() == before
    assert not Path(str(path) + "-wal").exists()


async def test_refuses_a_database_from_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer than this predarb"):
        await Store.open(path)


async def test_readonly_open_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing.sqlite3"
    with pytest.raises(StoreError, match="no database"):
        await Store.open(path, readonly=True)
    assert not path.exists()


def test_micros_are_exact() -> None:
    for text in ("0", "0.000001", "1.23", "-4.56789", "12345.678901"):
        assert from_micros(to_micros(Decimal(text))) == Decimal(text).quantize(Decimal("0.000001"))


async def test_execution_round_trip_with_orders_fills_and_settlement(store: Store) -> None:
    opp = opportunity()
    await store.create_execution("ex-1", opp, "demo", _orders(), T0)
    loaded = await store.execution("ex-1")
    assert loaded is not None
    assert loaded.status is ExecutionStatus.PENDING
    assert [o.status for o in loaded.orders] == [OrderStatus.PENDING, OrderStatus.PENDING]
    assert loaded.expected_profit == opp.profit.quantize(Decimal("0.000001"))

    await store.record_result("ex-1", _filled("cid-k", K_YES, "0.40", "5", "0.084"), T0)
    await store.record_result("ex-1", _filled("cid-p", P_NO, "0.55", "5", "0.06188"), T0)
    # The same fill reported twice is stored once.
    await store.record_result("ex-1", _filled("cid-p", P_NO, "0.55", "5", "0.06188"), T0)
    await store.set_status("ex-1", ExecutionStatus.SUCCESS, T0)

    holdings = {h.side: h for h in await store.holdings("ex-1")}
    assert holdings["yes"].contracts == Decimal(5) and holdings["yes"].cost == Decimal("2.00")
    assert holdings["No"].fees == Decimal("0.06188")

    lines = [(holdings["yes"], Decimal(1), False), (holdings["No"], Decimal(0), False)]
    pnl = await store.record_settlement("ex-1", lines, "won: kalshi yes", T0 + timedelta(hours=1))
    assert pnl == Decimal(5) - Decimal("2.00") - Decimal("2.75") - Decimal("0.14588")
    done = await store.execution("ex-1")
    assert done is not None and done.realized_pnl == pnl and done.payout == Decimal(5)
    assert await store.holdings() == []  # settled executions hold nothing open
    with pytest.raises(sqlite3.IntegrityError):
        await store.record_settlement("ex-1", lines, "again", T0 + timedelta(hours=2))


async def test_write_ahead_is_atomic(store: Store) -> None:
    orders = _orders()
    orders.append(orders[0])  # a duplicate client order id makes the write fail
    with pytest.raises(sqlite3.IntegrityError):
        await store.create_execution("ex-2", opportunity(), "demo", orders, T0)
    assert await store.execution("ex-2") is None
    assert await store.open_order_ids() == []


async def test_events_log_is_append_only(store: Store) -> None:
    await store.log_event("hello", T0, note="x")
    with pytest.raises(sqlite3.IntegrityError):
        await store.conn.execute("DELETE FROM events")
    with pytest.raises(sqlite3.IntegrityError):
        await store.conn.execute("UPDATE events SET kind = 'changed'")
    assert [e["kind"] for e in await store.events()] == ["hello"]


async def test_state_pairs_blocks_and_outbox(store: Store) -> None:
    await store.set_state("k", "v1", T0)
    await store.set_state("k", "v2", T0)
    assert await store.get_state("k") == "v2"
    assert await store.get_state("missing", "d") == "d"

    pair = {"pair_id": "p1", "event": "E", "kind": "binary", "tradable": True, "confidence": 0.97}
    await store.save_pairs([pair], T0)
    assert await store.load_pairs() == [pair]

    await store.block_pair("p1", T0 + timedelta(hours=6), "two one-legged fills")
    assert await store.pair_blocks(T0) == {"p1": T0 + timedelta(hours=6)}
    assert await store.pair_blocks(T0 + timedelta(hours=7)) == {}

    first = await store.enqueue_alert("partial", "<b>x</b>", True, T0)
    await store.enqueue_alert("executed", "y", False, T0)
    assert [a[0] for a in await store.pending_alerts()] == [first, first + 1]
    await store.mark_alerts([first], T0, sent=True)
    assert [a[0] for a in await store.pending_alerts()] == [first + 1]


async def test_backup_is_a_readable_copy(store: Store, tmp_path: Path) -> None:
    await store.set_state("k", "v", T0)
    target = tmp_path / "copy.sqlite3"
    await store.backup(target)
    copy = await Store.open(target, readonly=True)
    try:
        assert await copy.get_state("k") == "v"
    finally:
        await copy.close()
    with pytest.raises(StoreError, match="already exists"):
        await store.backup(target)


async def test_concurrent_writers_never_share_a_transaction(store: Store) -> None:
    import asyncio

    def orders(i: int) -> list[tuple[OrderRequest, str]]:
        return [
            (OrderRequest(f"k{i}", K_YES, Action.BUY, Decimal("0.4"), Decimal(5)), "yes"),
            (OrderRequest(f"p{i}", P_NO, Action.BUY, Decimal("0.55"), Decimal(5)), "no"),
        ]

    async def failing() -> None:
        bad = orders(999)
        bad.append(bad[0])  # duplicate client order id: this transaction rolls back
        with pytest.raises(sqlite3.IntegrityError):
            await store.create_execution("ex-bad", opportunity(), "demo", bad, T0)

    jobs = [
        store.create_execution(f"ex-{i}", opportunity(), "demo", orders(i), T0) for i in range(10)
    ]
    jobs += [store.enqueue_alert("info", f"alert {i}", False, T0) for i in range(10)]
    jobs += [failing() for _ in range(3)]
    jobs += [store.set_state(f"key{i}", "v", T0) for i in range(10)]
    await asyncio.gather(*jobs)
    assert len(await store.executions()) == 10
    assert len(await store.pending_alerts()) == 10  # none lost to another task's rollback
    assert await store.get_state("key9") == "v"


async def test_a_transaction_sqlite_rolled_back_itself_keeps_its_error(store: Store) -> None:
    """On some errors (a full disk) SQLite rolls the transaction back by itself: the
    caller must see that error, not a failed second ROLLBACK, and the store go on."""
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        async with store.transaction():
            await store.set_state("lost", "v", T0)
            await store.conn.execute("ROLLBACK")  # what SQLite did on its own
            raise sqlite3.OperationalError("database or disk is full")
    assert await store.get_state("lost") == ""
    await store.set_state("kept", "v", T0)
    assert await store.get_state("kept") == "v"


async def test_checkpoints_move_off_the_commits(tmp_path: Path) -> None:
    """Once handed to ``checkpoint()``, commits leave the WAL growing past SQLite's own
    threshold (1,000 pages: no checkpoint's fsync lands on them); a checkpoint, on its
    own connection, copies every page back."""
    path = tmp_path / "wal.sqlite3"
    wal = tmp_path / "wal.sqlite3-wal"
    store = await Store.open(path)
    assert await store.checkpoint() == -1  # not enabled: SQLite's own threshold applies
    await store.checkpoint_in_background()
    for i in range(3000):
        await store.log_event("filler", T0, n=i, pad="x" * 3000)
    assert wal.stat().st_size > 2 * 1000 * (4096 + 24)
    assert await store.checkpoint() == 0  # every page copied back
    await store.close()
    assert not wal.exists()  # and the last connection out folded the WAL in
    reopened = await Store.open(path, readonly=True)
    try:
        assert len(await reopened.events("filler")) == 3000
    finally:
        await reopened.close()


async def test_a_batched_transaction_is_whole_or_nothing_and_refuses_reads(store: Store) -> None:
    """The execution's write-ahead runs as one batch on the database's thread: what it
    wrote is all there after it, nothing of it after a failing statement, and the store
    goes on; a read inside it (which could not see its writes) is refused."""
    async with store.transaction(batch=True):
        await store.create_execution("ex-1", opportunity(), "demo", _orders(), T0)
        await store.mark_sent(["cid-k", "cid-p"], T0)
    [record] = await store.executions()
    assert record.id == "ex-1" and all(o.sent_at is not None for o in record.orders)

    bad = [(OrderRequest("cid-x", K_YES, Action.BUY, Decimal("0.4"), Decimal(5)), "yes")] * 2
    with pytest.raises(sqlite3.IntegrityError):
        async with store.transaction(batch=True):
            await store.set_state("lost", "v", T0)
            await store.create_execution("ex-2", opportunity(), "demo", bad, T0)
    assert [e.id for e in await store.executions()] == ["ex-1"]
    assert await store.get_state("lost") == ""

    with pytest.raises(RuntimeError, match="batched"):
        async with store.transaction(batch=True):
            await store.set_state("unread", "v", T0)
            await store.get_state("unread")
    assert await store.get_state("unread") == ""
    await store.set_state("kept", "v", T0)
    assert await store.get_state("kept") == "v"
