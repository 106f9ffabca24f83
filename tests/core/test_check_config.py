"""``predarb check-config`` proves the configured keys against the (fake) venues."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eth_account import Account

from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.processes import start_predarb

WALLET_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


async def check_config(env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await start_predarb(["check-config"], env, cwd)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_without_keys_everything_is_said_and_nothing_fails(tmp_path: Path) -> None:
    code, out, _ = await check_config({}, tmp_path)
    assert code == 0
    assert "WARN kalshi: no keys" in out
    assert "WARN polymarket: no POLY_PRIVATE_KEY" in out
    assert "WARN telegram" in out
    assert "--live would refuse to start" in out
    # The interface's default max bet cannot buy Polymarket's 5-share minimum.
    assert "EXECUTOR_MAX_BET" in out


async def test_keys_are_proven_against_the_venues(tmp_path: Path) -> None:
    address = Account.from_key(WALLET_KEY).address
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        key_id = kalshi.new_key(tmp_path / "kalshi.pem")
        from decimal import Decimal

        # Tennis on shard 3: an order there is paid from shard 3's money only.
        kalshi.exchange.balances = {0: Decimal("100.45"), 3: Decimal("23")}
        poly.register_wallet(address, balance="67.5")
        env = {
            "KALSHI_API_KEY_ID": key_id,
            "KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "kalshi.pem"),
            "KALSHI_BASE_URL": kalshi.base_url,
            "POLY_PRIVATE_KEY": WALLET_KEY,
            "POLY_CLOB_URL": poly.clob_url,
            "POLY_GAMMA_URL": poly.gamma_url,
            "EXECUTOR_MAX_BET": "10",
        }
        code, out, err = await check_config(env, tmp_path)
    assert code == 0, out + err
    assert "OK kalshi: keys accepted, balance $123.45 (shard 0 $100.45, shard 3 $23.00)" in out
    assert "OK polymarket: L2 credentials accepted, pUSD balance $67.50" in out
    assert "--live would refuse" not in out
    assert WALLET_KEY not in out + err and WALLET_KEY[2:] not in out + err


async def test_a_refused_key_fails_naming_it(tmp_path: Path) -> None:
    async with FakeKalshi() as kalshi:
        kalshi.new_key(tmp_path / "kalshi.pem")
        env = {
            "KALSHI_API_KEY_ID": "00000000-0000-0000-0000-000000000000",  # unknown to the venue
            "KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "kalshi.pem"),
            "KALSHI_BASE_URL": kalshi.base_url,
        }
        code, out, _ = await check_config(env, tmp_path)
    assert code == 2
    assert "FAIL kalshi: signed balance call refused" in out


async def test_a_loose_key_file_is_a_warning(tmp_path: Path) -> None:
    async with FakeKalshi() as kalshi:
        key_id = kalshi.new_key(tmp_path / "kalshi.pem")
        (tmp_path / "kalshi.pem").chmod(0o644)
        env = {
            "KALSHI_API_KEY_ID": key_id,
            "KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "kalshi.pem"),
            "KALSHI_BASE_URL": kalshi.base_url,
        }
        code, out, _ = await check_config(env, tmp_path)
    assert code == 0
    assert "WARN kalshi: keys accepted" in out and "chmod 600" in out


async def test_telegram_token_and_chat_are_proven(tmp_path: Path) -> None:
    from tests.fakes.telegram_server import TOKEN, FakeBotApi

    fake = FakeBotApi()
    await fake.start()
    try:
        fake.known_chats.add(4242)
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_CHAT_ID": "4242",
            "TELEGRAM_BASE_URL": fake.base_url,
        }
        code, out, err = await check_config(env, tmp_path)
        assert code == 0
        assert "OK telegram: bot @predarb_test_bot can reach the chat" in out
        code, out, err = await check_config({**env, "TELEGRAM_CHAT_ID": "777"}, tmp_path)
        assert code == 2 and "FAIL TELEGRAM_CHAT_ID: chat not reachable" in out
        code, out, err = await check_config({**env, "TELEGRAM_BOT_TOKEN": "1:wrong"}, tmp_path)
        assert code == 2 and "FAIL TELEGRAM_BOT_TOKEN" in out
        assert TOKEN not in out + err
    finally:
        await fake.close()


async def test_a_database_in_a_missing_folder_fails(tmp_path: Path) -> None:
    db = tmp_path / "missing" / "predarb.sqlite3"
    code, out, _ = await check_config({"PREDARB_DB_PATH": str(db)}, tmp_path)
    assert code == 2
    assert f"FAIL PREDARB_DB_PATH: no directory {db.parent} for predarb.sqlite3" in out
