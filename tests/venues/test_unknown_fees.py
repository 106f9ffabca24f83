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


async def test_a_polymarket_us_market_without_a_fee_coefficient_is_never_priced() -> None:
    from predarb.arbitrage.fees import kalshi_schedule
    from predarb.venues.polymarket_us import PolymarketUSVenue
    from tests.fakes.polymarket_us_server import FakePolymarketUS

    async with FakePolymarketUS() as fake:
        fake.add_market("no-fee", "Lakers vs. Celtics", fee_coefficient=None)
        fake.add_market("bad-fee", "Lakers vs. Celtics", fee_coefficient=Decimal(2))
        fake.add_market("fee", "Lakers vs. Celtics")
        for slug in ("no-fee", "bad-fee", "fee"):
            fake.set_book(slug, bids=[("0.70", 100)], offers=[("0.72", 100)])  # NO asks 0.30
        venue = PolymarketUSVenue(fake.url, fake.url)
        try:
            listed = {m.market_id: m for m in await venue.list_markets()}
            assert listed["no-fee"].fee is None and listed["bad-fee"].fee is None
            yes = Contract(Venue.KALSHI, "KX-A", "yes")
            kalshi = Market(Venue.KALSHI, "KX-A", "e", "E", (yes,), fee=kalshi_schedule())
            params = CalcParams(max_cost=Decimal(50))
            found: dict[str, int] = {}
            for slug, market in listed.items():
                no = market.contracts[1]
                books = await venue.get_order_books([no])
                books[yes] = OrderBook(yes, (), (Level(Decimal("0.30"), Decimal(100)),), NOW)
                pair = Pair(
                    f"p-{slug}", PairKind.BINARY, "E", (World("yes", (yes,)), World("no", (no,))),
                    0.99, True,
                )  # fmt: skip
                found[slug] = len(
                    price_pairs([pair], books, {yes: kalshi, no: market}, params, NOW)
                )
        finally:
            await venue.close()
    assert found == {"no-fee": 0, "bad-fee": 0, "fee": 1}  # the same book priced with a fee
