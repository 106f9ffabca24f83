from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predarb.arbitrage.fees import (
    fee_for_levels,
    fee_price,
    kalshi_schedule,
    polymarket_schedule,
    polymarket_us_schedule,
    taker_fee,
    trade_fee,
)
from predarb.domain import Action, Venue

D = Decimal
KALSHI = kalshi_schedule()
POLY_SPORTS = polymarket_schedule(D("0.05"))


@pytest.mark.parametrize(
    ("contracts", "price", "fee"),
    [
        ("1", "0.52", "0.0175"),  # wire: 0.017472 -> fee_cost 0.017500
        ("1", "0.99", "0.0007"),  # wire: 0.000693 -> 0.000700
        ("1", "0.50", "0.0175"),  # exact, no rounding
        ("10", "0.50", "0.175"),
        ("3", "0.33", "0.0465"),  # 0.046431 rounds up
        ("1", "0.13", "0.0080"),  # 0.007917 rounds up
        ("100", "0.01", "0.0693"),
        ("0", "0.50", "0"),
    ],
)
def test_kalshi_fee_rounds_up_to_a_centicent(contracts: str, price: str, fee: str) -> None:
    assert taker_fee(KALSHI, D(contracts), D(price)) == D(fee)


def test_kalshi_multiplier_and_fee_types() -> None:
    half = kalshi_schedule(D("0.5"))
    assert half.rate == D("0.035")
    assert taker_fee(half, D(1), D("0.5")) == D("0.0088")  # 0.00875 up
    assert kalshi_schedule(fee_type="quadratic").maker_rate == 0
    assert kalshi_schedule(fee_type="quadratic_with_maker_fees").maker_rate == D("0.0175")
    assert kalshi_schedule(fee_type="quadratic_with_combo_maker_fees").maker_rate == D("0.035")
    with pytest.raises(ValueError, match="flat"):
        kalshi_schedule(fee_type="flat")  # coefficients unconfirmed: never priced as free
    with pytest.raises(ValueError):
        kalshi_schedule(D(-1))


@pytest.mark.parametrize(
    ("rate", "contracts", "price", "fee"),
    [
        ("0.05", "10", "0.5", "0.125"),
        ("0.04", "7", "0.37", "0.06527"),  # 0.065268
        ("0.05", "3", "0.03", "0.00437"),  # 0.004365: half up at 5 dp
        ("0.05", "1", "0.999", "0.00005"),  # 0.00004995
        ("0.05", "0.01", "0.99", "0"),  # 0.00000495 is below the 0.00001 minimum
        ("0", "100", "0.5", "0"),  # geopolitics: fee free
    ],
)
def test_polymarket_fee_rounds_to_five_places(
    rate: str, contracts: str, price: str, fee: str
) -> None:
    assert taker_fee(polymarket_schedule(D(rate)), D(contracts), D(price)) == D(fee)


def test_polymarket_exponent() -> None:
    squared = polymarket_schedule(D("0.25"), exponent=2)
    assert taker_fee(squared, D(1), D("0.5")) == D("0.01563")  # 0.25 × 0.0625 = 0.015625


def test_no_schedule_is_free_and_bad_inputs_raise() -> None:
    assert taker_fee(None, D(10), D("0.5")) == 0
    with pytest.raises(ValueError):
        taker_fee(KALSHI, D(-1), D("0.5"))
    with pytest.raises(ValueError):
        taker_fee(KALSHI, D(1), D("1.5"))
    with pytest.raises(ValueError):
        taker_fee(KALSHI, D(1), D("NaN"))
    with pytest.raises(ValueError):
        polymarket_schedule(D("-0.01"))


