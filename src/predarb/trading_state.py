"""The one owner of "may we trade": every fact the risk manager decides on, in one
object that builds the ``RiskSnapshot`` (``snapshot()``, used by the hot path and by
``Engine.check`` alike) and announces each change on the event bus.

Reported into it: the kill switch (by ``Control``, which persists it), the safety
halts (stopping, a database that cannot be written: by ``EngineSafety`` and the
engine), venue health (by the circuit breakers), balances, cooldowns, and the
reservations of executions in flight. Read from SQLite, at most ``max_age_s`` old on
the hot path: today's trades and loss, open exposure and positions, blocked events and
pairs.

Reservations make concurrent executions safe: an approved opportunity reserves, before
anything is sent and without yielding to the loop after its check, the money it needs
on each venue, its exposure, one of the day's trades, one of the executions in flight,
its event, and one order slot per leg in each venue's order budget. The snapshot counts
reservations as spent, so a second execution can never overdraw a venue, pass a limit
or trade the same event. At the end the reservation is settled: the store is read again
(the fills are in it now) and the money actually spent is taken off the known balances
before the reservation is dropped, so nothing is counted twice or not at all.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from predarb import reports
from predarb.domain import ZERO, Action, Contract, ExecutionStatus, Opportunity, Venue
from predarb.events import (
    BalanceChanged,
    CooldownEnded,
    DayStarted,
    Event,
    EventBus,
    KillSwitchChanged,
    KillSwitchTripped,
    PairUnblocked,
    TradingHalted,
    TradingResumed,
    VenueBack,
    VenueDown,
    venue_halt,
)
from predarb.risk import RiskSnapshot, shard_needs
from predarb.store import Store
from predarb.store.records import OrderRecord
from predarb.store.state import this_mode

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoreView:
    """What the snapshot needs from SQLite."""

    trades_today: int = 0
    loss_today: Decimal = ZERO
    open_exposure: Decimal = ZERO
    open_events: frozenset[str] = frozenset()
    blocked_events: frozenset[str] = frozenset()
    blacklisted_pairs: Mapping[str, datetime] = field(default_factory=dict)


async def read_store_view(store: Store, now: datetime) -> StoreView:
    today = reports.day_start(now)
    # Read twice a second while trading: three columns, not whole records.
    rows = await store.query(
        "SELECT DISTINCT e.event, e.status, o.filled FROM executions e"
        " LEFT JOIN orders o ON o.execution_id = e.id WHERE e.settled_at IS NULL"
        f" AND {this_mode('e')}"
    )
    halted = (ExecutionStatus.PARTIAL.value, ExecutionStatus.EXPOSED.value)
    _, exposure = await reports.open_exposure(store)
    return StoreView(
        trades_today=await reports.trades_since(store, today),
        loss_today=-min(await reports.realized_since(store, today), ZERO),
        open_exposure=exposure,
        open_events=frozenset(str(r[0]) for r in rows if r[2] and Decimal(r[2]) > 0),
        blocked_events=frozenset(str(r[0]) for r in rows if r[1] in halted),
        blacklisted_pairs=await store.pair_blocks(now),
    )


def spent_by_venue(orders: Iterable[OrderRecord]) -> dict[Venue, Decimal]:
    """Money each venue's balance lost to these orders: bought contracts and every fee,
    less what sales (an unwind) brought back."""
    spent: dict[Venue, Decimal] = {}
    for o in orders:
        value = o.filled * o.avg_price
        signed = -value if o.action == Action.SELL.value else value
        spent[o.venue] = spent.get(o.venue, ZERO) + signed + o.fee
    return spent


class OrderBudget:
    """A venue's order rate (``orders`` per ``per_s``) as a sliding window of the
    orders reserved: an execution takes its slots before it is approved, so the venue
    client's own limiter never makes one leg wait behind another execution's."""

    def __init__(self, orders: int, per_s: float, *, clock: Callable[[], float]) -> None:
        self.orders = orders
        self.per_s = per_s
        self._clock = clock
        self._taken: deque[float] = deque()

    def _trim(self) -> None:
        limit = self._clock() - self.per_s
        while self._taken and self._taken[0] <= limit:
            self._taken.popleft()

    def free(self) -> int:
        self._trim()
        return self.orders - len(self._taken)

    def take(self, n: int) -> None:
        now = self._clock()
        self._taken.extend([now] * n)

    def give_back(self, n: int) -> None:
        """Orders reserved but never sent (the execution stopped before sending)."""
        for _ in range(min(n, len(self._taken))):
            self._taken.pop()

    def next_free_in(self) -> float | None:
        """Seconds until a slot frees, when none is free now."""
        self._trim()
        if len(self._taken) < self.orders or not self._taken:
            return None
        return max(0.0, self._taken[0] + self.per_s - self._clock())


@dataclass(frozen=True, slots=True)
class Reservation:
    """What an execution in flight will use, counted as used until it ends."""

    event: str
    pair_id: str
    money: Mapping[Venue, Decimal]  # cost plus fees of its legs, by venue
    exposure: Decimal
    orders: Mapping[Venue, int]
    # Money held on each exchange shard of a venue that pays per shard (Kalshi).
    shards: Mapping[tuple[Venue, int], Decimal] = field(default_factory=dict)

    @classmethod
    def of(cls, opp: Opportunity) -> Reservation:
        money: dict[Venue, Decimal] = {}
        orders: dict[Venue, int] = {}
        for leg in opp.legs:
            venue = leg.contract.venue
            money[venue] = money.get(venue, ZERO) + leg.cost + leg.fee
            orders[venue] = orders.get(venue, 0) + 1
        return cls(opp.event, opp.pair_id, money, opp.cost + opp.fees, orders)


class TradingState:
    def __init__(
        self,
        bus: EventBus,
        store: Store,
        *,
        clock: Callable[[], datetime],
        venues: Iterable[Venue] = (),
        max_age_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.store = store
        self.clock = clock
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self.enabled = False
        self.kill_reason = ""
        self.halts: dict[str, str] = {}  # halt name -> reason, in the order raised
        self.venues_up: dict[Venue, bool] = {v: True for v in venues}
        # Venues no new execution may use until a person lifts it (``halt_venue``).
        self.venue_halts: dict[Venue, str] = {}
        self._down_since: dict[Venue, float] = {}
        self.balances: dict[Venue, Decimal] = {}
        # Cash per (venue, exchange shard) for venues that pay orders per shard (Kalshi),
        # and each contract's shard: the engine hands in a live view of its markets.
        self.shard_balances: dict[tuple[Venue, int], Decimal] = {}
        self.shard_of: Mapping[Contract, int] = {}
        self._balance_epoch: dict[Venue, int] = {}
        self.cooldown_until: dict[str, datetime] = {}
        self.budgets: dict[Venue, OrderBudget] = {}
        self.reservations: dict[str, Reservation] = {}  # by event
        self._view = StoreView()
        self._view_at: float | None = None
        self._reads = 0
        self._installed = 0
        self._day = ""
        self._blocks_seen: dict[str, datetime] = {}

    # -- the one function risk sees ---------------------------------------------

    def halt_reason(self) -> str:
        """Why no new execution may start now, beyond the kill switch."""
        return next(iter(self.halts.values()), "")

    def build(self, now: datetime) -> RiskSnapshot:
        """What risk sees now: live state, the store view, reservations counted as used."""
        view = self._view
        halt = self.halt_reason()
        held = self.reservations.values()
        reserved_money: dict[Venue, Decimal] = {}
        shard_held: dict[tuple[Venue, int], Decimal] = {}
        for r in held:
            for venue, amount in r.money.items():
                reserved_money[venue] = reserved_money.get(venue, ZERO) + amount
            for key, amount in r.shards.items():
                shard_held[key] = shard_held.get(key, ZERO) + amount
        return RiskSnapshot(
            now=now,
            trading_enabled=self.enabled and not halt,
            kill_reason=halt or self.kill_reason,
            balances={v: b - reserved_money.get(v, ZERO) for v, b in self.balances.items()},
            venues_up={v: up and v not in self.venue_halts for v, up in self.venues_up.items()},
            trades_today=view.trades_today + len(self.reservations),
            loss_today=view.loss_today,
            open_exposure=view.open_exposure + sum((r.exposure for r in held), ZERO),
            open_events=view.open_events,
            in_flight_events=frozenset(self.reservations),
            in_flight=len(self.reservations),
            order_capacity={v: b.free() for v, b in self.budgets.items()},
            cooldown_until=dict(self.cooldown_until),
            blocked_events=view.blocked_events,
            blacklisted_pairs=view.blacklisted_pairs,
            shard_balances=dict(self.shard_balances),
            shard_held=shard_held,
            shard_of=self.shard_of,
        )

    async def snapshot(self, max_age_s: float | None = None) -> RiskSnapshot:
        """``build`` on a store view at most ``max_age_s`` old (default: the hot
        path's ``self.max_age_s``; 0 reads the store now)."""
        limit = self.max_age_s if max_age_s is None else max_age_s
        if self._view_at is None or self._monotonic() - self._view_at > limit:
            await self.refresh()
        return self.build(self.clock())

    async def refresh(self) -> None:
        """Read the store part again. A read that started before a newer one finished
        is dropped: it may miss an execution that the newer one counts."""
        self._reads += 1
        seq = self._reads
        view = await read_store_view(self.store, self.clock())
        if seq > self._installed:
            self._installed = seq
            self._view, self._view_at = view, self._monotonic()
            await self._note_blocks(view.blacklisted_pairs)

    def stale(self) -> None:
        """The store changed: the next snapshot reads it again."""
        self._view_at = None

    # -- kill switch and halts ------------------------------------------------

    async def set_trading(self, enabled: bool, reason: str, *, tripped: bool = False) -> None:
        """Reported by ``Control`` once the switch is persisted."""
        changed = (enabled, reason) != (self.enabled, self.kill_reason)
        self.enabled, self.kill_reason = enabled, reason
        if changed:
            await self.bus.publish(KillSwitchChanged(enabled, reason))
        if tripped:
            await self.bus.publish(KillSwitchTripped(reason))

    def _set_halt(self, name: str, reason: str) -> Event | None:
        if reason:
            if self.halts.get(name) == reason:
                return None
            self.halts[name] = reason
            log.warning("trading halted: %s", reason, extra={"code": f"halt_{name}"})
            return TradingHalted(name, reason)
        if self.halts.pop(name, None) is None:
            return None
        log.warning("trading halt lifted: %s", name, extra={"code": f"resume_{name}"})
        return TradingResumed(name)

    async def halt(self, name: str, reason: str) -> None:
        """Raise (``reason``) or lift (``""``) the safety halt ``name``."""
        event = self._set_halt(name, reason)
        if event is not None:
            await self.bus.publish(event)

    def halt_at_once(self, name: str, reason: str) -> None:
        """``halt`` from sync code (a signal handler): the state changes now, the
        announcement follows in a task."""
        event = self._set_halt(name, reason)
        if event is not None:
            self.bus.emit(event)

    def halt_venue(self, venue: Venue, reason: str) -> None:
        """Stop new executions that use ``venue`` (others go on) until
        ``resume_venues``; from sync code (a venue's callback), announced in a task as
        the halt ``venue_<venue>``. Risk sees the venue as down meanwhile."""
        first = venue not in self.venue_halts
        self.venue_halts[venue] = reason
        if first:
            log.warning(
                "trading on %s halted: %s", venue.value, reason, extra={"code": "halt_venue"}
            )
            self.bus.emit(TradingHalted(venue_halt(venue), reason))

    async def resume_venues(self) -> list[Venue]:
        """Lift every venue halt (a person looked: ``/start``); returns the venues."""
        lifted = list(self.venue_halts)
        self.venue_halts.clear()
        for venue in lifted:
            log.warning("trading on %s resumed", venue.value, extra={"code": "resume_venue"})
            await self.bus.publish(TradingResumed(venue_halt(venue)))
        return lifted

    # -- venues and balances ------------------------------------------------------

    async def venue_down(self, venue: Venue, reason: str) -> None:
        was = self.venues_up.get(venue, False)
        self.venues_up[venue] = False
        if was:
            self._down_since[venue] = self._monotonic()
            await self.bus.publish(VenueDown(venue, reason))

    async def venue_back(self, venue: Venue) -> None:
        was = self.venues_up.get(venue, False)
        self.venues_up[venue] = True
        if not was:
            since = self._down_since.pop(venue, self._monotonic())
            await self.bus.publish(VenueBack(venue, self._monotonic() - since))

    def balance_epoch(self, venue: Venue) -> int:
        """Taken before a balance read: ``set_balance`` drops a read that started
        before money was spent on the venue, since it may not show the spending."""
        return self._balance_epoch.get(venue, 0)

    async def set_balance(self, venue: Venue, balance: Decimal, epoch: int | None = None) -> bool:
        """Record a balance read; False if it was dropped as older than a spending."""
        if epoch is not None and epoch != self.balance_epoch(venue):
            return False
        previous = self.balances.get(venue)
        self.balances[venue] = balance
        if previous != balance:
            await self.bus.publish(BalanceChanged(venue, balance, previous))
        return True

    def set_shard_balances(self, venue: Venue, shards: Mapping[int, Decimal]) -> None:
        """Record a read of ``venue``'s cash on each exchange shard."""
        for key in [k for k in self.shard_balances if k[0] is venue]:
            del self.shard_balances[key]
        for shard, amount in shards.items():
            self.shard_balances[(venue, shard)] = amount

    def set_order_rate(self, venue: Venue, orders: int, per_s: float) -> None:
        self.budgets[venue] = OrderBudget(orders, per_s, clock=self._monotonic)

    # -- reservations -------------------------------------------------------------

    def reserve(self, opp: Opportunity) -> Reservation:
        """Hold what ``opp``'s execution will use. Call right after an approval, with
        no ``await`` in between, so that no other check sees the state without it."""
        if opp.event in self.reservations:
            raise RuntimeError(f"event {opp.event} already has an execution in flight")
        reservation = Reservation.of(opp)
        sharded = {venue for venue, _ in self.shard_balances}
        if sharded:
            needs = shard_needs(opp, self.shard_of, sharded)
            reservation = dataclasses.replace(reservation, shards=needs)
        self.reservations[opp.event] = reservation
        for venue, n in reservation.orders.items():
            budget = self.budgets.get(venue)
            if budget is not None:
                budget.take(n)
        return reservation

    async def settle(
        self,
        reservation: Reservation,
        spent: Mapping[Venue, Decimal],
        *,
        cooldown_until: datetime | None,
        sent: bool = True,
    ) -> None:
        """The execution ended: the store (which now holds its fills) is read again,
        the money ``spent`` is taken off the known balances, the reservation dropped
        and the event's cooldown started. Never raises: a failed read leaves the
        store view marked stale, so the next snapshot reads it."""
        try:
            await self.refresh()
        except Exception:
            log.exception("store view after an execution failed")
            self.stale()
        for venue, amount in spent.items():
            if amount and venue in self.balances:
                self.balances[venue] -= amount
                self._balance_epoch[venue] = self.balance_epoch(venue) + 1
                # Until the shards are read again, count the shard money as spent.
                for key, held in reservation.shards.items():
                    if key[0] is venue and key in self.shard_balances:
                        self.shard_balances[key] -= held
        if not sent:
            for venue, n in reservation.orders.items():
                budget = self.budgets.get(venue)
                if budget is not None:
                    budget.give_back(n)
        if self.reservations.get(reservation.event) is reservation:
            del self.reservations[reservation.event]
        if cooldown_until is not None:
            self.cooldown_until[reservation.event] = cooldown_until

    # -- refusals that end with time ------------------------------------------------

    async def expire(self, now: datetime) -> None:
        """Announce what time has cleared: cooldowns ended, pair blocks ended, a new
        UTC day (the daily counters start again)."""
        ended = [e for e, until in self.cooldown_until.items() if until <= now]
        for event in ended:
            del self.cooldown_until[event]
        for event in ended:
            await self.bus.publish(CooldownEnded(event))
        day = reports.day_start(now).date().isoformat()
        if self._day and day != self._day:
            self.stale()
            await self.bus.publish(DayStarted(day))
        self._day = day
        unblocked = [p for p, until in self._blocks_seen.items() if until <= now]
        for pair_id in unblocked:
            del self._blocks_seen[pair_id]
            await self.bus.publish(PairUnblocked(pair_id))

    async def _note_blocks(self, blocks: Mapping[str, datetime]) -> None:
        for pair_id in [p for p in self._blocks_seen if p not in blocks]:
            del self._blocks_seen[pair_id]  # lifted by hand
            await self.bus.publish(PairUnblocked(pair_id))
        self._blocks_seen.update(blocks)

    def next_expiry(self, now: datetime) -> float:
        """Seconds until the next refusal that time clears (a cooldown, a pair block,
        midnight UTC, an order slot), for the loop to wake then."""
        ends = [*self.cooldown_until.values(), *self._blocks_seen.values()]
        ends.append(reports.day_start(now) + timedelta(days=1))
        waits = [(min(ends) - now).total_seconds()]
        waits.extend(w for b in self.budgets.values() if (w := b.next_free_in()) is not None)
        return max(0.0, min(waits))
