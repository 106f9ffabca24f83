"""One bot per database: two ``predarb run --live`` started together on one fresh
database and one set of keys: one runs, the other is refused (exit 2) naming the
first; and a paper run on the live bot's database is refused too (finding 1 and 3 of
issue 16)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from eth_account import Account

from predarb.store import Store
from tests.core.test_live_start import WALLET_KEY, _env
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.processes import start_predarb


async def _until_matched(proc: asyncio.subprocess.Process) -> list[str]:
    assert proc.stderr is not None
    seen: list[str] = []
    while not any("matched" in line for line in seen):
        raw = await asyncio.wait_for(proc.stderr.readline(), timeout=60)
        assert raw, "the bot exited before it was running: " + "".join(seen)[-2000:]
        seen.append(raw.decode())
    return seen


async def test_a_second_bot_on_the_same_database_is_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        key_id = kalshi.new_key(tmp_path / "kalshi.pem")
        poly.register_wallet(Account.from_key(WALLET_KEY).address, balance="25")
        env = _env(kalshi, poly, key_id, tmp_path)
        # Both start at once on a database that does not exist yet: the migration race.
        a, b = await asyncio.gather(
            start_predarb(["run", "--live"], env, tmp_path),
            start_predarb(["run", "--live"], env, tmp_path),
        )
        done, _ = await asyncio.wait(
            [asyncio.create_task(a.wait()), asyncio.create_task(b.wait())],
            timeout=60,
            return_when=asyncio.FIRST_COMPLETED,
        )
        assert done, "neither start was refused"
        refused, running = (a, b) if a.returncode is not None else (b, a)
        _, err = await refused.communicate()
        await _until_matched(running)
        running.send_signal(signal.SIGTERM)
        await asyncio.wait_for(running.communicate(), timeout=60)

        # The live bot has stopped: a paper run on its database is refused all the same.
        paper = await start_predarb(["run"], env, tmp_path)
        _, paper_err = await asyncio.wait_for(paper.communicate(), timeout=60)

    last = err.decode().strip().splitlines()[-1]
    assert refused.returncode == 2, err.decode()[-2000:]
    assert last.startswith("predarb: PREDARB_DB_PATH: "), last
    assert f"in use by another predarb (pid {running.pid}, since " in last
    assert running.returncode == 0
    store = await Store.open(tmp_path / "live.sqlite3", readonly=True)  # one sound migration
    try:
        assert await store.get_state("mode") == "live"
    finally:
        await store.close()
    assert paper.returncode == 2
    assert paper_err.decode().strip().splitlines()[-1] == (
        "predarb: PREDARB_DB_PATH: this database belongs to live mode; give paper its own"
        " file (modes never share a database)"
    )
