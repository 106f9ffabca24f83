"""What to do about a one-legged execution: a pure policy, no I/O.

Given what each leg of an execution holds now, the money spent so far and the current
books, the policy says either *complete* the missing legs at a worse price (a hedge),
or *sell back* the excess of the filled legs (an unwind ladder), or that nothing can
be done (give up: the execution stays exposed and a human is called).

A hedge is accepted only while the whole execution, once complete, still loses no
more than ``max_loss_per_contract`` a contract: the hedge may spend the expected
profit plus that much. A leg filled only in part is handled on its filled quantity:
the target is what the most-filled leg holds, never the planned size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from predarb.arbitrage import precision
from predarb.arbitrage.fees import taker_fee
from predarb.domain import ONE, ZERO, Action, Contract, FeeSchedule, Level, OrderBook, Venue
from predarb.venues.paper import take_levels

if TYPE_CHECKING:
    from predarb.config import Settings


@dataclass(frozen=True, slots=True)
class LegHolding:
    """One leg of an execution as it stands: its contract and how many it holds."""

    index: int
    contract: Contract
    world: str
    held: Decimal


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    leg_index: int
    contract: Contract
    world: str
    action: Action
    price: Decimal  # limit
    contracts: Decimal


@dataclass(frozen=True, slots=True)
class Hedge:
    """Buy what each short leg misses; ``pnl`` is the execution's P&L once they fill."""

    orders: tuple[PlannedOrder, ...]
    pnl: Decimal


@dataclass(frozen=True, slots=True)
class Unwind:
    """Sell back each leg's excess at ``price`` (one rung of the ladder); legs with no
    bid to sell into are listed in ``stuck``."""

    orders: tuple[PlannedOrder, ...]
    stuck: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str


@dataclass(frozen=True, slots=True)
class HedgePolicy:
    max_loss_per_contract: Decimal = Decimal("0.01")
    unwind_steps: int = 3  # rungs of the sell-back ladder, one tick apart
    hedge_attempts: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> HedgePolicy:
        return cls(
            max_loss_per_contract=settings.executor_hedge_budget_cents / 100,
            unwind_steps=settings.executor_unwind_steps,
        )


def balanced(legs: Sequence[LegHolding]) -> bool:
    """Every leg holds the same quantity: the execution is fully covered (or flat)."""
    return len({leg.held for leg in legs}) <= 1


def plan_hedge(
    legs: Sequence[LegHolding],
    spent: Decimal,
    books: Mapping[Contract, OrderBook],
    fee_of: Callable[[Contract], FeeSchedule | None],
    policy: HedgePolicy,
) -> Hedge | GiveUp:
    """Complete every leg up to the most-filled one, walking each ask book, if the whole
    execution then loses at most ``policy.max_loss_per_contract`` a contract.

    ``spent`` is the net money paid so far by the execution (buys, fees, minus any sale).
    """
    target = max((leg.held for leg in legs), default=ZERO)
    if target <= 0:
        return GiveUp("nothing is held")
    orders: list[PlannedOrder] = []
    cost = ZERO
    for leg in legs:
        need = target - leg.held
        if need <= 0:
            continue
        book = books.get(leg.contract)
        if book is None:
            return GiveUp(f"no book for {leg.contract.key}")
        if need < book.min_order_size:
            return GiveUp(f"{need} is below the minimum order of {leg.contract.key}")
        taken = take_levels(book.asks, Action.BUY, ONE, need)
        if sum((lv.size for lv in taken), ZERO) < need:
            return GiveUp(f"not enough depth to buy {need} of {leg.contract.key}")
        fee = fee_of(leg.contract)
        limit = taken[-1].price
        if leg.contract.venue is Venue.POLYMARKET:
            found = market_buy_limit(book, need)
            if found is None:
                return GiveUp(f"no price buys {need} of {leg.contract.key} in amounts it takes")
            # A market BUY spends need × limit; cheaper levels give surplus shares.
            limit = found
            cost += need * limit + taker_fee(fee, need, limit)
        else:
            cost += sum(
                (lv.price * lv.size + taker_fee(fee, lv.size, lv.price) for lv in taken), ZERO
            )
        orders.append(PlannedOrder(leg.index, leg.contract, leg.world, Action.BUY, limit, need))
    pnl = target - spent - cost
    floor = -policy.max_loss_per_contract * target
    if pnl < floor:
        return GiveUp(f"completing would lose {-pnl:.4f}, more than the budget {-floor:.4f}")
    return Hedge(tuple(orders), pnl)


def market_buy_limit(book: OrderBook, contracts: Decimal) -> Decimal | None:
    """The lowest limit at which a Polymarket FOK BUY of ``contracts`` is both sendable
    (whole cents) and fillable from the book (its money fits the notional at or below
    the limit), or None."""
    tick = book.tick_size
    if not book.asks or tick <= 0:
        return None
    price = book.asks[0].price
    while price <= ONE - tick:
        notional = sum((lv.price * lv.size for lv in book.asks if lv.price <= price), ZERO)
        fits = notional >= contracts * price
        if fits and precision.refusal(Action.BUY, contracts, price, tick) is None:
            return price
        price += tick
    return None


def plan_unwind(
    legs: Sequence[LegHolding],
    books: Mapping[Contract, OrderBook],
    rung: int,
    *,
    floor: Decimal | None = None,
) -> Unwind | GiveUp:
    """Rung ``rung`` (0 first) of the ladder selling each leg's excess over the least-held
    leg (over ``floor`` when given: 0 sells everything back, ``/unwind``): the price that
    sells it all into the current bids, lowered one tick a rung."""
    floor_held = min((leg.held for leg in legs), default=ZERO) if floor is None else floor
    orders: list[PlannedOrder] = []
    stuck: list[int] = []
    for leg in legs:
        excess = leg.held - floor_held
        if excess <= 0:
            continue
        book = books.get(leg.contract)
        price = _sell_price(book.bids, excess, book.tick_size, rung) if book else None
        if price is not None and book is not None and leg.contract.venue is Venue.POLYMARKET:
            price = _sendable_sell(excess, price, book.tick_size)
        if price is None:
            stuck.append(leg.index)
            continue
        orders.append(PlannedOrder(leg.index, leg.contract, leg.world, Action.SELL, price, excess))
    if not orders:
        return GiveUp("no bid to sell the filled leg into")
    return Unwind(tuple(orders), tuple(stuck))


def _sell_price(
    bids: Sequence[Level], contracts: Decimal, tick: Decimal, rung: int
) -> Decimal | None:
    if not bids:
        return None
    taken = take_levels(bids, Action.SELL, ZERO, contracts)
    price = taken[-1].price - tick * rung
    return price if price >= tick else None


def _sendable_sell(contracts: Decimal, price: Decimal, tick: Decimal) -> Decimal | None:
    """The highest price from ``price`` down, within a cent, at which Polymarket takes
    a FOK/FAK SELL of ``contracts`` (its proceeds within the taker precision)."""
    floor = max(tick, price - Decimal("0.01"))
    while price >= floor:
        if precision.refusal(Action.SELL, contracts, price, tick) is None:
            return price
        price -= tick
    return None
