"""The alerts of the trading core's events: each event that should reach a human is
rendered (``notify.messages``) and handed to the notifier. Subscribed to the bus by the
composition root; the core publishes events and never builds an alert itself.

Another channel (the dashboard) subscribes to the same events on its own and renders
them its own way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal

from predarb import reports
from predarb.domain import ExecutionStatus, Venue
from predarb.events import (
    HALT_DATABASE,
    HALT_POSITIONS,
    HALT_STORAGE,
    VENUE_HALT,
    BalanceChanged,
    EventBus,
    ExecutionFinished,
    KillSwitchTripped,
    PairBlocked,
    TradingHalted,
    TradingResumed,
    VenueBack,
    VenueDown,
)
from predarb.notify import messages
from predarb.notify.base import Alert, AlertKind
from predarb.store import Store

log = logging.getLogger(__name__)

ONE_LEGGED = (ExecutionStatus.HEDGED, ExecutionStatus.UNWOUND, ExecutionStatus.EXPOSED)


class AlertRouter:
    """``send`` must return at once (``Notifier.send``); ``balances`` gives the
    balances an execution alert shows; ``balance_floor`` is
    EXECUTOR_MIN_PLATFORM_BALANCE, below which a balance is alerted once."""

    def __init__(
        self,
        send: Callable[[Alert], Awaitable[None]],
        store: Store,
        clock: Callable[[], datetime],
        *,
        balances: Callable[[], Mapping[Venue, Decimal]],
        balance_floor: Decimal,
    ) -> None:
        self.send = send
        self.store = store
        self.clock = clock
        self.balances = balances
        self.balance_floor = balance_floor

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(self.execution_finished, ExecutionFinished)
        bus.subscribe(self.kill_switch, KillSwitchTripped)
        bus.subscribe(self.venue_down, VenueDown)
        bus.subscribe(self.venue_back, VenueBack)
        bus.subscribe(self.halted, TradingHalted)
        bus.subscribe(self.resumed, TradingResumed)
        bus.subscribe(self.balance, BalanceChanged)
        bus.subscribe(self.pair_blocked, PairBlocked)

    async def execution_finished(self, event: ExecutionFinished) -> None:
        if event.status not in (ExecutionStatus.SUCCESS, *ONE_LEGGED) or event.unknown_orders:
            # Nothing filled, or it raised (the kill switch speaks for that), or an order
            # of unknown fate (told when it was found, and again when it is known).
            return
        record = event.record
        if record is None:
            log.error("finished execution %s not in the store", event.execution_id)
            return
        if event.status is ExecutionStatus.SUCCESS:
            await self.send(messages.executed(record, self.balances()))
        else:
            await self.send(messages.one_legged(record))

    async def kill_switch(self, event: KillSwitchTripped) -> None:
        trades, pnl = 0, Decimal(0)
        try:
            today = reports.day_start(self.clock())
            trades = await reports.trades_since(self.store, today)
            pnl = await reports.realized_since(self.store, today)
        except Exception:  # the database may be why trading stopped: alert all the same
            log.exception("today's figures for the kill switch alert unavailable")
        await self.send(messages.kill_switch(event.reason, trades, pnl))

    async def venue_down(self, event: VenueDown) -> None:
        await self.send(messages.venue_down(event.venue, event.reason))

    async def venue_back(self, event: VenueBack) -> None:
        await self.send(messages.venue_up(event.venue))

    async def halted(self, event: TradingHalted) -> None:
        if event.halt == HALT_STORAGE:
            await self.send(
                messages.info(
                    f"DATABASE FULL: {event.reason}. No new executions until the database"
                    " can be written again; free disk space on the bot's machine.",
                    AlertKind.KILL_SWITCH,
                )
            )
        elif event.halt == HALT_DATABASE:
            await self.send(
                messages.info(
                    f"DATABASE MISSING: {event.reason}. No new executions until a restart:"
                    " stop the bot, put the database back at PREDARB_DB_PATH (the saved"
                    " copy, or a backup), then start it again.",
                    AlertKind.KILL_SWITCH,
                )
            )

        elif event.halt == HALT_POSITIONS:
            await self.send(
                messages.info(
                    f"NO TRADING YET: {event.reason}. Retried every 30 s: no new executions"
                    " until the venues' positions are compared with the database's.",
                    AlertKind.MISMATCH,
                )
            )
        elif event.halt.startswith(VENUE_HALT):
            await self.send(
                messages.venue_halted(event.halt.removeprefix(VENUE_HALT), event.reason)
            )

    async def resumed(self, event: TradingResumed) -> None:
        if event.halt == HALT_STORAGE:
            await self.send(messages.info("Database writable again: new executions may start."))
        elif event.halt == HALT_POSITIONS:
            await self.send(messages.info("Positions compared with the venues at last."))
        elif event.halt.startswith(VENUE_HALT):
            venue = event.halt.removeprefix(VENUE_HALT)
            await self.send(
                messages.info(f"Trading on {venue} resumed: new executions may use it.")
            )

    async def balance(self, event: BalanceChanged) -> None:
        floor = self.balance_floor
        was = event.previous
        if event.balance < floor and (was is None or was >= floor):
            await self.send(
                messages.info(
                    f"{event.venue.value} balance ${event.balance:.2f} is below"
                    f" EXECUTOR_MIN_PLATFORM_BALANCE ${floor:.2f}",
                    AlertKind.BALANCE_LOW,
                )
            )

    async def pair_blocked(self, event: PairBlocked) -> None:
        await self.send(
            messages.info(
                f"pair {event.pair_id} ({event.event}) blocked until"
                f" {event.until:%Y-%m-%d %H:%M} UTC: {event.reason}",
                AlertKind.PAIR_BLOCKED,
            )
        )
