"""Trading on and off: the kill switch, persisted, and what every channel may ask.

The engine, the CLI and Telegram all go through ``Control``. The state lives in
``bot_state`` so it survives restarts; ``EXECUTOR_ENABLED`` only sets it on the very
first start. ``start`` is refused, with the reason, while a limit still blocks trading.
Every change is reported into the ``TradingState`` (which announces it) once persisted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from predarb import reports
from predarb.domain import ExecutionStatus, Venue
from predarb.events import EventBus
from predarb.risk import RiskLimits, trip_reason_after_loss
from predarb.store import Store
from predarb.trading_state import TradingState

log = logging.getLogger(__name__)

VENUE_HALT_KEY = "venue_halt:"  # + a venue's value: why trading on it alone stopped


def utcnow() -> datetime:
    return datetime.now(UTC)


class Control:
    def __init__(
        self,
        store: Store,
        limits: RiskLimits,
        mode: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        state: TradingState | None = None,
    ) -> None:
        self.store = store
        self.limits = limits
        self.mode = mode
        self.clock = clock
        self.state = state or TradingState(EventBus(), store, clock=clock)
        self._writes: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self.state.enabled

    @property
    def reason(self) -> str:
        return self.state.kill_reason

    async def load(self, enabled_at_first_start: bool) -> None:
        """Read the persisted switch (or seed it from ``EXECUTOR_ENABLED``)."""
        stored = await self.store.get_state(reports.TRADING_ENABLED)
        if stored == "":
            enabled = enabled_at_first_start
            reason = "" if enabled_at_first_start else "EXECUTOR_ENABLED=false at first start"
            await self._persist(enabled, reason)
        else:
            enabled = stored == "1"
            reason = await self.store.get_state(reports.KILL_REASON)
        await self.state.set_trading(enabled, reason)
        await self.store.set_state(reports.MODE, self.mode, self.clock())
        for venue in Venue:  # a venue halted alone stays halted across a restart
            halted = await self.store.get_state(VENUE_HALT_KEY + venue.value)
            if halted:
                self.state.halt_venue(venue, halted)

    async def _persist(self, enabled: bool, reason: str) -> None:
        now = self.clock()
        await self.store.set_state(reports.TRADING_ENABLED, "1" if enabled else "0", now)
        await self.store.set_state(reports.KILL_REASON, reason, now)

    async def stop(self, reason: str, *, tripped: bool = False) -> bool:
        """Turn trading off (``tripped``: by a limit or a fault, which is announced
        as ``KillSwitchTripped``). Returns False if it was already off."""
        was = self.enabled
        await self._persist(False, reason)
        await self.store.log_event("trading_off", self.clock(), reason=reason)
        log.warning("trading off: %s", reason)
        await self.state.set_trading(False, reason, tripped=tripped and was)
        return was

    async def trip(self, reason: str) -> bool:
        """The kill switch, tripped by a limit or a fault: persisted and announced;
        when even the database cannot record it, trading stops in memory all the same."""
        try:
            return await self.stop(reason, tripped=True)
        except Exception:
            log.exception("kill switch could not be recorded", extra={"code": "trip_failed"})
        was = self.enabled
        await self.state.set_trading(False, reason, tripped=was)
        return was

    async def blocker(self) -> str | None:
        """Why trading may not be turned on now, or None."""
        now = self.clock()
        loss = -min(await reports.realized_since(self.store, reports.day_start(now)), Decimal(0))
        tripped = trip_reason_after_loss(loss, self.limits)
        if tripped:
            return tripped
        trades = await reports.trades_since(self.store, reports.day_start(now))
        if trades >= self.limits.max_daily_trades:
            return (
                f"daily trade count {trades} reached EXECUTOR_MAX_DAILY_TRADES"
                f" {self.limits.max_daily_trades}; resets at 00:00 UTC"
            )
        return None

    async def start(self) -> str | None:
        """Turn trading on; returns the refusal reason instead when a limit blocks it."""
        blocked = await self.blocker()
        if blocked:
            return blocked
        await self._persist(True, "")
        await self.store.log_event("trading_on", self.clock())
        log.warning("trading on")
        await self.state.set_trading(True, "")
        await self.resume_venues()
        return None

    def halt_venue(self, venue: Venue, reason: str) -> None:
        """Stop new executions on ``venue`` alone (a fee mismatch) until ``/start``:
        at once (from a venue's callback, sync), and persisted, so a restart keeps it."""
        self.state.halt_venue(venue, reason)
        task = asyncio.get_running_loop().create_task(self._note_venue_halt(venue, reason))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _note_venue_halt(self, venue: Venue, reason: str) -> None:
        try:
            await self.store.set_state(VENUE_HALT_KEY + venue.value, reason, self.clock())
            await self.store.log_event(
                "venue_halted", self.clock(), venue=venue.value, reason=reason
            )
        except Exception:
            log.exception("the halt of %s could not be recorded", venue.value)

    async def resume_venues(self) -> list[Venue]:
        """Lift the halts of single venues (a fee mismatch): part of ``/start``, also
        when trading is on already. Returns the venues lifted."""
        await asyncio.gather(*self._writes)  # a halt being recorded is lifted after it
        lifted = await self.state.resume_venues()
        for venue in lifted:
            await self.store.set_state(VENUE_HALT_KEY + venue.value, "", self.clock())
            await self.store.log_event("venue_resumed", self.clock(), venue=venue.value)
        return lifted

    async def status(self) -> reports.StatusReport:
        return await reports.status(
            self.store,
            self.clock(),
            max_daily_trades=self.limits.max_daily_trades,
            max_daily_loss=self.limits.max_daily_loss,
            needed=self.limits.max_bet + self.limits.min_platform_balance,
        )

    async def balances(self) -> dict[Venue, Decimal]:
        return (await self.status()).balances

    async def exposed_events(self) -> list[str]:
        rows = await self.store.executions(statuses=[ExecutionStatus.EXPOSED], unsettled=True)
        return [r.event for r in rows]
