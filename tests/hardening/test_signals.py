"""``predarb run`` and the signals a box sends it: SIGHUP (the terminal or SSH session
closed) stops it cleanly like SIGTERM, SIGUSR1 does not kill it, and further SIGTERMs
while it stops, or after, never turn its clean exit 0 into a kill."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.processes import start_predarb


class Bot:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def wait_for(self, text: str) -> None:
        """Read the log until a line holds ``text``."""
        assert self.proc.stderr is not None
        while not any(text in line for line in self.lines):
            raw = await asyncio.wait_for(self.proc.stderr.readline(), timeout=60)
            assert raw, f"exited before {text!r}: " + "".join(self.lines)[-2000:]
            self.lines.append(raw.decode())

    def send(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # it may have exited already
            self.proc.send_signal(sig)

    async def exit_code(self) -> int:
        _, err = await asyncio.wait_for(self.proc.communicate(), timeout=60)
        self.lines.append(err.decode())
        assert self.proc.returncode is not None
        return self.proc.returncode

    @property
    def log(self) -> str:
        return "".join(self.lines)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        kalshi.add_market("KXSIG-26DEC31-A")
        poly.add_market("601", tick="0.01", fee_rate="0.04")
        env = dict(
            KALSHI_BASE_URL=kalshi.base_url,
            POLY_CLOB_URL=poly.clob_url,
            POLY_GAMMA_URL=poly.gamma_url,
            PREDARB_DB_PATH=str(tmp_path / "run.sqlite3"),
            PREDARB_POLL_INTERVAL_S="0.2",
        )
        running = Bot(await start_predarb(["run"], env, tmp_path))
        try:
            await running.wait_for("matched")  # the engine is running
            yield running
        finally:
            if running.proc.returncode is None:
                running.proc.kill()
                await running.proc.wait()


async def test_sigusr1_is_ignored_and_sighup_stops_cleanly(bot: Bot) -> None:
    bot.send(signal.SIGUSR1)
    await bot.wait_for("SIGUSR1 ignored")
    assert bot.proc.returncode is None
    bot.send(signal.SIGHUP)
    assert await bot.exit_code() == 0, bot.log[-2000:]
    assert "SIGHUP: stopping" in bot.log
    assert "predarb stopped cleanly" in bot.log


async def test_more_sigterms_while_stopping_keep_the_clean_exit(bot: Bot) -> None:
    bot.send(signal.SIGTERM)
    bot.send(signal.SIGTERM)  # (the kernel may merge it with the first)
    await bot.wait_for("predarb stopped cleanly")
    # From here only the exit is left: the moment a default handler would kill it.
    bot.send(signal.SIGTERM)
    bot.send(signal.SIGTERM)
    assert await bot.exit_code() == 0, bot.log[-2000:]
    assert "SIGTERM: stopping" in bot.log
