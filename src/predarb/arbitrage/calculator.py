"""From the books of a pair, the leg sets that pay $1 in every world for less, after fees.

Pure functions, no I/O, no clock: ``now`` is passed in.

A pair's ``worlds`` are mutually exclusive and, when ``exhaustive``, one of them always
happens; buying the same number of contracts of one contract per world therefore pays
exactly ``contracts × $1``. For each such leg combination the calculator walks the asks
of every leg together (equal contract counts) while the marginal contract still costs
less than $1 after fees, then trims the size to ``max_cost`` and checks the venue
minimums. Costs and fees are computed exactly (per fill, with each venue's rounding).

Depth model: ``depth_fraction`` caps what we take of each level; the walk assumes we
fill exactly that share of each level in price order. The venue fills best first
against the whole visible size, which is never dearer: price plus fee per contract
(``p + r·p·(1−p)``, r < 1) grows with p.

Polymarket legs are market orders (FOK): a BUY at limit ``p`` spends exactly
``n × p`` pUSD, and levels cheaper than ``p`` give the difference back as extra shares
(surplus), not as cash. So a Polymarket leg costs ``n × p`` (``Leg.surplus`` is the
expected extra), can fill ``n`` only while the levels up to ``p`` hold ``n × p`` of
notional, and ``n × p`` must be whole cents (``precision``): the size is rounded down to
a count every Polymarket leg accepts, or the opportunity is refused with its reason.

Flags on the result: ``tradable`` is False when the pair is flagged or the size rules
(venue minimum, ``min_cost``) cannot be met, with ``reason`` saying why; ``executable``
is False for live pairs until ``live.LiveConfirmation`` has seen the opportunity twice,
and for opportunities that cannot meet the venue minimum within ``max_cost``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from predarb.arbitrage import precision
from predarb.arbitrage.fees import fee_for_levels, unit_fee
from predarb.domain import (
    ONE,
    ZERO,
    Action,
    ArbKind,
    Contract,
    FeeSchedule,
    Leg,
    Opportunity,
    OrderBook,
    Pair,
    PairKind,
    Venue,
)

MAX_COMBINATIONS = 64  # above this, one greedy combination (cheapest contract per world)
FRACTIONAL_STEP = Decimal("0.01")  # size grid when whole_contracts is off (both venues: 2 dp)
LIVE_REASON = "live: awaiting a second consecutive sighting"
BELOW_MINIMUM = "below venue minimum"
PRECISION = "market-order precision"
SHARE_QUANTUM = Decimal("0.000001")  # Polymarket amounts: 6-dp base units


@dataclass(frozen=True)
class CalcParams:
    max_cost: Decimal  # dollars, all legs including fees
    min_cost: Decimal = ZERO
    max_contracts: Decimal | None = None
    depth_fraction: Decimal = ONE  # largest share of each level's visible size we may take
    whole_contracts: bool = True
    live_max_quote_age: timedelta = timedelta(seconds=2)  # live pairs: older books unused


@dataclass(frozen=True)
class _Side:
    """One contract ready to be a leg: its usable asks as (price, size we may take).

    For a market-order venue (Polymarket) ``levels`` is the ladder of limits: buying
    ``n`` at the limit of level k needs ``n × p_k`` of notional at or below ``p_k``, so
    level k holds up to that cumulative notional divided by ``p_k``; ``asks`` keeps the
    book's levels, which the money actually walks."""

    contract: Contract
    world: str
    schedule: FeeSchedule | None
    levels: tuple[tuple[Decimal, Decimal], ...]
    capacity: Decimal
    book: OrderBook
    asks: tuple[tuple[Decimal, Decimal], ...] = ()

    @property
    def market_order(self) -> bool:
        return bool(self.asks)

    def unit_cost(self, price: Decimal) -> Decimal:
        """Price plus the unrounded fee of one contract at ``price``."""
        if self.schedule is None:
            return price
        return price + unit_fee(self.schedule, price)

    def fills(self, contracts: Decimal) -> list[tuple[Decimal, Decimal]]:
        out: list[tuple[Decimal, Decimal]] = []
        left = contracts
        for price, size in self.levels:
            if left <= 0:
                break
            take = min(size, left)
            out.append((price, take))
            left -= take
        return out

    def spend(self, dollars: Decimal) -> list[tuple[Decimal, Decimal]]:
        """The fills of a market BUY of ``dollars``: best asks first, shares in 6-dp
        base units, surplus included."""
        out: list[tuple[Decimal, Decimal]] = []
        left = dollars
        for price, size in self.asks:
            if left <= 0:
                break
            take = min(size, (left / price).quantize(SHARE_QUANTUM, rounding=ROUND_DOWN))
            if take > 0:
                out.append((price, take))
            left -= take * price
        return out


