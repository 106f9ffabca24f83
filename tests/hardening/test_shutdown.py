"""``predarb run`` as systemd runs it: JSON logs, and SIGTERM ends it cleanly (exit 0,
the database closed and whole)."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path

from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.processes import start_predarb


async def test_sigterm_stops_the_bot_cleanly_with_json_logs(tmp_path: Path) -> None:
    db = tmp_path / "run.sqlite3"
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        kalshi.add_market("KXSTOP-26DEC31-A")
        poly.add_market("501", tick="0.01", fee_rate="0.04")
        env = dict(
            KALSHI_BASE_URL=kalshi.base_url,
            POLY_CLOB_URL=poly.clob_url,
            POLY_GAMMA_URL=poly.gamma_url,
            PREDARB_DB_PATH=str(db),
            PREDARB_POLL_INTERVAL_S="0.2",
            LOG_FORMAT="json",
        )
        proc = await start_predarb(["run"], env, tmp_path)
        assert proc.stderr is not None
        lines: list[dict[str, object]] = []
        while not any("matched" in str(line.get("msg", "")) for line in lines):
            raw = await asyncio.wait_for(proc.stderr.readline(), timeout=60)
            assert raw, "the bot exited before it was running"
            lines.append(json.loads(raw))
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    rest = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert any(line.get("msg") == "predarb stopped cleanly" for line in rest)
    assert all({"msg", "level", "timestamp"} <= line.keys() for line in lines + rest)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
