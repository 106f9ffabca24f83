"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from predarb.store import Store

# CI explores the same examples on every run (a failure found once is found again, and
# a green run is not luck); a developer's run explores new ones.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Tests never read the developer's .env nor inherit their variables.
_PREFIXES = ("KALSHI_", "POLY_", "TELEGRAM_", "EXECUTOR_", "PREDARB_", "LOG_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith(_PREFIXES):
            monkeypatch.delenv(key)
    # No dashboard unless a test asks for one (on a free port): tests and parallel runs
    # never fight over 8686.
    monkeypatch.setenv("PREDARB_WEB_PORT", "0")
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "test.sqlite3")
    try:
        yield s
    finally:
        await s.close()
