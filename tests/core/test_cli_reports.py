"""The CLI mirrors of the phone's reports (``predarb quality``, ``pnl --by``, ``daily``):
the same text as the Telegram replies, read from the same database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from predarb import reports_periods, reports_quality
from predarb.notify import report_texts
from predarb.notify.base import Alert, AlertKind
from predarb.store import Store
from tests.notify.seed_quality import timed_execution
from tests.processes import run_predarb


def plain(html: str) -> str:
    return Alert(AlertKind.INFO, html).plain


async def test_quality_pnl_by_and_daily_print_the_reports(tmp_path: Path) -> None:
    db = tmp_path / "predarb.sqlite3"
    at = datetime.now(UTC) - timedelta(hours=1)
    store = await Store.open(db)
    try:
        await store.claim_mode("paper", at)
        await timed_execution(store, "c-1", "Lakers @ Celtics", at=at, settle=True)
        await timed_execution(store, "c-2", "Knicks @ Nets", at=at, one_leg="unwound")
        q = await reports_quality.quality(store, datetime.now(UTC), 3)
        one = await reports_quality.of_execution(store, "c-2")
        kinds = await reports_periods.breakdown(store, "kind")
    finally:
        await store.close()
    env = {"PREDARB_DB_PATH": str(db)}

    out = run_predarb(["quality", "--days", "3"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == plain(report_texts.quality_text(q)).strip()
    assert "Execution quality, last 3 days: 2 executions" in out.stdout

    # One execution: the same text as /quality c-2.
    out = run_predarb(["quality", "--execution", "c-2"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert one is not None
    assert out.stdout.strip() == plain(report_texts.execution_quality_text(one)).strip()
    assert "slippage vs priced: $0.05" in out.stdout and "unwinds cost $0.17" in out.stdout
    out = run_predarb(["quality", "--execution", "nothing"], env, cwd=tmp_path)
    assert out.returncode == 2 and "no execution nothing" in out.stderr

    # A paper database's figures say so.
    out = run_predarb(["pnl"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("P&L (paper)\n")
    out = run_predarb(["trades"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Last 2 executions (paper)\n") and "id c-1" in out.stdout

    out = run_predarb(["pnl", "--by", "kind"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == plain(report_texts.breakdown_text(kinds)).strip()

    out = run_predarb(["daily", "--days", "2"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Last 2 days (UTC)")

    out = run_predarb(["pnl", "--by", "weekday"], env, cwd=tmp_path)
    assert out.returncode == 2 and "--by: one of day, week" in out.stderr


async def test_set_blacklist_mute_settings_and_chart_from_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "predarb.sqlite3"
    env = {"PREDARB_DB_PATH": str(db)}
    out = run_predarb(["set", "EXECUTOR_MAX_BET", "1e9"], env, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "predarb: refused: EXECUTOR_MAX_BET: must be a number above 0 and at most 1000000"
    ]
    out = run_predarb(["set", "EXECUTOR_MAX_BET", "6"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "EXECUTOR_MAX_BET is now 6 (set)."
    assert run_predarb(["blacklist", "add", "NBA"], env, cwd=tmp_path).returncode == 0
    refused = run_predarb(["mute", "partial"], env, cwd=tmp_path)
    assert refused.returncode == 2 and "can never be muted" in refused.stderr
    assert run_predarb(["mute", "settled"], env, cwd=tmp_path).returncode == 0

    out = run_predarb(["settings"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "limits set at run time: EXECUTOR_MAX_BET = 6" in out.stdout
    assert "blacklist: nba" in out.stdout and "muted alerts: settled" in out.stdout
    assert "EXECUTOR_MAX_BET = 6 (set)" in out.stdout

    out = run_predarb(["chart", str(tmp_path / "pnl.png")], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "pnl.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    store = await Store.open(db)  # a running bot holds the database
    try:
        out = run_predarb(["set", "EXECUTOR_MAX_BET", "5"], env, cwd=tmp_path)
    finally:
        await store.close()
    assert out.returncode == 2 and "send the command from Telegram" in out.stderr
