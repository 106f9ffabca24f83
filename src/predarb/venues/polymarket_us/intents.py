"""Order intents and the long-side price rule of Polymarket US.

A market has one instrument, its long (YES) side; NO is a short position in it. An
order says what it does with an intent, and its price is always the *long side's*
price, also for NO: buying NO at 0.40 is sent as ``BUY_SHORT`` at 0.60, and a fill of a
short intent reported at 0.60 cost the NO buyer 0.40. ``long_side_price`` is the one
place that conversion happens, both ways (it is its own inverse).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from predarb.domain import ONE, Action, Contract

LONG = "long"  # Contract.token_id of a market's long (YES) side
SHORT = "short"  # Contract.token_id of its short (NO) side


class Intent(StrEnum):
    BUY_LONG = "ORDER_INTENT_BUY_LONG"  # buy YES
    SELL_LONG = "ORDER_INTENT_SELL_LONG"  # sell YES held
    BUY_SHORT = "ORDER_INTENT_BUY_SHORT"  # buy NO (sells YES at 1 - price)
    SELL_SHORT = "ORDER_INTENT_SELL_SHORT"  # sell NO held (buys YES back at 1 - price)

    @property
    def is_long(self) -> bool:
        return self in (Intent.BUY_LONG, Intent.SELL_LONG)

    @property
    def action(self) -> Action:
        return Action.BUY if self in (Intent.BUY_LONG, Intent.BUY_SHORT) else Action.SELL


def intent_for(action: Action, contract: Contract) -> Intent:
    """The intent that buys or sells ``contract`` (its ``token_id`` says which side)."""
    if contract.token_id not in (LONG, SHORT):
        raise ValueError(f"{contract.key} is not a Polymarket US side")
    long = contract.token_id == LONG
    if action is Action.BUY:
        return Intent.BUY_LONG if long else Intent.BUY_SHORT
    return Intent.SELL_LONG if long else Intent.SELL_SHORT


def long_side_price(intent: Intent, price: Decimal) -> Decimal:
    """The long-side price of an order of ``intent`` whose own contract is priced
    ``price``; given a long-side price (an order's or a fill's), the contract's own."""
    if not price.is_finite() or price < 0 or price > ONE:
        raise ValueError(f"price {price} is outside [0, 1]")
    return price if intent.is_long else ONE - price
