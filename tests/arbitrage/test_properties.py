"""For any books: every opportunity pays at least its stated profit in every world, and
every Polymarket leg is a market BUY the venue accepts (whole cents at its limit) whose
money fits the notional at or below that limit."""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from predarb.arbitrage.calculator import CalcParams, find_opportunities
from predarb.arbitrage.fees import kalshi_schedule, polymarket_schedule
from predarb.domain import Contract, FeeSchedule, Level, OrderBook, Pair, PairKind, Venue, World
from tests.arbitrage.builders import NOW, D, kalshi, poly

Scenario = tuple[Pair, dict[Contract, OrderBook], dict[Contract, FeeSchedule | None], CalcParams]


def independent_fee(schedule: FeeSchedule | None, contracts: Decimal, price: Decimal) -> Decimal:
    """The venues' published formulas, written out again for the check."""
    if schedule is None:
        return D(0)
    raw = contracts * schedule.rate * (price * (1 - price)) ** schedule.exponent
    if schedule.venue is Venue.KALSHI:
        return (raw * 10_000).to_integral_value(ROUND_CEILING) / 10_000
    return D(0) if raw < D("0.00001") else raw.quantize(D("0.00001"), ROUND_HALF_UP)


def expected_fills(
    book: OrderBook, contracts: Decimal, params: CalcParams
) -> list[tuple[Decimal, Decimal]]:
    step = D(1) if params.whole_contracts else D("0.01")
    fills, left = [], contracts
    for level in sorted(book.asks, key=lambda lv: lv.price):
        if left == 0:
            break
        if level.price % book.tick_size != 0:
            continue
        share = (level.size * params.depth_fraction / step).to_integral_value(ROUND_FLOOR) * step
        take = min(share, left)
        if take > 0:
            fills.append((level.price, take))
            left -= take
    assert left == 0, "the legs took more than the book's allowed depth"
    return fills


def _usable(book: OrderBook, params: CalcParams) -> list[tuple[Decimal, Decimal]]:
    step = D(1) if params.whole_contracts else D("0.01")
    out = []
    for level in sorted(book.asks, key=lambda lv: lv.price):
        if level.price % book.tick_size == 0:
            share = (level.size * params.depth_fraction / step).to_integral_value(ROUND_FLOOR)
            if share > 0:
                out.append((level.price, share * step))
    return out


def expected_market_buy(
    book: OrderBook, contracts: Decimal, params: CalcParams
) -> tuple[Decimal, list[tuple[Decimal, Decimal]]]:
    """A Polymarket FOK BUY of ``contracts``: the cheapest limit whose notional at or
    below it covers ``contracts × limit``, and the fills that money buys."""
    usable = _usable(book, params)
    for limit, _ in usable:
        notional = sum(p * s for p, s in usable if p <= limit)
        if notional >= contracts * limit:
            break
    else:
        raise AssertionError("no limit covers the leg's money")
    fills, left = [], contracts * limit
    for p, size in usable:
        if left <= 0:
            break
        take = min(size, (left / p).quantize(D("0.000001"), rounding="ROUND_DOWN"))
        if take > 0:
            fills.append((p, take))
        left -= take * p
    return limit, fills


prices = st.integers(min_value=1, max_value=999).map(lambda c: D(c) / 1000)
sizes = st.integers(min_value=1, max_value=3000).map(lambda c: D(c) / 100)
levels = st.lists(st.tuples(prices, sizes), max_size=4)
TICKS = [D("0.01"), D("0.001"), D("0.005")]
schedules = (
    st.sampled_from([None, kalshi_schedule(), kalshi_schedule(D("0.5")), kalshi_schedule(D(2))]),
    st.sampled_from(
        [
            None,
            polymarket_schedule(D(0)),
            polymarket_schedule(D("0.04")),
            polymarket_schedule(D("0.07")),
        ]
    ),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n_worlds = draw(st.sampled_from([2, 3]))
    worlds: list[World] = []
    books: dict[Contract, OrderBook] = {}
    fees: dict[Contract, FeeSchedule | None] = {}
    for i in range(n_worlds):
        contracts = []
        for venue in draw(st.sampled_from([["k"], ["p"], ["k", "p"]])):
            c = kalshi(f"KX-{i}") if venue == "k" else poly(f"m{i}", "Yes")
            contracts.append(c)
            fees[c] = draw(schedules[0] if venue == "k" else schedules[1])
            asks = draw(levels)
            books[c] = OrderBook(
                contract=c,
                bids=(),
                asks=tuple(Level(p, s) for p, s in asks),
                ts=NOW,
                tick_size=D("0.01") if venue == "k" else draw(st.sampled_from(TICKS)),
                min_order_size=D(1) if venue == "k" else draw(st.sampled_from([D(1), D(5)])),
            )
        worlds.append(World(f"w{i}", tuple(contracts)))
    pair = Pair(
        pair_id="p",
        kind=draw(st.sampled_from(list(PairKind))),
        event="e",
        worlds=tuple(worlds),
        confidence=1.0,
        tradable=True,
    )
    params = CalcParams(
        max_cost=D(draw(st.integers(min_value=1, max_value=200))),
        max_contracts=draw(st.sampled_from([None, D(3), D(50)])),
        depth_fraction=draw(st.sampled_from([D(1), D("0.5"), D("0.3")])),
        whole_contracts=draw(st.booleans()),
    )
    return pair, books, fees, params


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_every_opportunity_pays_its_profit_in_every_world(
    scenario: Scenario,
) -> None:
    pair, books, fees, params = scenario
    for opp in find_opportunities(pair, books, fees, params, NOW):
        assert len(opp.legs) == len(pair.worlds)
        assert {leg.contracts for leg in opp.legs} == {opp.contracts}
        cost = fee_total = D(0)
        for leg, world in zip(opp.legs, pair.worlds, strict=True):
            assert leg.world == world.label and leg.contract in world.contracts
            book = books[leg.contract]
            if leg.contract.venue is Venue.POLYMARKET:
                limit, fills = expected_market_buy(book, leg.contracts, params)
                assert leg.price == limit
                assert leg.cost == leg.contracts * limit
                if opp.executable:
                    assert (leg.cost * 100) % 1 == 0, "maker amount beyond whole cents"
                assert leg.surplus == sum(c for _, c in fills) - leg.contracts >= 0
            else:
                fills = expected_fills(book, leg.contracts, params)
                assert leg.price == fills[-1][0]
                assert leg.cost == sum(p * c for p, c in fills)
            assert leg.price % book.tick_size == 0
            assert leg.fee == sum(independent_fee(fees[leg.contract], c, p) for p, c in fills)
            assert leg.contracts >= book.min_order_size
            cost += leg.cost
            fee_total += leg.fee
        assert (opp.cost, opp.fees) == (cost, fee_total)
        for world in pair.worlds:
            payout = sum(leg.contracts for leg in opp.legs if leg.contract in world.contracts)
            assert payout - cost - fee_total >= opp.profit > 0
        if opp.tradable:
            assert cost + fee_total <= params.max_cost
            assert params.max_contracts is None or opp.contracts <= params.max_contracts
