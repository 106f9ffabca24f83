"""The engine starts even when a venue is down, and matches once it answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from predarb.config import Settings
from predarb.domain import Market, Venue
from predarb.engine import Engine
from predarb.matching.matcher import Matcher
from predarb.notify.base import FanOut
from predarb.store import Store
from predarb.venues.base import VenueUnavailable
from predarb.venues.sim import SimVenue, SimWorld


class FlakyListing(SimVenue):
    """A simulated venue whose listing fails ("down") or comes back empty ("empty")."""

    state = "down"

    async def list_markets(self) -> list[Market]:
        if self.state == "down":
            raise VenueUnavailable(self.venue, "connection refused")
        return [] if self.state == "empty" else await super().list_markets()


async def test_start_survives_a_venue_down_and_matches_when_it_returns(
    store: Store, tmp_path: Path
) -> None:
    world = SimWorld(5)
    kalshi = FlakyListing(world, Venue.KALSHI)
    venues = {Venue.KALSHI: kalshi, Venue.POLYMARKET: SimVenue(world, Venue.POLYMARKET)}
    settings = Settings(predarb_db_path=tmp_path / "x.sqlite3")
    engine = Engine(settings, store, venues, FanOut([]), mode="demo", matcher=Matcher().match)
    await engine.start()  # does not raise although Kalshi is down
    try:
        assert engine.pairs == []
        with pytest.raises(VenueUnavailable):  # the scheduled retry; its supervisor logs it
            await engine._rematch_when_due()

        kalshi.state = "up"
        await engine._rematch_when_due()
        assert engine.pairs, "matched once the venue answered"
        assert {c.venue for p in engine.pairs for c in p.contracts} == set(venues)
        assert len(await store.load_pairs()) == len(engine.pairs)

        # A venue that suddenly lists nothing does not wipe the known pairs.
        known = list(engine.pairs)
        kalshi.state = "empty"
        engine._matched_at = None
        await engine._rematch_when_due()
        assert engine.pairs == known
    finally:
        await engine.shutdown()


async def test_a_started_engine_checkpoints_the_wal_on_its_own_schedule(
    store: Store, tmp_path: Path
) -> None:
    world = SimWorld(3)
    venues = {v: SimVenue(world, v) for v in Venue}
    settings = Settings(predarb_db_path=tmp_path / "x.sqlite3")
    engine = Engine(settings, store, venues, FanOut([]), mode="demo", matcher=Matcher().match)
    assert await store.checkpoint() == -1  # SQLite's own threshold until the engine starts
    await engine.start()
    try:
        assert engine.scheduler is not None and engine.scheduler.get_job("checkpoint")
        assert await store.checkpoint() == 0
    finally:
        await engine.shutdown()