def test_fee_for_levels_rounds_each_fill() -> None:
    # Two fills of 1 @ 0.13 cost 0.0080 each; one fill of 2 would be 0.015834 -> 0.0159.
    assert fee_for_levels(KALSHI, [(D("0.13"), D(1)), (D("0.13"), D(1))]) == D("0.0160")
    assert taker_fee(KALSHI, D(2), D("0.13")) == D("0.0159")
    fills = [(D("0.50"), D(5)), (D("0.52"), D(15))]
    assert fee_for_levels(POLY_SPORTS, fills) == D("0.0625") + D("0.1872")
    assert fee_for_levels(None, fills) == 0
    assert fee_for_levels(KALSHI, []) == 0


cents = st.integers(min_value=1, max_value=99).map(lambda c: D(c) / 100)
counts = st.integers(min_value=1, max_value=100_000).map(lambda c: D(c) / 100)


@settings(max_examples=200, deadline=None)
@given(contracts=counts, price=cents, multiplier=st.sampled_from(["0.5", "1", "2"]))
def test_kalshi_fee_is_the_smallest_centicent_not_below_the_formula(
    contracts: Decimal, price: Decimal, multiplier: str
) -> None:
    schedule = kalshi_schedule(D(multiplier))
    assert schedule.venue is Venue.KALSHI
    raw = D("0.07") * D(multiplier) * contracts * price * (1 - price)
    fee = taker_fee(schedule, contracts, price)
    assert raw <= fee < raw + D("0.0001")
    assert fee == fee.quantize(D("0.0001"))


@settings(max_examples=200, deadline=None)
@given(contracts=counts, price=cents, rate=st.sampled_from(["0.04", "0.05", "0.07"]))
def test_polymarket_fee_is_within_half_a_step_of_the_formula(
    contracts: Decimal, price: Decimal, rate: str
) -> None:
    raw = D(rate) * contracts * price * (1 - price)
    fee = taker_fee(polymarket_schedule(D(rate)), contracts, price)
    if raw < D("0.00001"):
        assert fee == 0
    else:
        assert abs(fee - raw) <= D("0.000005")
        assert fee == fee.quantize(D("0.00001"))


US = polymarket_us_schedule(D("0.003"))


@pytest.mark.parametrize(
    ("action", "contracts", "price", "fee"),
    [
        # docs.polymarket.us/faqs/fees, examples 1 and 3: a buyer pays on the price, a
        # seller on its complement (the risk), rounded to the cent half to even.
        (Action.BUY, "1000", "0.65", "1.95"),
        (Action.SELL, "1000", "0.65", "1.05"),  # 1000 × 0.35 × 0.003
        (Action.SELL, "10", "0.90", "0.00"),  # 10 × 0.10 × 0.003 = 0.003 -> 0.00
        (Action.BUY, "10", "0.90", "0.03"),  # 0.027 -> 0.03
        (Action.BUY, "5", "0.50", "0.01"),  # 0.0075 -> 0.01
    ],
)
def test_polymarket_us_charges_a_seller_on_the_complement(
    action: Action, contracts: str, price: str, fee: str
) -> None:
    assert trade_fee(US, action, D(contracts), D(price)) == D(fee)


@settings(max_examples=200, deadline=None)
@given(price=cents, contracts=counts)
def test_the_buy_sell_fee_rule_lives_in_one_function(price: Decimal, contracts: Decimal) -> None:
    assert fee_price(Venue.POLYMARKET_US, Action.BUY, price) == price
    assert fee_price(Venue.POLYMARKET_US, Action.SELL, price) == 1 - price
    for venue in (Venue.KALSHI, Venue.POLYMARKET):
        assert fee_price(venue, Action.SELL, price) == price  # p(1 - p): either way round
    # Selling at p costs what buying at 1 - p costs: the same risk notional.
    assert trade_fee(US, Action.SELL, contracts, price) == trade_fee(
        US, Action.BUY, contracts, 1 - price
    )
    # The quadratic venues: a sale is charged as a buy at the same price.
    assert trade_fee(KALSHI, Action.SELL, contracts, price) == taker_fee(KALSHI, contracts, price)
    assert trade_fee(None, Action.SELL, contracts, price) == 0
