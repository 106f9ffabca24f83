"""What executions in flight hold, as the trading state counts it: each one's
reservation (money per venue and shard, exposure, order slots), the money an execution
keeps while an order of unknown fate is followed (``Hold``), each venue's order budget,
and the money orders took from a venue's balance.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from predarb.domain import ZERO, Action, Opportunity, Venue
from predarb.store.records import OrderRecord

K = TypeVar("K")


def beyond(
    need: Mapping[K, Decimal],
    held: Mapping[K, Decimal],
    spent: Mapping[K, Decimal],
    spent_before: Mapping[K, Decimal],
) -> dict[K, Decimal]:
    """What ``need`` asks beyond what is held and not yet spent (since ``spent_before``)."""
    out: dict[K, Decimal] = {}
    for key, amount in need.items():
        room = held.get(key, ZERO) - (spent.get(key, ZERO) - spent_before.get(key, ZERO))
        if (more := amount - max(room, ZERO)) > 0:
            out[key] = more
    return out


def order_spent(o: OrderRecord) -> Decimal:
    """Money the order took from its venue's balance: what it bought and its fee, less
    what a sale brought back."""
    value = o.filled * o.avg_price
    return (-value if o.action == Action.SELL.value else value) + o.fee


def spent_by_venue(orders: Iterable[OrderRecord]) -> dict[Venue, Decimal]:
    """Money each venue's balance lost to these orders: bought contracts and every fee,
    less what sales (an unwind) brought back."""
    spent: dict[Venue, Decimal] = {}
    for o in orders:
        spent[o.venue] = spent.get(o.venue, ZERO) + order_spent(o)
    return spent


class OrderBudget:
    """A venue's order rate (``orders`` per ``per_s``) as a sliding window of the
    orders reserved: an execution takes its slots before it is approved, so the venue
    client's own limiter never makes one leg wait behind another execution's. An order
    sent outside an approval (a hedge, an unwind) waits for a slot (``acquire``) ahead
    of new executions: risk sees it as taken while it waits."""

    def __init__(self, orders: int, per_s: float, *, clock: Callable[[], float]) -> None:
        self.orders = orders
        self.per_s = per_s
        self._clock = clock
        self._taken: deque[float] = deque()
        self._waiting = 0
        self._freed = False
        self._lock = asyncio.Lock()

    def _trim(self) -> None:
        limit = self._clock() - self.per_s
        while self._taken and self._taken[0] <= limit:
            self._taken.popleft()
            self._freed = True

    def free(self) -> int:
        self._trim()
        return self.orders - len(self._taken) - self._waiting

    def take(self, n: int) -> None:
        now = self._clock()
        self._taken.extend([now] * n)

    def give_back(self, n: int) -> None:
        """Orders reserved but never sent (the execution stopped before sending)."""
        for _ in range(min(n, len(self._taken))):
            self._taken.pop()
            self._freed = True

    async def acquire(self) -> None:
        """One slot for an order sent outside an approval, at once when one is free,
        else as soon as one frees (the venue client would hold the order as long)."""
        self._waiting += 1
        try:
            async with self._lock:  # one waiter at a time: each gets a slot of its own
                self._trim()
                while len(self._taken) >= self.orders:
                    await asyncio.sleep(max(0.0, self._taken[0] + self.per_s - self._clock()))
                    self._trim()
                self.take(1)
        finally:
            self._waiting -= 1

    def freed(self) -> bool:
        """Whether a slot freed since the last call (then it says so once)."""
        self._trim()
        freed, self._freed = self._freed, False
        return freed

    def next_free_in(self) -> float | None:
        """Seconds until the next slot frees, while any is taken: an opportunity refused
        for want of slots is priced again then."""
        self._trim()
        if not self._taken:
            return None
        return max(0.0, self._taken[0] + self.per_s - self._clock())


@dataclass(frozen=True, slots=True)
class Reservation:
    """What an execution in flight will use, counted as used until it ends."""

    event: str
    pair_id: str
    # Cost plus fees of its legs, by venue; grows by what a hedge is granted beyond it.
    money: dict[Venue, Decimal]
    exposure: Decimal  # all it pays: its worst loss, counted against the daily loss
    orders: Mapping[Venue, int]
    # Money held on each exchange shard of a venue that pays per shard (Kalshi).
    shards: dict[tuple[Venue, int], Decimal] = field(default_factory=dict)

    @classmethod
    def of(cls, opp: Opportunity) -> Reservation:
        money: dict[Venue, Decimal] = {}
        orders: dict[Venue, int] = {}
        for leg in opp.legs:
            venue = leg.contract.venue
            money[venue] = money.get(venue, ZERO) + leg.cost + leg.fee
            orders[venue] = orders.get(venue, 0) + 1
        return cls(opp.event, opp.pair_id, money, opp.cost + opp.fees, orders)


@dataclass(slots=True)
class Hold:
    """Money an execution keeps once its reservation is released, while an order of
    unknown fate is followed (it may have spent it) and any hedge after it: counted as
    spent until ``TradingState.drop_hold``. ``spent``: what the execution's orders had
    spent when the hold began, already off the known balances."""

    execution_id: str
    money: dict[Venue, Decimal]
    shards: dict[tuple[Venue, int], Decimal]
    spent: dict[Venue, Decimal]
    shard_spent: dict[tuple[Venue, int], Decimal]
