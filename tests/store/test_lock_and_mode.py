"""The database's lock (one writer process) and its mode (never shared)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from predarb import reports
from predarb.domain import ExecutionStatus
from predarb.store import Store
from predarb.store.lock import DatabaseInUse
from predarb.store.state import ModeConflict
from predarb.trading_state import read_store_view
from tests.core.builders import T0, opportunity
from tests.notify.seed import execution


async def test_a_second_writer_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    first = await Store.open(path)
    with pytest.raises(DatabaseInUse, match=rf"in use by another predarb \(pid {os.getpid()},"):
        await Store.open(path)
    reader = await Store.open(path, readonly=True)  # reports and backups still may read
    await reader.close()
    await first.close()
    second = await Store.open(path)
    await second.close()


async def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from predarb.store import Store\n"
        "async def main():\n"
        "    await Store.open(Path(sys.argv[1]))\n"
        "    print('locked', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, str(path), stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    assert await asyncio.wait_for(child.stdout.readline(), 30) == b"locked\n"
    with pytest.raises(DatabaseInUse, match=f"pid {child.pid}"):
        await Store.open(path)
    child.send_signal(signal.SIGKILL)
    await child.wait()
    store = await Store.open(path)  # no stale lock left by the killed process
    await store.close()


async def test_a_deleted_or_replaced_file_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path)
    try:
        assert store.file_intact()
        path.unlink()
        assert not store.file_intact()
    finally:
        await store.close()


async def test_modes_never_share_a_database(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        await store.claim_mode("live", T0)
        await store.claim_mode("live", T0)  # the same mode again is fine
        with pytest.raises(ModeConflict, match="belongs to live mode; give paper its own file"):
            await store.claim_mode("paper", T0)
        assert await store.get_state("mode") == "live"
    finally:
        await store.close()


async def test_a_database_holding_another_modes_executions_is_refused(store: Store) -> None:
    await store.create_execution("e1", opportunity(), "paper", [], T0)
    with pytest.raises(ModeConflict, match="belongs to paper mode"):
        await store.claim_mode("live", T0)


async def test_reports_count_only_the_databases_own_mode(store: Store) -> None:
    # A file from before the rule: paper rows beside the live ones.
    await store.create_execution("live-1", opportunity(), "live", [], T0)
    await store.create_execution("paper-1", opportunity(), "paper", [], T0)
    await store.create_execution("paper-2", opportunity(), "paper", [], T0)
    for e in ("live-1", "paper-1", "paper-2"):
        await store.set_status(e, ExecutionStatus.SUCCESS, T0)
    await store.set_state(reports.MODE, "live", T0)
    assert await reports.trades_since(store, T0 - timedelta(days=1)) == 1
    assert [e.id for e in await store.executions()] == ["live-1"]
    report = await reports.pnl(store, T0)
    assert report.all_time.executions == 1
    assert report.all_time.expected_open == opportunity().profit
    assert (await reports.status(store, T0)).exposure == Decimal(0)


async def test_what_risk_reads_holds_only_the_databases_own_mode(store: Store) -> None:
    """A live bot's open and one-legged events are not a paper database's: they neither
    block its events nor count toward its exposure (and the reverse)."""
    await execution(store, "live-1", "Live exposed", at=T0, one_leg=True, mode="live")
    await execution(store, "live-2", "Live open", at=T0, mode="live")
    await execution(store, "paper-1", "Paper open", at=T0)
    await store.set_state(reports.MODE, "paper", T0)
    view = await read_store_view(store, T0)
    assert view.open_events == frozenset({"Paper open"})
    assert view.blocked_events == frozenset()
    assert view.open_exposure == (await reports.status(store, T0)).exposure > 0