def _limit_ladder(
    asks: list[tuple[Decimal, Decimal]], step: Decimal
) -> tuple[tuple[Decimal, Decimal], ...]:
    """The levels as market-order limits: level k may take the cumulative notional up
    to it divided by its price, less what cheaper limits already took."""
    ladder: list[tuple[Decimal, Decimal]] = []
    notional, reached = ZERO, ZERO
    for price, size in asks:
        notional += price * size
        capacity = _floor_to(notional / price, step)
        if capacity > reached:
            ladder.append((price, capacity - reached))
            reached = capacity
    return tuple(ladder)


@dataclass(frozen=True)
class _Priced:
    legs: tuple[Leg, ...]
    contracts: Decimal
    cost: Decimal
    fees: Decimal

    @property
    def total(self) -> Decimal:
        return self.cost + self.fees

    @property
    def profit(self) -> Decimal:
        return self.contracts - self.total


def _floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def _ceil_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def _side(
    contract: Contract,
    world: str,
    books: Mapping[Contract, OrderBook],
    fees: Mapping[Contract, FeeSchedule | None],
    params: CalcParams,
    step: Decimal,
    stale_before: datetime | None,
) -> _Side | None:
    book = books.get(contract)
    if book is None or contract not in fees:  # unknown fee: cannot be priced
        return None
    if stale_before is not None and book.ts < stale_before:
        return None
    tick = book.tick_size
    levels: list[tuple[Decimal, Decimal]] = []
    # Levels off the tick grid or outside (0, 1) would make an order the venue rejects.
    for level in sorted(book.asks, key=lambda lv: lv.price):
        price = level.price
        if not (ZERO < price < ONE) or level.size <= 0 or (tick > 0 and price % tick != 0):
            continue
        size = _floor_to(level.size * params.depth_fraction, step)
        if size > 0:
            levels.append((price, size))
    asks: tuple[tuple[Decimal, Decimal], ...] = ()
    if contract.venue is Venue.POLYMARKET:
        asks, levels = tuple(levels), list(_limit_ladder(levels, step))
    if not levels:
        return None
    capacity = sum((size for _, size in levels), ZERO)
    return _Side(contract, world, fees[contract], tuple(levels), capacity, book, asks)


def _combinations(candidates: Sequence[Sequence[_Side]]) -> list[tuple[_Side, ...]]:
    count = 1
    for options in candidates:
        count *= len(options)
    if count <= MAX_COMBINATIONS:
        combos = list(itertools.product(*candidates))
    else:
        combos = [
            tuple(min(opts, key=lambda s: s.unit_cost(s.levels[0][0])) for opts in candidates)
        ]
    # A contract listed in two worlds is a broken mapping: never buy it twice.
    return [c for c in combos if len({s.contract for s in c}) == len(c)]


def _profitable_size(sides: Sequence[_Side], limit: Decimal | None) -> Decimal:
    """Largest common size whose every marginal contract costs < $1 after (unrounded)
    fees. Asks rise level by level, so the profitable sizes form a prefix."""
    idx = [0] * len(sides)
    left = [s.levels[0][1] for s in sides]
    size = ZERO
    while True:
        amount = min(left)
        if limit is not None:
            amount = min(amount, limit - size)
        if amount <= 0:
            return size
        unit = sum((s.unit_cost(s.levels[i][0]) for s, i in zip(sides, idx, strict=True)), ZERO)
        if unit >= ONE:
            return size
        size += amount
        for n, side in enumerate(sides):
            left[n] -= amount
            if left[n] == 0:
                idx[n] += 1
                if idx[n] == len(side.levels):
                    return size
                left[n] = side.levels[idx[n]][1]


