"""Polymarket's amount rule for fill-or-kill and fill-and-kill orders. Pure.

The CLOB treats FOK and FAK orders as market orders and refuses one whose maker amount
has more than 2 decimals (a BUY's pUSD, a SELL's shares) or whose taker amount has more
than 4 ("invalid amounts, the market buy orders maker amount supports a max accuracy of
2 decimals, taker amount a max of 4 decimals"). py-clob-client-v2's builder allows the
taker more decimals on fine ticks (``ROUNDING_CONFIG`` ``amount``: 5 on a 0.001 tick),
and orders built that way are refused live (py-clob-client-v2 issue #99), so the cap
here is the smaller of the two.

So a BUY of ``n`` shares at ``p`` is sendable only when ``n × p`` is a whole number of
cents: on a 0.955 ask an even count, on 0.963 a multiple of ten. ``count_step`` gives
that granularity, and the calculator sizes Polymarket legs on it.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import lcm

from predarb.domain import Action

MAKER_DECIMALS = 2
TAKER_DECIMALS = 4
SHARE_DECIMALS = 2


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def taker_decimals(tick: Decimal) -> int:
    """Decimals a market order's taker amount may carry on a market with ``tick``."""
    return min(TAKER_DECIMALS, _places(tick) + 2)


def market_amounts(action: Action, contracts: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
    """(maker, taker) of a market order in pUSD/shares: BUY gives ``contracts × price``
    pUSD for ``contracts`` shares; SELL the reverse."""
    notional = contracts * price
    return (notional, contracts) if action is Action.BUY else (contracts, notional)


def refusal(action: Action, contracts: Decimal, price: Decimal, tick: Decimal) -> str | None:
    """Why Polymarket would refuse this FOK/FAK order's amounts, or None."""
    if _places(contracts) > SHARE_DECIMALS:
        return f"{contracts} shares: sizes have at most {SHARE_DECIMALS} decimals"
    maker, taker = market_amounts(action, contracts, price)
    allowed = taker_decimals(tick)
    if _places(maker) > MAKER_DECIMALS or _places(taker) > allowed:
        return (
            f"a {action.value} of {contracts} at {price} has maker amount {maker.normalize()} "
            f"and taker amount {taker.normalize()}; market orders take at most "
            f"{MAKER_DECIMALS} and {allowed} decimals"
        )
    return None


def count_step(action: Action, price: Decimal, tick: Decimal, step: Decimal) -> Decimal:
    """The smallest multiple of ``step`` whose every multiple is a sendable count at
    ``price`` (``step`` itself has at most 2 decimals)."""
    decimals = MAKER_DECIMALS if action is Action.BUY else taker_decimals(tick)
    per_step = Fraction(step * price) * 10**decimals
    return step * Decimal(per_step.denominator)


def common_step(steps: list[Decimal], step: Decimal) -> Decimal:
    """The least common multiple of ``steps`` (each a multiple of ``step``)."""
    multiples = [int(s / step) for s in steps]
    return step * lcm(*multiples) if multiples else step
