"""The one owner of "may we trade": every fact the risk manager decides on, in one
object that builds the ``RiskSnapshot`` (``snapshot()``, used by the hot path and by
``Engine.check`` alike) and announces each change on the event bus.

Reported into it: the kill switch (by ``Control``, which persists it), the safety
halts (stopping, a database that cannot be written: by ``EngineSafety`` and the
engine), venue health (by the circuit breakers), balances, cooldowns, and the
reservations of executions in flight. Read from SQLite, at most ``max_age_s`` old on
the hot path: today's trades, loss and one-legged results, open exposure and
positions, blocked events and pairs.

Reservations make concurrent executions safe: an approved opportunity reserves, before
anything is sent and without yielding to the loop after its check, the money it needs
on each venue, its exposure, one of the day's trades, one of the executions in flight,
its event, and one order slot per leg in each venue's order budget. The snapshot counts
reservations as spent, so a second execution can never overdraw a venue, pass a limit
or trade the same event. While in flight, each also counts against the daily limits
as lost (all it pays) and as one-legged, so executions side by side never pass a
daily limit that one at a time could only reach. At the end the store is read again
(the fills are in it now) and the money actually spent is taken off the known
balances (``account``); the limits that act on an outcome run; then the reservation
is released (``release``), so nothing is left uncounted (in between, the money is
counted twice: only ever too careful). What is held lives in ``reservations``.

Orders sent outside an approval (hedges, unwinds) take order slots too
(``acquire_order_slot``), and a hedge spends only money granted here (``HedgeFunds``):
what its execution holds and has not spent, and beyond that money no one holds. An
execution whose order's fate is unknown keeps its unspent money held while the order
is followed (``Hold``), since the order may have spent it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from predarb import reports
from predarb.domain import ZERO, Contract, ExecutionStatus, Opportunity, Venue
from predarb.events import (
    BalanceChanged,
    CooldownEnded,
    DayStarted,
    Event,
    EventBus,
    KillSwitchChanged,
    KillSwitchTripped,
    OrderSlotsFreed,
    PairUnblocked,
    ShardBalanceChanged,
    TradingHalted,
    TradingResumed,
    VenueBack,
    VenueDown,
    venue_halt,
)
from predarb.reservations import (
    Hold,
    OrderBudget,
    Reservation,
    beyond,
    order_spent,
    spent_by_venue,
)
from predarb.risk import RiskSnapshot, shard_needs
from predarb.store import Store
from predarb.store.records import ExecutionRecord, OrderRecord
from predarb.store.state import this_mode

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoreView:
    """What the snapshot needs from SQLite."""

    trades_today: int = 0
    loss_today: Decimal = ZERO
    one_legged_today: int = 0
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
        one_legged_today=await store.one_legged_count(today),
        open_exposure=exposure,
        open_events=frozenset(str(r[0]) for r in rows if r[2] and Decimal(r[2]) > 0),
        blocked_events=frozenset(str(r[0]) for r in rows if r[1] in halted),
        blacklisted_pairs=await store.pair_blocks(now),
    )


class HedgeFunds:
    """Asked before one execution's hedge is sent (``execution.partial.Funds``): the
    money is granted, and held at once, if what the execution holds and has not spent,
    plus money no one holds, pays it (``TradingState.grant``)."""

    def __init__(self, state: TradingState, holder: Reservation | Hold) -> None:
        self.state = state
        self.holder = holder

    def grant(self, ex: ExecutionRecord, cost: Mapping[Contract, Decimal]) -> bool:
        return self.state.grant(self.holder, ex, cost)


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
        self.holds: dict[str, Hold] = {}  # by execution id
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
        reserved_money: dict[Venue, Decimal] = {}
        shard_held: dict[tuple[Venue, int], Decimal] = {}
        at_risk = ZERO
        for r in self.reservations.values():
            at_risk += r.exposure
            for venue, amount in r.money.items():
                reserved_money[venue] = reserved_money.get(venue, ZERO) + amount
            for key, amount in r.shards.items():
                shard_held[key] = shard_held.get(key, ZERO) + amount
        if self.holds:
            self._add_holds(reserved_money, shard_held)
        return RiskSnapshot(
            now=now,
            trading_enabled=self.enabled and not halt,
            kill_reason=halt or self.kill_reason,
            balances={v: b - reserved_money.get(v, ZERO) for v, b in self.balances.items()},
            venues_up={v: up and v not in self.venue_halts for v, up in self.venues_up.items()},
            trades_today=view.trades_today + len(self.reservations),
            loss_today=view.loss_today,
            one_legged_today=view.one_legged_today,
            at_risk=at_risk,
            open_exposure=view.open_exposure + at_risk,
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

    def _add_holds(
        self, money: dict[Venue, Decimal], shards: dict[tuple[Venue, int], Decimal]
    ) -> None:
        for hold in self.holds.values():
            for venue, amount in hold.money.items():
                money[venue] = money.get(venue, ZERO) + amount
            for key, amount in hold.shards.items():
                shards[key] = shards.get(key, ZERO) + amount

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

    async def set_shard_balances(self, venue: Venue, shards: Mapping[int, Decimal]) -> None:
        """Record a read of ``venue``'s cash on each exchange shard; each shard whose
        cash changed is announced (money moved by hand between shards changes no
        total, yet may fund a trade refused on its shard)."""
        previous = {k[1]: v for k, v in self.shard_balances.items() if k[0] is venue}
        for shard in previous:
            del self.shard_balances[(venue, shard)]
        for shard, amount in shards.items():
            self.shard_balances[(venue, shard)] = amount
        for shard, amount in sorted(shards.items()):
            if previous.get(shard) != amount:
                await self.bus.publish(
                    ShardBalanceChanged(venue, shard, amount, previous.get(shard))
                )

    def set_order_rate(self, venue: Venue, orders: int, per_s: float) -> None:
        self.budgets[venue] = OrderBudget(orders, per_s, clock=self._monotonic)

    async def acquire_order_slot(self, venue: Venue) -> None:
        """A slot of ``venue``'s order rate for an order sent outside an approval (a
        hedge, an unwind), waited for when none is free, ahead of new executions."""
        budget = self.budgets.get(venue)
        if budget is not None:
            await budget.acquire()

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

    async def account(self, reservation: Reservation, spent: Mapping[Venue, Decimal]) -> None:
        """The execution's orders are answered: the store (which now holds its fills)
        is read again and the money ``spent`` is taken off the known balances. The
        reservation still holds (counted twice meanwhile: only ever too careful) until
        ``release``. Never raises: a failed read leaves the store view marked stale,
        so the next snapshot reads it."""
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

    def release(
        self, reservation: Reservation, *, cooldown_until: datetime | None, sent: bool = True
    ) -> None:
        """Drop the reservation (``account`` first) and start the event's cooldown;
        ``sent`` False: no order went out, its order slots are given back."""
        if not sent:
            for venue, n in reservation.orders.items():
                budget = self.budgets.get(venue)
                if budget is not None:
                    budget.give_back(n)
        if self.reservations.get(reservation.event) is reservation:
            del self.reservations[reservation.event]
        if cooldown_until is not None:
            self.cooldown_until[reservation.event] = cooldown_until

    async def settle(
        self,
        reservation: Reservation,
        spent: Mapping[Venue, Decimal],
        *,
        cooldown_until: datetime | None,
        sent: bool = True,
    ) -> None:
        """``account`` then ``release``, nothing in between."""
        await self.account(reservation, spent)
        self.release(reservation, cooldown_until=cooldown_until, sent=sent)

    # -- money for hedges and for orders followed after their execution ----------------

    def funds(self, reservation: Reservation) -> HedgeFunds:
        """What the hedge of the execution holding ``reservation`` may spend."""
        return HedgeFunds(self, reservation)

    def keep(self, reservation: Reservation, ex: ExecutionRecord) -> Hold:
        """Before ``release``: the money ``reservation`` holds and ``ex`` has not
        spent stays held for ``ex``'s follow-up (an order of unknown fate)."""
        spent, shard_spent = self._spent(ex.orders)
        hold = Hold(
            ex.id,
            {v: m - spent.get(v, ZERO) for v, m in reservation.money.items()},
            {k: m - shard_spent.get(k, ZERO) for k, m in reservation.shards.items()},
            spent,
            shard_spent,
        )
        hold.money = {v: m for v, m in hold.money.items() if m > 0}
        hold.shards = {k: m for k, m in hold.shards.items() if m > 0}
        self.holds[ex.id] = hold
        return hold

    def hold_for(self, ex: ExecutionRecord) -> HedgeFunds:
        """What the follow-up of ``ex`` may spend: its hold (``keep``), or a new one
        holding nothing yet (after a restart, the balances read show what it spent)."""
        hold = self.holds.get(ex.id)
        if hold is None:
            spent, shard_spent = self._spent(ex.orders)
            hold = self.holds[ex.id] = Hold(ex.id, {}, {}, spent, shard_spent)
        return HedgeFunds(self, hold)

    def drop_hold(self, execution_id: str, ex: ExecutionRecord | None) -> None:
        """The follow-up ended: what ``ex``'s orders spent since the hold began comes
        off the known balances, and the hold is dropped."""
        hold = self.holds.pop(execution_id, None)
        if hold is None or ex is None:
            return
        spent, shard_spent = self._spent(ex.orders)
        for venue, amount in spent.items():
            more = amount - hold.spent.get(venue, ZERO)
            if more and venue in self.balances:
                self.balances[venue] -= more
                self._balance_epoch[venue] = self.balance_epoch(venue) + 1
        for key, amount in shard_spent.items():
            more = amount - hold.shard_spent.get(key, ZERO)
            if more and key in self.shard_balances:
                self.shard_balances[key] -= more

    def grant(
        self, holder: Reservation | Hold, ex: ExecutionRecord, cost: Mapping[Contract, Decimal]
    ) -> bool:
        """Whether a hedge of ``ex`` costing ``cost`` (at most, by contract) may be
        sent: what ``holder`` holds and ``ex`` has not spent pays first, the rest must
        be money no one holds (on the venue, and on the contract's shard for a venue
        that pays per shard). Granted, the rest is added to ``holder`` at once."""
        sharded = {venue for venue, _ in self.shard_balances}
        need: dict[Venue, Decimal] = {}
        shard_need: dict[tuple[Venue, int], Decimal] = {}
        for contract, amount in cost.items():
            venue = contract.venue
            need[venue] = need.get(venue, ZERO) + amount
            if venue in sharded:
                key = (venue, self.shard_of.get(contract, 0))
                shard_need[key] = shard_need.get(key, ZERO) + amount
        spent, shard_spent = self._spent(ex.orders)
        before, shard_before = (
            (holder.spent, holder.shard_spent) if isinstance(holder, Hold) else ({}, {})
        )
        more = beyond(need, holder.money, spent, before)
        shard_more = beyond(shard_need, holder.shards, shard_spent, shard_before)
        held: dict[Venue, Decimal] = {}
        shard_held: dict[tuple[Venue, int], Decimal] = {}
        for r in self.reservations.values():
            for venue, amount in r.money.items():
                held[venue] = held.get(venue, ZERO) + amount
            for key, amount in r.shards.items():
                shard_held[key] = shard_held.get(key, ZERO) + amount
        self._add_holds(held, shard_held)
        short = [
            f"{venue.value} ${amount:.2f}"
            for venue, amount in more.items()
            if self.balances.get(venue, ZERO) - held.get(venue, ZERO) < amount
        ] + [
            f"{venue.value} shard {shard} ${amount:.2f}"
            for (venue, shard), amount in shard_more.items()
            if self.shard_balances.get((venue, shard), ZERO) - shard_held.get((venue, shard), ZERO)
            < amount
        ]
        if short:
            log.warning(
                "hedge of %s refused: no free money for %s",
                ex.id,
                ", ".join(short),
                extra={"execution": ex.id, "code": "hedge_unfunded"},
            )
            return False
        for venue, amount in more.items():
            holder.money[venue] = holder.money.get(venue, ZERO) + amount
        for key, amount in shard_more.items():
            holder.shards[key] = holder.shards.get(key, ZERO) + amount
        return True

    def _spent(
        self, orders: Iterable[OrderRecord]
    ) -> tuple[dict[Venue, Decimal], dict[tuple[Venue, int], Decimal]]:
        """What these orders spent, by venue and by shard (venues paying per shard)."""
        orders = list(orders)
        sharded = {venue for venue, _ in self.shard_balances}
        by_shard: dict[tuple[Venue, int], Decimal] = {}
        for o in orders:
            if o.venue in sharded:
                contract = Contract(o.venue, o.market_id, o.side, o.token_id)
                key = (o.venue, self.shard_of.get(contract, 0))
                by_shard[key] = by_shard.get(key, ZERO) + order_spent(o)
        return spent_by_venue(orders), by_shard

    # -- refusals that end with time ------------------------------------------------

    async def expire(self, now: datetime) -> None:
        """Announce what time has cleared: cooldowns ended, pair blocks ended, a new
        UTC day (the daily counters start again), order slots freed."""
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
        for venue, budget in self.budgets.items():
            if budget.freed():
                await self.bus.publish(OrderSlotsFreed(venue))

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
