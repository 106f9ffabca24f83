"""The command line as a user runs it: real processes, a real SQLite file."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.processes import run_predarb


@pytest.mark.slow
def test_demo_runs_trades_settles_and_pnl_agrees(tmp_path: Path) -> None:
    db = tmp_path / "demo.sqlite3"
    env = {"PREDARB_DB_PATH": str(db)}
    out = run_predarb(["demo", "--duration", "8", "--seed", "3"], env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "matched" in text and "pairs" in text
    assert "APPROVED" in text
    assert "EXECUTED" in text
    assert "=== demo summary ===" in text
    # The story (ending with the summary) is on stdout and the log in a file beside the
    # database, so that the two never interleave; nothing else is printed.
    assert out.stderr == ""
    lines = text.strip().splitlines()
    assert lines[-1] == "see it again with: python -m predarb pnl (or status, trades)"
    log_file = db.with_suffix(".log")
    log_text = log_file.read_text()
    warnings = sum(1 for line in log_text.splitlines() if "[warning" in line)
    assert f"log: {log_file} ({f'{warnings} warning' if warnings else 'no warnings'}" in text
    assert not re.search(r"\[(debug|info|warning|error) *\]", text)  # no log record
    assert "Traceback" not in text + log_text and "CancelledError" not in text + log_text

    with sqlite3.connect(db) as conn:
        statuses = dict(conn.execute("SELECT status, COUNT(*) FROM executions GROUP BY status"))
        settled = conn.execute(
            "SELECT COUNT(*) FROM executions WHERE settled_at IS NOT NULL"
        ).fetchone()[0]
        pairs = conn.execute("SELECT COUNT(*) FROM pairs WHERE tradable = 1").fetchone()[0]
        orphans = conn.execute(
            "SELECT COUNT(*) FROM orders WHERE status IN ('pending', 'unknown')"
        ).fetchone()[0]
        realized = conn.execute(
            "SELECT COALESCE(SUM(realized_pnl_micros), 0) FROM executions"
            " WHERE settled_at IS NOT NULL AND status != 'failed'"
        ).fetchone()[0]
    assert statuses.get("success", 0) >= 1
    assert settled >= 1
    assert pairs >= 3
    assert orphans == 0
    summary = re.search(r"realized (-?)\$([\d,]+\.\d\d)", text)
    assert summary is not None
    expected = f"{summary.group(1)}${summary.group(2)}"
    assert expected == (
        f"-${abs(realized) / 1e6:,.2f}" if realized < 0 else f"${realized / 1e6:,.2f}"
    )

    pnl = run_predarb(["pnl"], env=env, cwd=tmp_path)
    assert pnl.returncode == 0, pnl.stderr
    assert f"all time: realized {expected}" in pnl.stdout

    status = run_predarb(["status"], env=env, cwd=tmp_path)
    assert status.returncode == 0 and "mode demo" in status.stdout
    # The limits the demo ran with (its own), not the defaults of this shell.
    assert "/500 executions" in status.stdout and "(loss limit $50.00)" in status.stdout
    trades = run_predarb(["trades"], env=env, cwd=tmp_path)
    assert trades.returncode == 0 and "executions" in trades.stdout


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"EXECUTOR_MAX_BET": "-3"}, "EXECUTOR_MAX_BET"),
        ({"EXECUTOR_MAX_DAILY_TRADES": "1e12"}, "EXECUTOR_MAX_DAILY_TRADES"),
        ({"EXECUTOR_MIN_ROI": "abc"}, "EXECUTOR_MIN_ROI"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"POLY_SIGNATURE_TYPE": "7"}, "POLY_SIGNATURE_TYPE"),
        ({"TELEGRAM_BOT_TOKEN": "1:abc"}, "TELEGRAM_CHAT_ID"),
        ({"POLY_API_KEY": "k", "POLY_API_SECRET": "s"}, "POLY_API_PASSPHRASE"),
        ({"KALSHI_API_KEY_ID": "abc"}, "KALSHI_PRIVATE_KEY_PATH"),
        ({"EXECUTOR_MIN_BET": "5", "EXECUTOR_MAX_BET": "2"}, "EXECUTOR_MAX_BET"),
        ({"EXECUTOR_MAX_DEPTH_FRACTION": "1.5"}, "EXECUTOR_MAX_DEPTH_FRACTION"),
        ({"PREDARB_POLL_INTERVAL_S": "1e-30"}, "PREDARB_POLL_INTERVAL_S"),
        ({"POLY_PRIVATE_KEY": "0x1234"}, "POLY_PRIVATE_KEY"),
        ({"TELEGRAM_ALLOWED_USER_IDS": "123,@bob"}, "TELEGRAM_ALLOWED_USER_IDS"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    db = tmp_path / "x.sqlite3"
    out = run_predarb(
        ["demo", "--duration", "1"], {**env, "PREDARB_DB_PATH": str(db)}, cwd=tmp_path
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0]
    assert not db.exists()  # nothing written


def test_corrupt_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "corrupt.sqlite3"
    db.write_bytes(b"garbage" * 500)
    out = run_predarb(["demo", "--duration", "1"], {"PREDARB_DB_PATH": str(db)}, cwd=tmp_path)
    assert out.returncode == 2
    assert "not a usable SQLite database" in out.stderr
    assert db.read_bytes() == b"garbage" * 500


def test_reports_without_a_database_say_so(tmp_path: Path) -> None:
    env = {"PREDARB_DB_PATH": str(tmp_path / "none.sqlite3")}
    out = run_predarb(["pnl"], env, cwd=tmp_path)
    assert out.returncode == 2 and "no database" in out.stderr
    assert not (tmp_path / "none.sqlite3").exists()


def test_live_without_keys_refuses_to_start(tmp_path: Path) -> None:
    env = {"PREDARB_DB_PATH": str(tmp_path / "l.sqlite3")}
    out = run_predarb(["run", "--live"], env, cwd=tmp_path)
    assert out.returncode == 2
    assert "KALSHI_API_KEY_ID" in out.stderr
    assert not (tmp_path / "l.sqlite3").exists()


def test_unknown_command_is_usage_error(tmp_path: Path) -> None:
    assert run_predarb(["frobnicate"], cwd=tmp_path).returncode == 2
