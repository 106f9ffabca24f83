"""What follows an execution, each part a subscriber of the bus (``events``): fresh
balances, the one-legged limits (a pair blocked, trading stopped) and the daily loss
limit. The engine only announces ``ExecutionOutcome``, ``ExecutionFinished`` (and
``PositionsSettled``); alerts (``notify.alerts``) and the dashboard subscribe the same
way. The composition root (``app.post_trade``) subscribes them.

They run in the publisher's task: an execution's own task, so none of this holds the
trading loop. The limits act on ``ExecutionOutcome``, while the execution still holds
its reservation: no other execution can start on what it held before they have
stopped trading or blocked its pair. The balances are read on ``ExecutionFinished``,
after the release (and the re-arming), then the alerts show them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal

from predarb import reports
from predarb.balance_rows import SHARD_BALANCE_PREFIX, shard_balances_text
from predarb.config import Settings
from predarb.control import Control
from predarb.domain import ExecutionStatus, Venue
from predarb.events import (
    EventBus,
    ExecutionFinished,
    ExecutionOutcome,
    PairBlocked,
    PositionsSettled,
)
from predarb.execution.limits import after_one_legged
from predarb.risk import trip_reason_after_loss
from predarb.store import Store
from predarb.trading_state import TradingState
from predarb.venues.base import VenueClient, VenueError

log = logging.getLogger(__name__)

# The balance over time (/chart) keeps one read per venue this often at most.
BALANCE_HISTORY_EVERY_S = 300.0
ONE_LEGGED = (ExecutionStatus.HEDGED, ExecutionStatus.UNWOUND, ExecutionStatus.EXPOSED)


class Balances:
    """Each venue's balance read into the trading state (and the status page's
    bot_state, and the balance history the chart draws); a read that started before an
    execution spent on the venue is dropped (``TradingState.balance_epoch``). Also the
    scheduled balance job."""

    def __init__(
        self,
        venues: Mapping[Venue, VenueClient],
        state: TradingState,
        store: Store,
        clock: Callable[[], datetime],
    ) -> None:
        self.venues = venues
        self.state = state
        self.store = store
        self.clock = clock

    async def refresh(self) -> None:
        now = self.clock()
        for venue, client in self.venues.items():
            epoch = self.state.balance_epoch(venue)
            try:
                shards = await client.get_shard_balances()
                balance = sum(shards.values(), Decimal(0)) if shards else await client.get_balance()
            except VenueError as exc:
                log.warning("balance of %s unavailable: %s", venue.value, exc)
                continue
            except Exception:
                log.exception("balance of %s failed", venue.value)
                continue
            if not await self.state.set_balance(venue, balance, epoch):
                continue  # read while an execution spent on it: the next read counts
            if shards:
                await self.state.set_shard_balances(venue, shards)
            await self.store.set_state(reports.BALANCE_PREFIX + venue.value, str(balance), now)
            await self.store.note_balance(venue, balance, now, BALANCE_HISTORY_EVERY_S)
            if shards:
                text = shard_balances_text(shards)
                await self.store.set_state(SHARD_BALANCE_PREFIX + venue.value, text, now)
            await self.store.set_state(reports.HEALTH_PREFIX + venue.value, "up", now)

    async def after_execution(self, event: ExecutionFinished) -> None:
        if event.execution_id:  # something was (or may have been) sent
            await self.refresh()

    async def after_settlement(self, _event: PositionsSettled) -> None:
        await self.refresh()


class OneLeggedLimits:
    """After a one-legged result: the pair blocked after ``EXECUTOR_PAIR_PARTIAL_LIMIT``
    of them (``PairBlocked`` announced), trading stopped at
    ``EXECUTOR_DAILY_PARTIAL_LIMIT`` in a day. ``settings``: as they are now (``/set``
    changes them at run time)."""

    def __init__(
        self,
        store: Store,
        settings: Callable[[], Settings],
        state: TradingState,
        control: Control,
        bus: EventBus,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.settings = settings
        self.state = state
        self.control = control
        self.bus = bus
        self.clock = clock

    async def after_execution(self, event: ExecutionOutcome) -> None:
        if event.status not in ONE_LEGGED:
            return
        opp, now = event.opportunity, self.clock()
        verdict = await after_one_legged(
            self.store, opp.pair_id, now, reports.day_start(now), self.settings()
        )
        if verdict.block_until is not None:
            self.state.stale()
            await self.bus.publish(
                PairBlocked(opp.pair_id, opp.event, verdict.block_until, verdict.block_reason)
            )
        if verdict.trip_reason and self.control.enabled:
            await self.control.trip(verdict.trip_reason)


class DailyLossLimit:
    """Trading stops once today's realized loss reaches EXECUTOR_MAX_DAILY_LOSS:
    looked at after every execution (before its reservation is released) and every
    settlement. The limit is the control's, as it is now (``/set`` changes it)."""

    def __init__(self, store: Store, control: Control, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.control = control
        self.clock = clock

    async def check(self) -> None:
        now = self.clock()
        loss = -min(await reports.realized_since(self.store, reports.day_start(now)), Decimal(0))
        reason = trip_reason_after_loss(loss, self.control.limits)
        if reason and self.control.enabled:
            await self.control.trip(reason)

    async def after(self, _event: ExecutionOutcome | PositionsSettled) -> None:
        await self.check()
