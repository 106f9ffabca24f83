"""The bot's trading path in a process of its own, for the crash test.

    python -m tests.execution.crash_child CONFIG DB trade|recover

``trade`` executes the one opportunity of ``tests.execution.world`` (and handles a
one-legged result) with the real placer, the real adapters and the SQLite file DB;
``recover`` runs the start-up recovery on the same file. The fakes live in the parent.

``PREDARB_CRASH_AT`` names a placer crash point: reaching it, the process SIGKILLs
itself (no cleanup, no flush: as a power cut to the process). ``PREDARB_CRASH_HOLD``
names a venue whose orders are held back forever, so that the other leg is the one
answered when the crash comes. The last line printed is a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from predarb.domain import ExecutionStatus, OrderRequest, OrderResult, Venue
from predarb.execution import placer as placer_module
from predarb.execution.hedging import HedgePolicy
from predarb.execution.partial import resolve_partial
from predarb.execution.placer import Placer
from predarb.execution.recovery import recover
from predarb.store import Store
from predarb.venues.base import VenueClient
from tests.execution.world import VenueConfig, fee_of, make_venues, opportunity

POLICY = HedgePolicy(max_loss_per_contract=Decimal("0.01"), unwind_steps=3)


def _clock() -> datetime:
    return datetime.now(UTC)


def _arm(point: str) -> None:
    def crash(name: str) -> None:
        if name == point:
            print(f"killed at {name}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    placer_module.crash_point = crash


def _hold(venue: VenueClient) -> None:
    async def never(order: OrderRequest) -> OrderResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    venue.place_order = never  # type: ignore[method-assign]


async def main(cfg: VenueConfig, db: Path, phase: str) -> dict[str, object]:
    venues = make_venues(cfg)
    if point := os.environ.get("PREDARB_CRASH_AT"):
        _arm(point)
    if hold := os.environ.get("PREDARB_CRASH_HOLD"):
        _hold(venues[Venue(hold)])
    store = await Store.open(db)
    placer_module.LOOKUP_DELAY_S = 0.01
    placer = Placer(store, venues, mode="live", clock=_clock)
    try:
        if phase == "trade":
            placement = await placer.execute(opportunity(cfg))
            status = placement.status
            if status is ExecutionStatus.PARTIAL:
                first = placement.first_fill_ns
                outcome = await resolve_partial(
                    placer, placement.execution_id, POLICY, fee_of, first_fill_ns=first
                )
                status = outcome.status
            return {"status": status.value}
        # The orders cut off by the kill never reached a venue: no late arrival to wait for.
        report = await recover(placer, POLICY, fee_of, late_window_s=0)
        return {"finished": {k: v.value for k, v in report.finished.items()}}
    finally:
        await store.close()
        for venue in venues.values():
            await venue.close()


if __name__ == "__main__":
    config, db_path, which = sys.argv[1:4]
    summary = asyncio.run(main(VenueConfig.loads(Path(config).read_text()), Path(db_path), which))
    print(json.dumps(summary), flush=True)
