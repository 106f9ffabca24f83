"""A database file deleted or replaced under a running bot (issue 16, finding 6):
SQLite keeps writing to the file it opened, so nothing fails, and the next start on a
new file would forget every position. The watch notices within a second: one alert,
what the file held saved beside it, and no trade on the next opportunity. The engine
runs its live loop (``start`` and ``run``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from predarb import safety
from predarb.events import HALT_DATABASE
from predarb.notify.base import AlertKind
from predarb.store import Store
from tests.core.builders import T0
from tests.engine.rig import rig
from tests.engine.test_rearm import running, until


def _delete(path: Path) -> None:
    path.unlink()


def _replace(path: Path) -> None:
    # An older copy put over it, as a restore done by hand under the running bot.
    copy = path.with_name("copy.sqlite3")
    shutil.copy(path, copy)
    copy.replace(path)


def _missing_alerts(alerts: list[object]) -> list[str]:
    return [a.plain for a in alerts if "DATABASE MISSING" in getattr(a, "plain", "")]


@pytest.mark.parametrize("lose", [_delete, _replace], ids=["deleted", "replaced"])
async def test_a_database_lost_while_running_is_alerted_once_and_stops_new_trades(
    store: Store, lose: object
) -> None:
    assert callable(lose) and store.path is not None
    path = store.path
    async with running(rig(store, 2)) as r:
        first, second = r.markets
        r.arm(first)
        await until(lambda: r.orders_on(first) == 2)
        await until(lambda: r.engine.stats.executions.get("success", 0) == 1)

        lose(path)
        await until(lambda: bool(_missing_alerts(r.console.sent)))

        r.arm(second)
        await until(lambda: r.engine.stats.last_rejection.get("pair-1") == "kill_switch")
        scans = r.engine.stats.scans
        await until(lambda: r.engine.stats.scans >= scans + 2)  # it stands, refused
        assert r.orders_on(second) == 0
        assert "deleted or replaced" in r.engine.state.halts[HALT_DATABASE]
        await r.engine.safety.watch()  # later rounds of the watch say nothing more
        await r.engine.safety.watch()
        (told,) = _missing_alerts(r.console.sent)
        alert = next(a for a in r.console.sent if a.plain == told)
        assert alert.kind is AlertKind.KILL_SWITCH

    # What the lost file held was saved beside it: the first execution is in it.
    (rescued,) = path.parent.glob(f"{path.name}.rescued-*")
    assert str(rescued) in told
    saved = await Store.open(rescued, readonly=True)
    try:
        assert [e.event for e in await saved.executions()] == [first.event]
    finally:
        await saved.close()


async def test_what_is_written_after_the_loss_reaches_the_rescued_copy(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite goes on writing into the lost file after the first copy (refusals, fills,
    settlements at shutdown): the copy is brought up to date while running and once
    more when the store closes, so nothing recorded after the loss is lost with it."""
    assert store.path is not None
    path = store.path
    async with running(rig(store, 2)) as r:
        second = r.markets[1]
        _delete(path)
        await until(lambda: bool(_missing_alerts(r.console.sent)))
        (rescued,) = path.parent.glob(f"{path.name}.rescued-*")
        r.arm(second)  # refused, and the refusal written after the first copy
        await until(lambda: r.engine.stats.last_rejection.get("pair-1") == "kill_switch")
        monkeypatch.setattr(safety, "RESCUE_REFRESH_S", 0.0)
        await r.engine.safety.watch()  # the running bot's refresh of the copy
    assert await _rejections(rescued) == [("pair-1", "kill_switch")]

    # Written at shutdown (after the last refresh): copied once more at close.
    await store.log_event("settled_at_shutdown", T0, execution_id="ex-1")
    await store.close()
    assert not path.exists() and not list(path.parent.glob("*.new"))
    saved = await Store.open(rescued, readonly=True)
    try:
        assert [e["execution_id"] for e in await saved.events("settled_at_shutdown")] == ["ex-1"]
        assert await _rejections(rescued) == [("pair-1", "kill_switch")]
    finally:
        await saved.close()


async def _rejections(db: Path) -> list[tuple[str, str]]:
    saved = await Store.open(db, readonly=True)
    try:
        rows = await saved.query("SELECT pair_id, code FROM rejections ORDER BY id")
        return [(str(a), str(b)) for a, b in rows]
    finally:
        await saved.close()
