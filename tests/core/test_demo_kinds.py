"""The demo's simulated world, driven step by step through the real engine, trades
every arbitrage kind: yes_no, cross_team, n_way and same_venue (issue 9)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

from predarb.config import Settings
from predarb.domain import ArbKind, ExecutionStatus, Venue
from predarb.engine import Engine
from predarb.matching.matcher import Matcher
from predarb.modes import demo_settings
from predarb.notify.base import FanOut
from predarb.store import Store
from predarb.venues.paper import PaperVenue
from predarb.venues.sim import SimVenue, SimWorld


async def test_every_kind_is_found_approved_and_filled(store: Store, tmp_path: Path) -> None:
    world = SimWorld(
        7, n_games=14, n_crypto=6, n_soccer=5, resolve_after_s=10_000, step_s=0.2, respawn=True
    )
    venues = {
        v: PaperVenue(
            SimVenue(world, v),
            balance=Decimal(5000),
            latency_s=0,
            clock=world.now,
            consumed_ttl_s=0.5,
        )
        for v in Venue
    }
    settings, _ = demo_settings(Settings(predarb_db_path=tmp_path / "unused.sqlite3"))
    settings = settings.model_copy(update={"executor_cooldown_s": 0.0})
    engine = Engine(
        settings,
        store,
        venues,
        FanOut([]),
        mode="demo",
        matcher=Matcher().match,
        clock=world.now,
    )
    await engine.start()
    traded: Counter[ArbKind] = Counter()
    try:
        for _ in range(400):
            world.step()
            for opp in await engine.scan():
                if (await engine.check(opp)).approved:
                    placement = await engine.execute(opp)
                    if placement.status is ExecutionStatus.SUCCESS:
                        traded[opp.kind] += 1
    finally:
        await engine.shutdown()
    assert set(traded) == set(ArbKind), traded
    kinds = {r.kind for r in await store.executions()}
    assert kinds == {k.value for k in ArbKind}
