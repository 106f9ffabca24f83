"""``predarb run --live`` starts only with keys the venues accept, deriving the
Polymarket L2 credentials from the wallet key, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from eth_account import Account

from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.processes import start_predarb

WALLET_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def _env(kalshi: FakeKalshi, poly: FakePolymarket, key_id: str, tmp: Path) -> dict[str, str]:
    return dict(
        KALSHI_API_KEY_ID=key_id,
        KALSHI_PRIVATE_KEY_PATH=str(tmp / "kalshi.pem"),
        KALSHI_BASE_URL=kalshi.base_url,
        POLY_PRIVATE_KEY=WALLET_KEY,  # no L2 credentials: derived at start
        POLY_CLOB_URL=poly.clob_url,
        POLY_GAMMA_URL=poly.gamma_url,
        PREDARB_DB_PATH=str(tmp / "live.sqlite3"),
        PREDARB_POLL_INTERVAL_S="0.2",
    )


async def test_live_proves_the_keys_then_runs_until_sigterm(tmp_path: Path) -> None:
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        key_id = kalshi.new_key(tmp_path / "kalshi.pem")
        poly.register_wallet(Account.from_key(WALLET_KEY).address, balance="25")
        env = _env(kalshi, poly, key_id, tmp_path)
        proc = await start_predarb(["run", "--live"], env, tmp_path)
        assert proc.stderr is not None
        seen: list[str] = []
        while not any("matched" in line for line in seen):  # the engine is running
            raw = await asyncio.wait_for(proc.stderr.readline(), timeout=60)
            assert raw, "the bot exited before it was running: " + "".join(seen)[-2000:]
            seen.append(raw.decode())
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        derived = [p for m, p in poly.requests if p.startswith("/auth/")]
    output = "".join(seen) + err.decode()
    assert proc.returncode == 0, output[-2000:]
    assert any("kalshi keys accepted" in line for line in seen)
    assert derived, "L2 credentials were derived from the wallet key"
    assert "stopped cleanly" in output
    assert WALLET_KEY not in output and WALLET_KEY[2:] not in output


async def test_live_with_a_refused_key_does_not_start(tmp_path: Path) -> None:
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        kalshi.new_key(tmp_path / "kalshi.pem")
        env = _env(kalshi, poly, "00000000-0000-0000-0000-000000000000", tmp_path)
        proc = await start_predarb(["run", "--live"], env, tmp_path)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        orders = [p for m, p, _ in kalshi.requests if m == "POST"]
    assert proc.returncode == 2
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("predarb: KALSHI_API_KEY_ID: kalshi refused the keys")
    assert orders == []
    assert not (tmp_path / "live.sqlite3").exists()
