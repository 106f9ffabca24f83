"""Recovery announces each recovered execution as what it is (issue 16, finding 9): an
execution whose legs both filled before a crash is told as EXECUTED after the restart,
never as "PARTIAL FILL ... missing: none ... NOT HEDGED"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from predarb.config import Settings
from predarb.domain import ExecutionStatus, Venue
from predarb.engine import Engine
from predarb.execution import placer as placer_module
from predarb.execution.placer import Placer
from predarb.notify.base import AlertKind
from predarb.store import Store
from tests.core.builders import opportunity
from tests.fakes.scripted_venue import FILL, KILL, ScriptedVenue
from tests.settlement.test_engine_jobs import Collect


class Crash(Exception):
    pass


def _crash_at(point: str) -> None:
    if point == "after_all_answered":
        raise Crash(point)


async def _crashed_execution(store: Store, venues: dict[Venue, ScriptedVenue]) -> str:
    """Both legs answered by the venues, nothing recorded: as a crash leaves it."""
    placer = Placer(store, venues, mode="demo", clock=lambda: datetime.now(UTC))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(placer_module, "crash_point", _crash_at)
        with pytest.raises(Crash):
            await placer.execute(opportunity())
    (ex,) = await store.executions()
    assert ex.status is ExecutionStatus.PENDING
    return ex.id


@pytest.mark.parametrize(
    ("kalshi", "status", "kind", "header"),
    [
        (FILL, ExecutionStatus.SUCCESS, AlertKind.EXECUTED, "EXECUTED"),
        (KILL, ExecutionStatus.EXPOSED, AlertKind.EXPOSED, "PARTIAL FILL"),
    ],
)
async def test_a_recovered_execution_is_announced_as_what_it_is(
    store: Store, kalshi: str, status: ExecutionStatus, kind: AlertKind, header: str
) -> None:
    venues = {
        Venue.KALSHI: ScriptedVenue(Venue.KALSHI, [kalshi]),
        Venue.POLYMARKET: ScriptedVenue(Venue.POLYMARKET, [FILL]),
    }
    execution_id = await _crashed_execution(store, venues)
    notifier = Collect()
    engine = Engine(Settings(_env_file=None), store, venues, notifier, mode="demo")
    try:
        await engine.start()
    finally:
        await engine.shutdown()
    record = await store.execution(execution_id)
    assert record is not None and record.status is status
    told = [a for a in notifier.alerts if "recovered after a restart" in a.plain]
    assert [a.kind for a in told] == [kind]
    assert told[0].plain.startswith(header)
    if status is ExecutionStatus.SUCCESS:
        assert not any("PARTIAL FILL" in a.plain for a in notifier.alerts)
