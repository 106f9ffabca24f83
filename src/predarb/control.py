"""Trading on and off: the kill switch, persisted, and what every channel may ask.

The engine, the CLI and Telegram all go through ``Control``. The state lives in
``bot_state`` so it survives restarts; ``EXECUTOR_ENABLED`` only sets it on the very
first start. ``start`` is refused, with the reason, while a limit still blocks trading.
Every change is reported into the ``TradingState`` (which announces it) once persisted.
"""

from __future__ import annotations

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

    async def resume_venues(self) -> list[Venue]:
        """Lift the halts of single venues (a fee mismatch): part of ``/start``, also
        when trading is on already. Returns the venues lifted."""
        lifted = await self.state.resume_venues()
        for venue in lifted:
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
