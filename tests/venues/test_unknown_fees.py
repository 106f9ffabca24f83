"""A fee the bot cannot compute is never guessed low: such a market is not priced."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from predarb.arbitrage.calculator import CalcParams
from predarb.domain import Contract, Level, Market, OrderBook, Pair, PairKind, Venue, World
from predarb.engine import price_pairs
from predarb.venues.kalshi.wire import SeriesFee
from predarb.venues.polymarket.wire import fee_schedule

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def test_kalshi_flat_fees_are_unknown_and_quadratic_ones_known() -> None:
    assert SeriesFee("flat").schedule() is None
    assert SeriesFee("some_new_type").schedule() is None
    quadratic = SeriesFee("quadratic", Decimal(2)).schedule()
    assert quadratic is not None and quadratic.rate == Decimal("0.14")
    maker = SeriesFee("quadratic_with_maker_fees").schedule()
    assert maker is not None and maker.maker_rate == Decimal("0.0175")


def test_polymarket_is_free_only_when_it_says_so() -> None:
    assert fee_schedule({"feesEnabled": False}).rate == 0
    silent = fee_schedule({})
    assert silent.rate > Decimal("0.05")  # priced at the top rate, not as free
    assert fee_schedule({"feeSchedule": {"rate": "0.04", "exponent": 1}}).rate == Decimal("0.04")


def test_a_market_with_unknown_fees_is_never_priced() -> None:
    yes = Contract(Venue.KALSHI, "KX-A", "yes")
    no = Contract(Venue.POLYMARKET, "9", "No", "t9")
    pair = Pair("p", PairKind.BINARY, "E", (World("yes", (yes,)), World("no", (no,))), 0.99, True)
    cheap = (Level(Decimal("0.30"), Decimal(100)),)
    books = {
        c: OrderBook(c, bids=(), asks=cheap, ts=NOW, min_order_size=Decimal(1)) for c in (yes, no)
    }
    known = Market(Venue.POLYMARKET, "9", "e", "E", (no,), fee=fee_schedule({"feesEnabled": False}))
    unknown = Market(Venue.KALSHI, "KX-A", "e", "E", (yes,), fee=SeriesFee("flat").schedule())
    params = CalcParams(max_cost=Decimal(50))
    assert price_pairs([pair], books, {yes: unknown, no: known}, params, NOW) == []
    priced = Market(Venue.KALSHI, "KX-A", "e", "E", (yes,), fee=SeriesFee().schedule())
    found = price_pairs([pair], books, {yes: priced, no: known}, params, NOW)
    assert found and found[0].profit > 0
