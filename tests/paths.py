"""Where the tests find the files they read: inside the project, never beside it."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# Recorded venue bodies, copied with their provenance (tests/fixtures/README.md).
FIXTURES = TESTS / "fixtures"
KALSHI_FIXTURES = FIXTURES / "kalshi"
POLYMARKET_FIXTURES = FIXTURES / "polymarket"
