"""For any book, tick and budget the calculator accepts, the Polymarket leg the placer
builds is one the venue takes: signed amounts within the market-order precision, and
filled by the fake (which enforces it with the venue's error text) with at least the
contracts the Kalshi leg buys."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predarb.arbitrage.calculator import CalcParams, find_opportunities
from predarb.arbitrage.fees import kalshi_schedule, polymarket_schedule
from predarb.domain import (
    Contract,
    Level,
    OrderBook,
    OrderRequest,
    OrderStatus,
    Pair,
    PairKind,
    Venue,
    World,
)
from predarb.execution.placer import Placer
from predarb.venues.polymarket import PolymarketVenue
from predarb.venues.polymarket.signing import OrderSigner
from tests.arbitrage.builders import NOW
from tests.fakes.polymarket_exchange import market_amounts_error
from tests.fakes.polymarket_server import FakePolymarket
from tests.venues.polymarket.conftest import ADDRESS, KEY

TICKS = [D("0.1"), D("0.01"), D("0.005"), D("0.0025"), D("0.001"), D("0.0001")]
K_NO = Contract(Venue.KALSHI, "KX-1", "no")


@st.composite
def cases(draw: st.DrawFn) -> tuple[D, list[tuple[D, D]], D, CalcParams]:
    tick = draw(st.sampled_from(TICKS))
    units = int(1 / tick)
    price = st.integers(min_value=units // 2, max_value=units - 1).map(lambda n: n * tick)
    size = st.integers(min_value=1, max_value=4000).map(lambda n: D(n) / 100)
    asks = sorted(draw(st.lists(st.tuples(price, size), min_size=1, max_size=3)))
    kalshi_ask = D(draw(st.integers(min_value=1, max_value=45))) / 100
    params = CalcParams(
        max_cost=D(draw(st.integers(min_value=2, max_value=150))),
        whole_contracts=draw(st.booleans()),
        depth_fraction=draw(st.sampled_from([D(1), D("0.5")])),
    )
    return tick, asks, kalshi_ask, params


def opportunities(tick: D, asks: list[tuple[D, D]], kalshi_ask: D, params: CalcParams) -> list:
    poly = Contract(Venue.POLYMARKET, "700", "Yes", "tok")
    pair = Pair(
        "p",
        PairKind.BINARY,
        "e",
        (World("yes", (poly,)), World("no", (K_NO,))),
        1.0,
        True,
    )
    books = {
        poly: OrderBook(poly, (), tuple(Level(p, s) for p, s in asks), NOW, tick, D(5)),
        K_NO: OrderBook(K_NO, (), (Level(kalshi_ask, D(10_000)),), NOW),
    }
    fees = {poly: polymarket_schedule(D("0.04")), K_NO: kalshi_schedule()}
    found = find_opportunities(pair, books, fees, params, NOW)
    return [o for o in found if o.executable and o.tradable]


PLACER = Placer(None, {}, mode="paper", clock=lambda: NOW)  # type: ignore[arg-type]
SIGNER = OrderSigner(KEY)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_every_leg_the_placer_builds_passes_the_precision_rule(
    case: tuple[D, list[tuple[D, D]], D, CalcParams],
) -> None:
    tick, asks, kalshi_ask, params = case
    for opp in opportunities(tick, asks, kalshi_ask, params):
        orders = [order for order, _ in PLACER.orders_for(opp)]
        assert len({o.contracts for o in orders}) == 1  # equal counts across venues
        (poly,) = [o for o in orders if o.contract.venue is Venue.POLYMARKET]
        signed = SIGNER.sign("1", "BUY", poly.price, poly.contracts, tick_size=tick, neg_risk=False)
        assert signed.size == poly.contracts  # nothing lost to rounding
        book_tick = type("B", (), {"tick": tick})()
        error = market_amounts_error(
            "BUY", D(signed.maker_amount), D(signed.taker_amount), book_tick
        )
        assert error == "", error


async def _place_on_fake(tick: D, asks: list[tuple[D, D]], order: OrderRequest) -> None:
    async with FakePolymarket() as fake:
        market = fake.add_market("700", tick=str(tick), fee_rate="0.04")
        token = market.tokens["Yes"]
        fake.set_book(token, asks=[(str(p), str(s)) for p, s in asks])
        creds = fake.register_wallet(ADDRESS, balance="1000")
        venue = PolymarketVenue(fake.clob_url, fake.gamma_url, private_key=KEY, api_creds=creds)
        try:
            order = replace(order, contract=Contract(Venue.POLYMARKET, "700", "Yes", token))
            await venue.prepare(order)  # raises if the venue would refuse it
            result = await venue.place_order(order)
        finally:
            await venue.close()
        assert result.status is OrderStatus.FILLED, result
        assert result.filled >= order.contracts  # surplus shares aside, the cover is whole


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cases())
def test_the_fake_fills_every_polymarket_leg_the_calculator_accepts(
    case: tuple[D, list[tuple[D, D]], D, CalcParams],
) -> None:
    tick, asks, kalshi_ask, params = case
    for opp in opportunities(tick, asks, kalshi_ask, params)[:1]:
        orders = [order for order, _ in PLACER.orders_for(opp)]
        (poly,) = [o for o in orders if o.contract.venue is Venue.POLYMARKET]
        asyncio.run(_place_on_fake(tick, asks, poly))