def _price(sides: Sequence[_Side], contracts: Decimal) -> _Priced:
    legs: list[Leg] = []
    for side in sides:
        fills = side.fills(contracts)
        limit, surplus = fills[-1][0], ZERO
        if side.market_order:
            cost = contracts * limit
            fills = side.spend(cost)
            surplus = max(ZERO, sum((c for _, c in fills), ZERO) - contracts)
        else:
            cost = sum((p * c for p, c in fills), ZERO)
        legs.append(
            Leg(
                contract=side.contract,
                world=side.world,
                price=limit,
                contracts=contracts,
                cost=cost,
                fee=fee_for_levels(side.schedule, fills),
                tick_size=side.book.tick_size,
                min_order_size=side.book.min_order_size,
                surplus=surplus,
            )
        )
    cost = sum((leg.cost for leg in legs), ZERO)
    fees = sum((leg.fee for leg in legs), ZERO)
    return _Priced(tuple(legs), contracts, cost, fees)


def _largest_within(
    sides: Sequence[_Side], upper: Decimal, max_cost: Decimal, step: Decimal
) -> Decimal:
    """Largest multiple of ``step`` up to ``upper`` whose cost plus fees fits ``max_cost``
    (cost plus fees only grows with size, so a bisection finds it). No contract costs
    less than the best asks together (fees are never negative), which bounds the search
    by ``max_cost`` as well: a deep book would otherwise double its steps."""
    lo, hi = 0, int(upper / step)
    cheapest = sum((s.levels[0][0] for s in sides), ZERO)
    if cheapest > 0:
        hi = min(hi, int(max_cost / cheapest / step))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _price(sides, mid * step).total <= max_cost:
            lo = mid
        else:
            hi = mid - 1
    return lo * step


def _count_step(sides: Sequence[_Side], contracts: Decimal, step: Decimal) -> Decimal:
    """The granularity every market-order leg accepts at the limits ``contracts`` needs."""
    steps = [
        precision.count_step(Action.BUY, side.fills(contracts)[-1][0], side.book.tick_size, step)
        for side in sides
        if side.market_order
    ]
    return precision.common_step(steps, step)


def _sendable_at_most(sides: Sequence[_Side], contracts: Decimal, step: Decimal) -> Decimal:
    """The largest count up to ``contracts`` that every market-order leg can send (a
    smaller count may need a cheaper limit and so a finer step: repeat until stable)."""
    while contracts > 0:
        rounded = _floor_to(contracts, _count_step(sides, contracts, step))
        if rounded == contracts:
            break
        contracts = rounded
    return contracts


def _sendable_at_least(
    sides: Sequence[_Side], contracts: Decimal, ceiling: Decimal, step: Decimal
) -> Decimal | None:
    """The smallest count from ``contracts`` up to ``ceiling`` that every market-order
    leg can send, or None."""
    while contracts <= ceiling:
        rounded = _ceil_to(contracts, _count_step(sides, contracts, step))
        if rounded == contracts:
            return contracts
        contracts = rounded
    return None


def _kind(pair: Pair, sides: Sequence[_Side]) -> ArbKind:
    if len({s.contract.venue for s in sides}) == 1:
        return ArbKind.SAME_VENUE
    if len(sides) >= 3:
        return ArbKind.N_WAY
    return ArbKind.YES_NO if pair.kind is PairKind.BINARY else ArbKind.CROSS_TEAM


