"""The dashboard served by ``predarb demo`` and ``predarb run`` (paper and live) as child
processes: the URL printed at start, the token never in a log line, and a remote host
without a strong token refused before anything starts."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.processes import start_predarb
from tests.web.rig import free_port

WALLET_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
URL = re.compile(r"dashboard: (http://127\.0\.0\.1:\d+/(\?token=(\S+))?)")


async def _read_until(
    stream: asyncio.StreamReader, pattern: re.Pattern[str], seen: list[str]
) -> re.Match[str]:
    while True:
        raw = await asyncio.wait_for(stream.readline(), timeout=60)
        assert raw, "the process ended first: " + "".join(seen)[-2000:]
        seen.append(raw.decode())
        if found := pattern.search(seen[-1]):
            return found


async def test_the_demo_prints_the_dashboard_url_and_serves_it(tmp_path: Path) -> None:
    port = free_port()
    proc = await start_predarb(
        ["demo", "--duration", "6"], {"PREDARB_WEB_PORT": str(port)}, tmp_path
    )
    assert proc.stdout is not None
    out: list[str] = []
    found = await _read_until(proc.stdout, URL, out)
    url, token = found.group(1), found.group(3)
    assert url.startswith(f"http://127.0.0.1:{port}/?token=") and len(token) >= 24
    async with httpx.AsyncClient(timeout=10) as http:
        page = await http.get(url)
        assert page.status_code == 303 and "set-cookie" in page.headers
        status = await http.get(
            f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"Bearer {token}"}
        )
        assert status.status_code == 200 and status.json()["mode"] == "demo"
        http.cookies.clear()
        assert (await http.get(f"http://127.0.0.1:{port}/api/status")).status_code == 401
    rest, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    stdout = "".join(out) + rest.decode()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert stdout.count(token) == 1  # printed once, at start
    assert token not in err.decode()


def _venue_env(kalshi: FakeKalshi, poly: FakePolymarket, tmp: Path) -> dict[str, str]:
    return dict(
        KALSHI_BASE_URL=kalshi.base_url,
        POLY_CLOB_URL=poly.clob_url,
        POLY_GAMMA_URL=poly.gamma_url,
        PREDARB_DB_PATH=str(tmp / "run.sqlite3"),
        PREDARB_POLL_INTERVAL_S="0.2",
        LOG_LEVEL="DEBUG",
    )


@pytest.mark.parametrize("live", [False, True], ids=["paper", "live"])
async def test_run_serves_the_dashboard_and_never_logs_the_token(
    tmp_path: Path, live: bool
) -> None:
    token = "a-configured-dashboard-token-of-32c"
    port = free_port()
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        env = _venue_env(kalshi, poly, tmp_path)
        env.update(PREDARB_WEB_PORT=str(port), PREDARB_WEB_TOKEN=token)
        if live:
            env.update(
                KALSHI_API_KEY_ID=kalshi.new_key(tmp_path / "kalshi.pem"),
                KALSHI_PRIVATE_KEY_PATH=str(tmp_path / "kalshi.pem"),
                POLY_PRIVATE_KEY=WALLET_KEY,
            )
            poly.register_wallet(Account.from_key(WALLET_KEY).address, balance="25")
        proc = await start_predarb(["run", "--live"] if live else ["run"], env, tmp_path)
        assert proc.stdout is not None
        out: list[str] = []
        found = await _read_until(proc.stdout, URL, out)
        assert found.group(1) == f"http://127.0.0.1:{port}/"  # a configured token is not printed
        base = found.group(1)
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            assert (await http.get("/", params={"token": token})).status_code == 303
            assert (await http.get("/", params={"token": token + "x"})).status_code == 401
            bearer = {"Authorization": f"Bearer {token}"}
            status = (await http.get("/api/status", headers=bearer)).json()
            assert (await http.get("/api/pnl", headers=bearer)).status_code == 200
        proc.send_signal(signal.SIGTERM)
        rest, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    output = "".join(out) + rest.decode() + err.decode()
    assert proc.returncode == 0, output[-2000:]
    assert status["mode"] == ("live" if live else "paper")
    assert token not in output
    assert "dashboard: refused GET / (wrong token)" in output  # refusals are logged, tokens not


@pytest.mark.parametrize(
    ("command", "token"),
    [(["run"], None), (["demo", "--duration", "5"], "only-twenty-three-chars")],
)
async def test_a_remote_host_without_a_strong_token_stops_the_start(
    tmp_path: Path, command: list[str], token: str | None
) -> None:
    env = {"PREDARB_WEB_HOST": "0.0.0.0", "PREDARB_WEB_PORT": str(free_port())}
    if token is not None:
        env["PREDARB_WEB_TOKEN"] = token
    proc = await start_predarb(command, env, tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("predarb: PREDARB_WEB_TOKEN: ")
    assert "0.0.0.0" in last and (token is None or token not in last)
    assert not (tmp_path / "predarb.sqlite3").exists()  # refused before anything started
