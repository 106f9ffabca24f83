"""Pair evaluations per second of the arbitrage calculator, against a naive baseline.

Books have 8 ask levels each; every pair is a binary pair with a book on all four
contracts (four leg combinations). The baseline prices every common size 1..N from
scratch and keeps the most profitable: what the calculator's segment walk and
bisection avoid. Prints figures; asserts nothing.

Run: .venv/bin/python -m bench.bench_calculator
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from predarb.arbitrage.calculator import CalcParams, find_opportunities
from predarb.arbitrage.fees import fee_for_levels, kalshi_schedule, polymarket_schedule
from predarb.domain import (
    Contract,
    FeeSchedule,
    Level,
    OrderBook,
    Pair,
    PairKind,
    Venue,
    World,
)

NOW = datetime(2026, 11, 22, tzinfo=UTC)
LEVELS = 8
PAIRS = 200
SECONDS_PER_RUN = 4.0
PARAMS = CalcParams(max_cost=Decimal(500))

Scenario = tuple[Pair, dict[Contract, OrderBook], dict[Contract, FeeSchedule | None]]


def _book(rng: random.Random, contract: Contract, start_cents: int) -> OrderBook:
    cents = sorted({min(99, start_cents + rng.randint(0, 12)) for _ in range(LEVELS)})
    asks = tuple(Level(Decimal(c) / 100, Decimal(rng.randint(1, 40))) for c in cents)
    return OrderBook(contract, (), asks, NOW, min_order_size=Decimal(1))


def _scenario(rng: random.Random, n: int) -> Scenario:
    k_yes, k_no = Contract(Venue.KALSHI, f"KX-{n}", "yes"), Contract(Venue.KALSHI, f"KX-{n}", "no")
    p_yes = Contract(Venue.POLYMARKET, f"{n}", "Yes", f"{n}-y")
    p_no = Contract(Venue.POLYMARKET, f"{n}", "No", f"{n}-n")
    fair = rng.randint(20, 80)
    books = {
        k_yes: _book(rng, k_yes, fair - rng.randint(0, 4)),
        p_yes: _book(rng, p_yes, fair + rng.randint(0, 4)),
        k_no: _book(rng, k_no, 100 - fair + rng.randint(0, 4)),
        p_no: _book(rng, p_no, 100 - fair - rng.randint(0, 4)),
    }
    kalshi, poly = kalshi_schedule(), polymarket_schedule(Decimal("0.05"))
    fees: dict[Contract, FeeSchedule | None] = {
        k_yes: kalshi,
        k_no: kalshi,
        p_yes: poly,
        p_no: poly,
    }
    worlds = (World("yes", (k_yes, p_yes)), World("no", (k_no, p_no)))
    pair = Pair(f"pair-{n}", PairKind.BINARY, f"event {n}", worlds, 1.0, True)
    return pair, books, fees


def _naive(
    pair: Pair,
    books: Mapping[Contract, OrderBook],
    fees: Mapping[Contract, FeeSchedule | None],
) -> Decimal:
    """Best profit over every combination and every size 1..N, each priced from scratch."""
    best = Decimal(0)
    for combo in itertools.product(*(w.contracts for w in pair.worlds)):
        depth = min(sum(lv.size for lv in books[c].asks) for c in combo)
        for size in range(1, int(depth) + 1):
            total = Decimal(0)
            for contract in combo:
                fills: list[tuple[Decimal, Decimal]] = []
                left = Decimal(size)
                for level in books[contract].asks:
                    take = min(level.size, left)
                    if take > 0:
                        fills.append((level.price, take))
                        left -= take
                total += sum(p * c for p, c in fills) + fee_for_levels(fees[contract], fills)
            if total <= PARAMS.max_cost:
                best = max(best, size - total)
    return best


def _calculator(
    pair: Pair,
    books: Mapping[Contract, OrderBook],
    fees: Mapping[Contract, FeeSchedule | None],
) -> Decimal:
    found = find_opportunities(pair, books, fees, PARAMS, NOW)
    return max((o.profit for o in found), default=Decimal(0))


def _rate(
    run: Callable[
        [Pair, Mapping[Contract, OrderBook], Mapping[Contract, FeeSchedule | None]], Decimal
    ],
    scenarios: Sequence[Scenario],
) -> tuple[float, int]:
    done = 0
    start = time.perf_counter()
    for pair, books, fees in itertools.cycle(scenarios):
        run(pair, books, fees)
        done += 1
        if time.perf_counter() - start >= SECONDS_PER_RUN:
            break
    return done / (time.perf_counter() - start), done


def main() -> dict[str, tuple[float, float]]:
    rng = random.Random(20261122)
    scenarios = [_scenario(rng, n) for n in range(PAIRS)]
    with_arb = sum(1 for s in scenarios if _calculator(*s) > 0)
    agree = sum(1 for s in scenarios[:40] if _calculator(*s) == _naive(*s))
    fast, fast_n = _rate(_calculator, scenarios)
    slow, slow_n = _rate(_naive, scenarios)
    print(f"pairs: {PAIRS} binary pairs, 4 books x {LEVELS} levels, {with_arb} with arbitrage")
    print(f"calculator: {fast:10.1f} pair evaluations/s ({fast_n} evaluations)")
    print(f"naive:      {slow:10.1f} pair evaluations/s ({slow_n} evaluations)")
    print(f"speed-up:   {fast / slow:10.1f}x")
    print(f"best profit equal to the brute force on {agree}/40 pairs")
    return {"calculator (pair evaluations/s)": (fast, slow)}


if __name__ == "__main__":
    main()
