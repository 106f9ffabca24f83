"""The dashboard in a real browser (headless Chromium): the demo world traded through
the runner as ``predarb demo`` runs it, with Telegram on the fake Bot API. Executions
and the P&L chart appear live without a reload; stop and start from the page are the
kill switch that Telegram's /status then reports, announced on Telegram too."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from predarb.config import Settings
from predarb.modes import Mode, build_demo_venues, demo_settings
from predarb.runner import run_engine
from tests.core.builders import opportunity
from tests.fakes.telegram_server import TOKEN as BOT_TOKEN
from tests.fakes.telegram_server import FakeBotApi
from tests.web.browser import SCREENSHOT_VARIABLE, chromium, keep_screenshot
from tests.web.rig import TOKEN, dashboard_rig, free_port

CHAT = 4242


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.close()


def _watch_errors(page: Any, errors: list[str]) -> None:
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)


async def test_the_demo_trades_live_in_the_browser_and_stops_from_it(
    tmp_path: Path, bot_api: FakeBotApi
) -> None:
    port = free_port()
    settings, _ = demo_settings(
        Settings(
            _env_file=None,
            predarb_db_path=tmp_path / "demo.sqlite3",
            predarb_web_port=port,
            predarb_web_token=SecretStr(TOKEN),
            telegram_bot_token=SecretStr(BOT_TOKEN),
            telegram_chat_id=CHAT,
            telegram_base_url=bot_api.base_url,
        )
    )
    said: list[str] = []
    serving = asyncio.Event()

    def say(text: str) -> None:
        said.append(text)
        if text.startswith("dashboard: "):
            serving.set()

    stops: list[Callable[[], None]] = []
    base = f"http://127.0.0.1:{port}"
    errors: list[str] = []
    # The browser is up before the bot starts, so its pages are open before the first trade.
    async with chromium(tmp_path / "profile") as browser:
        run = asyncio.create_task(
            run_engine(
                settings,
                Mode.DEMO,
                build_demo_venues(7, resolve_after_s=4.0),
                duration_s=None,
                say=say,
                echo_alerts=False,
                install_signals=stops.append,
                rematch_interval_s=5.0,
            )
        )
        try:
            await asyncio.wait_for(serving.wait(), timeout=30)
            assert f"dashboard: {base}/" in said  # a configured token is not printed
            page = await browser.new_page()
            chart = await browser.new_page()
            for p in (page, chart):
                _watch_errors(p, errors)
            await page.goto(f"{base}/trades?token={TOKEN}")
            assert page.url == f"{base}/trades"  # the token left the address bar
            await chart.goto(f"{base}/pnl")
            for p in (page, chart):
                await p.wait_for_selector("#trading.on")
                await p.evaluate("window.stillTheSamePage = true")

            # Executions appear on the trades page as they happen, without a reload.
            # (Locators wait inside the page without eval, which its CSP forbids.)
            shown = await page.locator("article.execution").count()
            await page.locator("article.execution").nth(shown).wait_for()
            assert await page.evaluate("window.stillTheSamePage === true")
            first = await page.locator("article.execution").first.inner_text()
            assert "price seen" in first and "slowest leg" in first and "unhedged window" in first

            # The cumulative P&L chart grows as executions settle.
            points = int(await chart.get_attribute("#pnl-chart", "data-points") or 0)
            await chart.locator("#pnl-chart svg circle").nth(points).wait_for()  # one a point
            assert await chart.evaluate("window.stillTheSamePage === true")
            assert await chart.locator("#pnl-chart svg polyline").count() == 1

            # Stop from the overview: the persisted kill switch, told on Telegram.
            await page.goto(f"{base}/")
            await page.wait_for_selector("[data-execution]")
            await page.click("#toggle[data-action=stop]")
            await page.wait_for_selector("#trading.off")
            assert "stopped from the dashboard" in await page.inner_text("#trading")
            async with httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}
            ) as http:
                assert (await http.get("/api/status")).json()["trading"] is False
                await bot_api.wait_for(lambda: _said(bot_api, "turned OFF from the dashboard"), 20)
                bot_api.command("/status", CHAT)
                await bot_api.wait_for(lambda: _said(bot_api, "trading OFF"), 20)
                assert _said(bot_api, "reason: stopped from the dashboard")

                await page.click("#toggle[data-action=start]")
                await page.wait_for_selector("#trading.on")
                assert (await http.get("/api/status")).json()["trading"] is True
                await bot_api.wait_for(lambda: _said(bot_api, "turned ON from the dashboard"), 20)
                bot_api.command("/status", CHAT)
                await bot_api.wait_for(lambda: _said(bot_api, "trading ON"), 20)

            await page.wait_for_selector("#alerts li")
            if os.environ.get(SCREENSHOT_VARIABLE):  # for the README: a fuller page, if it comes
                from playwright.async_api import TimeoutError as PlaywrightTimeout

                with contextlib.suppress(PlaywrightTimeout):
                    await page.locator("[data-execution]").nth(5).wait_for(timeout=60_000)
            shot = tmp_path / "dashboard.png"
            await page.screenshot(path=str(shot), full_page=True)
            keep_screenshot(shot)
        finally:
            for stop in stops:
                stop()
            _, store = await asyncio.wait_for(run, timeout=60)
            await store.close()
    assert not errors, errors


def _said(bot_api: FakeBotApi, text: str) -> bool:
    return any(text in s.text for s in bot_api.sent)


HOSTILE = '<img src=x onerror="window.owned=1">Lakers'


async def test_every_page_renders_and_venue_text_stays_text(tmp_path: Path) -> None:
    """Market titles come from the venues: shown as text, never run as HTML. Without
    the token a page is nothing but the prompt."""
    async with dashboard_rig(tmp_path) as rig, chromium(tmp_path / "profile") as browser:
        await rig.engine.execute(opportunity(event=HOSTILE))
        page = await browser.new_page()
        errors: list[str] = []
        prompt = await page.goto(rig.url)
        assert prompt is not None and prompt.status == 401
        assert await page.locator("input[name=token]").count() == 1
        assert await page.locator("nav").count() == 0
        _watch_errors(page, errors)
        await page.fill("input[name=token]", TOKEN)
        await page.click("button[type=submit]")
        await page.wait_for_selector("[data-execution]")
        assert page.url == rig.url
        for path, selector in [
            ("/", "[data-balance=kalshi]"),
            ("/opportunities", "main .card"),
            ("/pairs", "#filter"),
            ("/trades", "article.execution table.inner"),
            ("/pnl", "#pnl-chart"),
        ]:
            await page.goto(rig.url.rstrip("/") + path)
            await page.wait_for_selector(selector)
            assert await page.locator(f"nav a.here[href='{path}']").count() == 1
        await page.goto(rig.url.rstrip("/") + "/trades")
        await page.wait_for_selector("article.execution")
        assert HOSTILE in await page.inner_text("article.execution strong")
        assert await page.evaluate("window.owned === undefined")
        assert await page.locator("main img").count() == 0
    assert not errors, errors
