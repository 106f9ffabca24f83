"""The long-side price rule: every order and fill price is the long (YES) side's."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from predarb.domain import ONE, Action, Contract, Venue
from predarb.venues.polymarket_us.intents import (
    LONG,
    SHORT,
    Intent,
    intent_for,
    long_side_price,
)

prices = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)
intents = st.sampled_from(list(Intent))
LONG_C = Contract(Venue.POLYMARKET_US, "m", "Yes", LONG)
SHORT_C = Contract(Venue.POLYMARKET_US, "m", "No", SHORT)


@given(intents, prices)
def test_the_conversion_is_its_own_inverse(intent: Intent, price: Decimal) -> None:
    assert long_side_price(intent, long_side_price(intent, price)) == price


@given(intents, prices)
def test_long_intents_keep_the_price_and_short_intents_send_its_complement(
    intent: Intent, price: Decimal
) -> None:
    sent = long_side_price(intent, price)
    assert sent == (price if intent.is_long else ONE - price)
    assert 0 <= sent <= 1


@given(st.sampled_from(list(Action)), st.sampled_from([LONG_C, SHORT_C]), prices)
def test_every_action_on_every_side_maps_to_its_intent(
    action: Action, contract: Contract, price: Decimal
) -> None:
    intent = intent_for(action, contract)
    assert intent.action is action
    assert intent.is_long is (contract.token_id == LONG)
    # Buying a side and selling the other trade the one instrument the same way.
    other = SHORT_C if contract is LONG_C else LONG_C
    mirror = intent_for(Action.SELL if action is Action.BUY else Action.BUY, other)
    assert long_side_price(intent, price) == long_side_price(mirror, ONE - price)


def test_buying_no_at_forty_cents_sends_sixty() -> None:
    intent = intent_for(Action.BUY, SHORT_C)
    assert intent is Intent.BUY_SHORT
    assert long_side_price(intent, Decimal("0.40")) == Decimal("0.60")


@pytest.mark.parametrize("bad", [Decimal("-0.01"), Decimal("1.01"), Decimal("NaN")])
def test_prices_outside_zero_one_are_refused(bad: Decimal) -> None:
    with pytest.raises(ValueError):
        long_side_price(Intent.BUY_LONG, bad)


def test_a_contract_of_another_venue_has_no_intent() -> None:
    with pytest.raises(ValueError):
        intent_for(Action.BUY, Contract(Venue.KALSHI, "K", "yes"))