def _evaluate_combo(
    pair: Pair, sides: Sequence[_Side], params: CalcParams, step: Decimal
) -> Opportunity | None:
    limit = None if params.max_contracts is None else _floor_to(params.max_contracts, step)
    size = _profitable_size(sides, limit)
    size = _largest_within(sides, size, params.max_cost, step)
    size = _sendable_at_most(sides, size, step)
    smallest = max(sides, key=lambda s: s.book.min_order_size)
    minimum = _ceil_to(max(smallest.book.min_order_size, step), step)
    problems: list[str] = []
    if size >= minimum:
        priced = _price(sides, size)
    else:
        # The venue minimum may still be profitable overall although its last contracts
        # are not; when it is profitable but dearer than max_cost, say so.
        ceiling = min(s.capacity for s in sides)
        if limit is not None:
            ceiling = min(ceiling, limit)
        if ceiling < minimum:
            return None
        sendable = _sendable_at_least(sides, minimum, ceiling, step)
        size = minimum if sendable is None else sendable
        priced = _price(sides, size)
        if sendable is None:
            problems.append(
                f"{PRECISION}: no count from {_text(minimum)} to {_text(ceiling)} contracts "
                "gives Polymarket amounts it accepts (whole cents at the limit price)"
            )
        elif priced.total > params.max_cost and size == minimum:
            problems.append(
                f"{BELOW_MINIMUM}: {smallest.contract.venue.value} needs "
                f"{_text(minimum)} contracts, costing ${_text(priced.total)} "
                f"> max ${_text(params.max_cost)}"
            )
        elif priced.total > params.max_cost:
            problems.append(
                f"{PRECISION}: the smallest count Polymarket accepts at these prices is "
                f"{_text(size)} contracts, costing ${_text(priced.total)} "
                f"> max ${_text(params.max_cost)}"
            )
    if priced.profit <= 0:
        return None
    if not problems and priced.total < params.min_cost:
        problems.append(
            f"costs ${_text(priced.total)}, below the minimum bet ${_text(params.min_cost)}"
        )
    if not pair.tradable:
        problems.insert(0, "pair flagged: " + (", ".join(pair.flags) or "not tradable"))
    tradable = pair.tradable and not problems
    executable = not (pair.live or any(p.startswith((BELOW_MINIMUM, PRECISION)) for p in problems))
    if pair.live:
        problems.append(LIVE_REASON)
    return Opportunity(
        pair_id=pair.pair_id,
        kind=_kind(pair, sides),
        event=pair.event,
        legs=priced.legs,
        contracts=size,
        cost=priced.cost,
        fees=priced.fees,
        payout=size * ONE,
        profit=priced.profit,
        roi_pct=(priced.profit / priced.total * 100).quantize(Decimal("0.0001"), ROUND_DOWN),
        quote_ts=min(s.book.ts for s in sides),
        confidence=pair.confidence,
        executable=executable,
        tradable=tradable,
        reason="; ".join(problems),
        live=pair.live,
        series=pair.series,
        category=pair.category,
    )


def find_opportunities(
    pair: Pair,
    books: Mapping[Contract, OrderBook],
    fees: Mapping[Contract, FeeSchedule | None],
    params: CalcParams,
    now: datetime,
) -> list[Opportunity]:
    """Every leg combination of ``pair`` that is profitable after fees, best first.

    A contract is usable when it has a book with asks on its tick grid and an entry in
    ``fees`` (None there means fee-free; a missing entry means unknown, so unusable).
    Live pairs ignore books older than ``params.live_max_quote_age``. A pair that is not
    exhaustive yields nothing: some world would pay nothing.
    """
    if not pair.exhaustive or len(pair.worlds) < 2 or params.max_cost <= 0:
        return []
    step = ONE if params.whole_contracts else FRACTIONAL_STEP
    stale_before = now - params.live_max_quote_age if pair.live else None
    candidates: list[list[_Side]] = []
    for world in pair.worlds:
        options = [
            side
            for c in world.contracts
            if (side := _side(c, world.label, books, fees, params, step, stale_before))
        ]
        if not options:
            return []
        candidates.append(options)
    found = [
        opp
        for combo in _combinations(candidates)
        if (opp := _evaluate_combo(pair, combo, params, step)) is not None
    ]
    found.sort(key=lambda o: (o.tradable, o.profit, o.roi_pct), reverse=True)
    return found


def evaluate(
    pair: Pair,
    books: Mapping[Contract, OrderBook],
    fees: Mapping[Contract, FeeSchedule | None],
    params: CalcParams,
    now: datetime,
) -> Opportunity | None:
    """The best opportunity of ``pair``, or None."""
    found = find_opportunities(pair, books, fees, params, now)
    return found[0] if found else None


def _text(value: Decimal) -> str:
    """A decimal as plain text: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def opportunity_to_json(opp: Opportunity) -> dict[str, object]:
    """The ``predarb scan --json`` object of interface.md (decimal strings, never floats)."""
    return {
        "kind": opp.kind.value,
        "event": opp.event,
        "legs": [
            {
                "venue": leg.contract.venue.value,
                "market": leg.contract.market_id,
                "side": leg.contract.side,
                "price": _text(leg.price),
                "contracts": _text(leg.contracts),
            }
            for leg in opp.legs
        ],
        "cost": _text(opp.cost),
        "fees": _text(opp.fees),
        "profit": _text(opp.profit),
        "roi_pct": _text(opp.roi_pct.quantize(Decimal("0.01"), ROUND_DOWN)),
        "tradable": opp.tradable,
        "reason": opp.reason,
    }
