"""Headless Chromium (Debian's ``chromium`` package) driven by Playwright, with a fresh
profile each time; never ``playwright install``. Where the browser or the driver is
missing, the test is skipped with the reason (``.ci/run`` installs both)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.paths import ROOT

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Set (to a path inside the project, e.g. docs/dashboard.png) to keep the screenshot.
SCREENSHOT_VARIABLE = "DASHBOARD_SCREENSHOT"


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Any]:
    """A browser context on a fresh ``--user-data-dir``."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser test: {CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("browser test: the playwright package is missing (pip install -e '.[test]')")
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context
        finally:
            await context.close()


def keep_screenshot(shot: Path) -> None:
    """Copies the test's screenshot where ``DASHBOARD_SCREENSHOT`` says (the README's)."""
    target = os.environ.get(SCREENSHOT_VARIABLE)
    if target:
        path = Path(target) if Path(target).is_absolute() else ROOT / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, path)
