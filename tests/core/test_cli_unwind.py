"""``predarb unwind EXECUTION`` as a user runs it: a paper run against the fake Kalshi
and Polymarket over loopback buys a position, and the command sells it back from the
paper ledger, after asking, and only while no bot holds the database."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.store import Store
from tests.core.test_cli_venues import Venues, first_execution
from tests.core.test_cli_venues import venues as venues  # the fixture
from tests.processes import run_predarb, start_predarb

pytestmark = pytest.mark.timeout(120)


async def paper_execution(venues: Venues, cwd: Path) -> str:
    """The id of the first execution of a paper run, stopped cleanly after it."""
    proc = await start_predarb(["run"], venues.env, cwd)
    try:
        execution = await first_execution(venues.db, proc, timeout_s=30)
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    assert execution == ("paper", "success")
    with closing(sqlite3.connect(venues.db)) as conn:
        (ex_id,) = conn.execute("SELECT id FROM executions WHERE status = 'success'").fetchone()
    return str(ex_id)


def paper_positions(venues: Venues) -> dict[str, Decimal]:
    ledger = venues.db.with_name("predarb.paper.sqlite3")
    with closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT venue, contracts FROM paper_positions").fetchall()
    return {venue: Decimal(contracts) for venue, contracts in rows if Decimal(contracts) != 0}


def status_and_unwinds(venues: Venues, ex_id: str) -> tuple[str, list[tuple[str, str, str]]]:
    with closing(sqlite3.connect(venues.db)) as conn:
        (status,) = conn.execute("SELECT status FROM executions WHERE id = ?", (ex_id,)).fetchone()
        unwinds = conn.execute(
            "SELECT venue, action, filled FROM orders WHERE execution_id = ? AND role = 'unwind'"
            " ORDER BY venue",
            (ex_id,),
        ).fetchall()
    return str(status), [(str(v), str(a), str(f)) for v, a, f in unwinds]


async def run_cli(venues: Venues, cwd: Path, *args: str, answer: str = "") -> tuple[int, str, str]:
    """``predarb ...`` to its end, off the loop (the fakes answer meanwhile)."""
    done = await asyncio.to_thread(
        run_predarb, list(args), venues.env, cwd=cwd, input=answer, timeout=60
    )
    return done.returncode, done.stdout, done.stderr


async def test_unwind_asks_first_then_sells_the_paper_position_back(
    venues: Venues, tmp_path: Path
) -> None:
    ex_id = await paper_execution(venues, tmp_path)
    held = paper_positions(venues)
    assert set(held) == {"kalshi", "polymarket"}, held

    code, out, err = await run_cli(venues, tmp_path, "unwind", ex_id, answer="n\n")
    assert code == 1, out + err
    assert f"Unwind {ex_id} (" in out and "paper)? Sells back kalshi:" in out
    assert "Cancelled: nothing sent." in out
    assert status_and_unwinds(venues, ex_id) == ("success", [])
    assert paper_positions(venues) == held

    bot = await Store.open(venues.db)  # a running bot holds the database
    try:
        code, out, err = await run_cli(venues, tmp_path, "unwind", ex_id, "--yes")
    finally:
        await bot.close()
    assert code == 2 and "the bot is running on this database" in err
    assert status_and_unwinds(venues, ex_id) == ("success", [])

    code, out, err = await run_cli(venues, tmp_path, "unwind", ex_id, "--yes")
    assert code == 0, out + err
    assert out.strip().endswith(f"{ex_id}: Unwound: everything it held is sold back.")
    status, unwinds = status_and_unwinds(venues, ex_id)
    assert status == "unwound"
    assert [(v, a) for v, a, _ in unwinds] == [("kalshi", "sell"), ("polymarket", "sell")]
    assert [Decimal(f) for _, _, f in unwinds] == [held["kalshi"], held["polymarket"]]
    assert paper_positions(venues) == {}
    # Paper: the sales were simulated, nothing reached either venue.
    assert venues.orders_posted() == 0 and venues.private_calls() == []

    code, out, err = await run_cli(venues, tmp_path, "unwind", ex_id, "--yes")
    assert code == 2 and err.strip() == f"predarb: {ex_id} cannot be unwound: it holds nothing"
    code, out, err = await run_cli(venues, tmp_path, "unwind", "no-such-id")
    assert code == 2 and "no-such-id cannot be unwound: no such execution" in err
