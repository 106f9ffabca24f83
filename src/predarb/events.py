"""Typed events of the trading core, and the bus that fans them out to subscribers.

The core announces what happened (an execution finished, a venue went down, the kill
switch tripped); alerts, balances, limits, the dashboard and any other channel
subscribe to the kinds they care about. This module imports nothing of the house but
``domain`` and the store's record types, so every layer can publish and subscribe.

A handler must return quickly (like ``Notifier.send``): it runs in the publisher's
task, one after the other in subscription order, so a slow one delays the others of
that event. A handler that raises is logged and the others still run; the publisher
never sees the error. A channel that does slow work (a web socket, a chat) queues the
event and sends from its own task.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from predarb.domain import ExecutionStatus, Opportunity, Venue
from predarb.store.records import ExecutionRecord

log = logging.getLogger(__name__)

# The safety halts (``TradingHalted.halt``).
HALT_STOPPING = "stopping"  # the bot is shutting down
HALT_STORAGE = "storage"  # the database cannot be written
HALT_DATABASE = "database"  # the database file was deleted or replaced under the bot
HALT_POSITIONS = "positions"  # the venues' positions not yet compared at a live start
VENUE_HALT = "venue_"  # + a venue's value: that venue only (``TradingState.halt_venue``)


def venue_halt(venue: Venue) -> str:
    """The halt name of trading on ``venue`` alone."""
    return VENUE_HALT + venue.value


class Event:
    """Base of every event on the bus."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class KillSwitchChanged(Event):
    """Trading turned on or off (by a user, a limit or a fault)."""

    enabled: bool
    reason: str


@dataclass(frozen=True, slots=True)
class KillSwitchTripped(Event):
    """A limit or a fault turned trading off; a human should look."""

    reason: str


@dataclass(frozen=True, slots=True)
class TradingHalted(Event):
    """A safety halt (``halt``: "stopping", "storage", ...) refuses new executions."""

    halt: str
    reason: str


@dataclass(frozen=True, slots=True)
class TradingResumed(Event):
    """The safety halt ``halt`` no longer refuses executions."""

    halt: str


@dataclass(frozen=True, slots=True)
class VenueDown(Event):
    venue: Venue
    reason: str


@dataclass(frozen=True, slots=True)
class VenueBack(Event):
    venue: Venue
    down_for_s: float


@dataclass(frozen=True, slots=True)
class BalanceChanged(Event):
    """A venue's balance as last read; ``previous`` is None at the first read."""

    venue: Venue
    balance: Decimal
    previous: Decimal | None


@dataclass(frozen=True, slots=True)
class CooldownEnded(Event):
    """The event ``event`` may be traded again."""

    event: str


@dataclass(frozen=True, slots=True)
class ShardBalanceChanged(Event):
    """A venue's cash on one exchange shard as last read (Kalshi); ``previous`` is None
    at the first read. Money moved between shards leaves the venue's total unchanged."""

    venue: Venue
    shard: int
    balance: Decimal
    previous: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderSlotsFreed(Event):
    """Orders a venue's rate limit refused room for may be sent again."""

    venue: Venue


@dataclass(frozen=True, slots=True)
class ExecutionOutcome(Event):
    """An execution's outcome is recorded (``status`` None: it raised) and its spending
    counted, while its reservation is still held: what must act before any other
    execution may use what it held (the one-legged limits, the daily loss limit)
    subscribes here. The reservation is released after them; ``ExecutionFinished``
    follows."""

    opportunity: Opportunity
    execution_id: str
    status: ExecutionStatus | None


@dataclass(frozen=True, slots=True)
class ExecutionFinished(Event):
    """An execution reached a final state (or raised: ``status`` None, ``error`` set);
    its reservation is already released and its cooldown started. ``unknown_orders``:
    an order's fate is unknown and is being followed (the chat was told)."""

    opportunity: Opportunity
    execution_id: str
    status: ExecutionStatus | None
    record: ExecutionRecord | None = None
    unknown_orders: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True)
class PairBlocked(Event):
    pair_id: str
    event: str
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class PairUnblocked(Event):
    pair_id: str


@dataclass(frozen=True, slots=True)
class PositionsSettled(Event):
    """Settlement closed ``count`` positions (money came back, exposure freed)."""

    count: int


@dataclass(frozen=True, slots=True)
class DayStarted(Event):
    """A new UTC day: the daily counters start again."""

    day: str  # ISO date


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None] | None]


class EventBus:
    """Fan-out of typed events: ``subscribe(handler, KindA, KindB)`` (no kinds: every
    event), ``await publish(event)`` from async code, ``emit(event)`` from sync code
    (delivered in a task; ``drain()`` waits for those)."""

    def __init__(self) -> None:
        self._subs: list[tuple[tuple[type[Event], ...], Handler]] = []
        self._pending: set[asyncio.Task[None]] = set()

    def subscribe(self, handler: Handler, *kinds: type[Event]) -> Callable[[], None]:
        """Call ``handler`` with each event of these kinds; returns the unsubscriber."""
        entry = (tuple(kinds), handler)
        self._subs.append(entry)

        def unsubscribe() -> None:
            if entry in self._subs:
                self._subs.remove(entry)

        return unsubscribe

    async def publish(self, event: Event) -> None:
        for kinds, handler in list(self._subs):
            if kinds and not isinstance(event, kinds):
                continue
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception(
                    "event handler failed",
                    extra={"event_kind": type(event).__name__, "handler": _name(handler)},
                )

    def emit(self, event: Event) -> None:
        """``publish`` from code that cannot await (a signal handler, a sync setter)."""
        task = asyncio.get_running_loop().create_task(self.publish(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait until every event ``emit`` queued has been delivered."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", type(handler).__name__)
