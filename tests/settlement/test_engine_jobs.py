"""The engine's scheduled jobs: the daily summary of the day that ended (once, across
restarts), balances below the floor, and a mismatch block reaching the risk check."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from predarb.app import post_trade
from predarb.config import Settings
from predarb.domain import Resolution, Venue
from predarb.engine import Engine
from predarb.notify.base import Alert, AlertKind, Notifier
from predarb.store import Store
from tests.core.builders import T0, opportunity
from tests.fakes.scripted_venue import ScriptedVenue
from tests.settlement.test_settle import _arb

D = Decimal


class Collect(Notifier):
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


def _engine(store: Store, now: list[datetime]) -> tuple[Engine, Collect]:
    settings = Settings(_env_file=None, executor_min_platform_balance=D(5))
    venues = {v: ScriptedVenue(v) for v in Venue}
    notifier = Collect()
    engine = Engine(settings, store, venues, notifier, mode="paper", clock=lambda: now[0])
    post_trade(engine)
    return engine, notifier


async def test_daily_summary_covers_the_ended_day_once_across_restarts(store: Store) -> None:
    now = [T0]  # 2026-11-22 12:00
    engine, notifier = _engine(store, now)
    assert not await engine.daily_summary()  # first start: no ended day to tell
    await _arb(store, 1)
    venue = engine.venues[Venue.KALSHI]
    assert isinstance(venue, ScriptedVenue)
    venue.resolutions["KXS1-M00001"] = Resolution("KXS1-M00001", {"yes": D(1), "no": D(0)})
    poly = engine.venues[Venue.POLYMARKET]
    assert isinstance(poly, ScriptedVenue)
    poly.resolutions["P00001"] = Resolution("P00001", {"No": D(0), "tok-00001": D(0)})
    now[0] = T0 + timedelta(hours=2)
    await engine.settle()
    now[0] = T0 + timedelta(hours=12, seconds=1)  # 2026-11-23 00:00:01
    assert await engine.daily_summary()
    summary = notifier.alerts[-1]
    assert summary.kind is AlertKind.DAILY_SUMMARY
    assert "Daily summary</b> 2026-11-22" in summary.html
    assert "<b>2026-11-22</b>: realized $0.38 on 1 settled" in summary.html
    assert not await engine.daily_summary()
    restarted, again = _engine(store, now)
    assert not await restarted.daily_summary()  # a restart does not resend it
    now[0] = T0 + timedelta(days=3)  # down over a midnight: the missed day is sent
    assert await restarted.daily_summary()
    assert "2026-11-24" in again.alerts[-1].html


async def test_low_balance_is_alerted_once_and_the_fresh_figure_is_used(store: Store) -> None:
    now = [T0]
    engine, notifier = _engine(store, now)
    venue = engine.venues[Venue.KALSHI]
    assert isinstance(venue, ScriptedVenue)
    venue.balance = D("3.5")
    await engine.refresh_balances()
    await engine.refresh_balances()
    low = [a for a in notifier.alerts if a.kind is AlertKind.BALANCE_LOW]
    assert len(low) == 1 and "kalshi balance $3.50" in low[0].html
    assert (await engine.snapshot()).balances[Venue.KALSHI] == D("3.5")


async def test_a_blocked_series_stops_trading_its_other_pairs(store: Store) -> None:
    now = [T0]
    engine, _ = _engine(store, now)
    await store.save_pairs(
        [
            {
                "pair_id": "pair-1",
                "kind": "binary",
                "tradable": True,
                "confidence": 1.0,
                "series": ["KXNBAGAME"],
                "event": "x",
            }
        ],
        T0,
    )
    await store.block_series(["KXNBAGAME"], T0 + timedelta(days=1), "mismatch", T0)
    await engine.control.load(True)
    await engine.refresh_balances()
    assert "pair-1" in (await engine.snapshot()).blacklisted_pairs
    decision = await engine.check(opportunity(pair_id="pair-1"))
    assert not decision.approved and decision.code == "pair_blacklisted"
