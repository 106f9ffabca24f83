"""For any book, tick and budget the calculator accepts, every Polymarket leg the placer
builds is one the venue takes: signed amounts within the market-order precision, and
filled by the fake (which enforces it with the venue's error text). Counts stay equal
across venues; surplus shares (a market BUY meeting better prices) are recorded.

The books are drawn so that an opportunity exists (the Kalshi ask is what the
Polymarket asks leave of $1, less a margin), so nearly every example reaches the
calculator's output and the fake; ``assume`` drops the few that do not. Two shapes:
a binary pair (one Polymarket leg), and an n-way basket whose two Polymarket legs are
on different ticks and leave in one ``POST /orders``."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR
from decimal import Decimal as D
from pathlib import Path

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from predarb.arbitrage.calculator import CalcParams, find_opportunities
from predarb.arbitrage.fees import kalshi_schedule, polymarket_schedule
from predarb.domain import (
    Contract,
    ExecutionStatus,
    FeeSchedule,
    Level,
    Opportunity,
    OrderBook,
    Pair,
    PairKind,
    Venue,
    World,
)
from predarb.execution.partial import leg_holdings
from predarb.execution.placer import Placer
from predarb.store import Store
from predarb.venues.base import VenueClient
from predarb.venues.polymarket import PolymarketVenue
from predarb.venues.polymarket.signing import OrderSigner
from tests.arbitrage.builders import NOW
from tests.fakes.polymarket_exchange import market_amounts_error
from tests.fakes.polymarket_server import FakePolymarket
from tests.fakes.scripted_venue import FILL, ScriptedVenue
from tests.venues.polymarket.conftest import ADDRESS, KEY

TICKS = [D("0.1"), D("0.01"), D("0.005"), D("0.0025"), D("0.001"), D("0.0001")]
K_NO = Contract(Venue.KALSHI, "KX-1", "no")
POLY_FEE = D("0.04")
CENT = D("0.01")


@dataclass(frozen=True)
class PolyBook:
    market_id: str
    tick: D
    asks: tuple[tuple[D, D], ...]  # best first


@dataclass(frozen=True)
class Case:
    poly: tuple[PolyBook, ...]  # one (binary) or two (basket) Polymarket legs
    kalshi_ask: D
    min_size: D
    params: CalcParams

    def contracts(self, tokens: Mapping[str, str]) -> list[Contract]:
        return [
            Contract(Venue.POLYMARKET, b.market_id, "Yes", tokens[b.market_id]) for b in self.poly
        ]

    def opportunities(self, tokens: Mapping[str, str]) -> list[Opportunity]:
        """What the calculator accepts (executable and tradable), best first."""
        poly = self.contracts(tokens)
        worlds = [World(f"w{n}", (c,)) for n, c in enumerate(poly)] + [World("k", (K_NO,))]
        kind = PairKind.BINARY if len(poly) == 1 else PairKind.GROUP
        pair = Pair("p", kind, "e", tuple(worlds), 1.0, True)
        books = {
            c: OrderBook(c, (), tuple(Level(p, s) for p, s in b.asks), NOW, b.tick, self.min_size)
            for c, b in zip(poly, self.poly, strict=True)
        }
        books[K_NO] = OrderBook(K_NO, (), (Level(self.kalshi_ask, D(10_000)),), NOW)
        fees: dict[Contract, FeeSchedule | None] = {c: polymarket_schedule(POLY_FEE) for c in poly}
        fees[K_NO] = kalshi_schedule()
        found = find_opportunities(pair, books, fees, self.params, NOW)
        return [o for o in found if o.executable and o.tradable]


PLACEHOLDERS = {"700": "1", "701": "2"}


def _asks(draw: st.DrawFn, tick: D, low: D, high: D) -> tuple[tuple[D, D], ...]:
    """One to three ask levels on the tick grid, the best within [low, high] and the
    others at most two cents (or one tick) apart, best first: deep enough that orders
    walk several levels, which is where surplus shares come from."""
    best = draw(st.integers(max(1, int(low / tick)), int(high / tick)))
    gap = st.integers(min_value=1, max_value=max(1, int(D("0.02") / tick)))
    units = [best]
    for step in draw(st.lists(gap, max_size=2)):
        units.append(units[-1] + step)
    sizes = st.integers(min_value=1000, max_value=6000).map(lambda n: D(n) / 100)
    return tuple((n * tick, draw(sizes)) for n in units)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    basket = draw(st.booleans())
    if basket:  # two Polymarket legs on different ticks
        ticks = draw(st.lists(st.sampled_from(TICKS), min_size=2, max_size=2, unique=True))
        highs = [D("0.45"), D("0.45")]
    else:
        ticks, highs = [draw(st.sampled_from(TICKS))], [D("0.9")]
    poly = tuple(
        PolyBook(str(700 + n), tick, _asks(draw, tick, D("0.05"), high))
        for n, (tick, high) in enumerate(zip(ticks, highs, strict=True))
    )
    # The Kalshi ask leaves a margin of 5 to 30 cents under $1 at the best levels.
    margin = D(draw(st.integers(min_value=5, max_value=30))) / 100
    left = D(1) - sum((b.asks[0][0] for b in poly), D(0)) - margin
    kalshi_ask = left.quantize(CENT, ROUND_FLOOR)
    assume(kalshi_ask >= CENT)
    params = CalcParams(
        max_cost=D(draw(st.integers(min_value=10, max_value=300))),
        whole_contracts=draw(st.booleans()),
        depth_fraction=draw(st.sampled_from([D(1), D("0.5")])),
    )
    return Case(poly, kalshi_ask, draw(st.sampled_from([D(1), D(5)])), params)


PLACER = Placer(None, {}, mode="paper", clock=lambda: NOW)  # type: ignore[arg-type]
SIGNER = OrderSigner(KEY)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_every_leg_the_placer_builds_passes_the_precision_rule(case: Case) -> None:
    opps = case.opportunities(PLACEHOLDERS)
    assume(opps)
    ticks = {
        c.token_id: b.tick for c, b in zip(case.contracts(PLACEHOLDERS), case.poly, strict=True)
    }
    for opp in opps:
        orders = [order for order, _ in PLACER.orders_for(opp)]
        assert {o.contracts for o in orders} == {opp.contracts}  # equal across venues
        poly = [o for o in orders if o.contract.venue is Venue.POLYMARKET]
        assert len(poly) == len(case.poly)
        for order in poly:
            tick = ticks[order.contract.token_id]
            signed = SIGNER.sign(
                "1", "BUY", order.price, order.contracts, tick_size=tick, neg_risk=False
            )
            assert signed.size == order.contracts  # nothing lost to rounding
            book_tick = type("B", (), {"tick": tick})()
            error = market_amounts_error(
                "BUY", D(signed.maker_amount), D(signed.taker_amount), book_tick
            )
            assert error == "", error


async def _execute(case: Case) -> None:
    """The best opportunity through the real placer: the Polymarket legs to the fake
    CLOB over loopback (one batch for a basket), the Kalshi leg to a scripted venue that
    fills it, everything recorded in a real SQLite file."""
    async with FakePolymarket() as fake:
        tokens = {}
        for b in case.poly:
            m = fake.add_market(
                b.market_id, tick=str(b.tick), fee_rate=str(POLY_FEE), min_size=str(case.min_size)
            )
            fake.set_book(m.tokens["Yes"], asks=[(str(p), str(s)) for p, s in b.asks])
            tokens[b.market_id] = m.tokens["Yes"]
        (opp, *_) = case.opportunities(tokens)
        creds = fake.register_wallet(ADDRESS, balance="1000")
        venue = PolymarketVenue(fake.clob_url, fake.gamma_url, private_key=KEY, api_creds=creds)
        venues: dict[Venue, VenueClient] = {
            Venue.POLYMARKET: venue,
            Venue.KALSHI: ScriptedVenue(Venue.KALSHI, [FILL]),
        }
        with tempfile.TemporaryDirectory() as tmp:
            store = await Store.open(Path(tmp) / "p.sqlite3")
            try:
                placer = Placer(store, venues, mode="live", clock=lambda: datetime.now(UTC))
                placement = await placer.execute(opp)
                record = await store.execution(placement.execution_id)
                fills = await store.query(
                    "SELECT client_order_id, contracts FROM fills WHERE execution_id = ?",
                    (placement.execution_id,),
                )
            finally:
                await store.close()
                await venue.close()
        if len(case.poly) == 2:
            assert fake.batches == [2]  # both Polymarket legs in one POST /orders
    assert record is not None
    assert placement.status is ExecutionStatus.SUCCESS, [leg.result for leg in placement.legs]
    assert {o.contracts for o in record.orders} == {opp.contracts}  # equal across venues
    assert [h.held for h in leg_holdings(record)] == [opp.contracts] * len(opp.legs)
    recorded: dict[str, D] = {}
    for cid, n in fills:
        recorded[cid] = recorded.get(cid, D(0)) + D(n)
    expected_note = []
    for order, leg in zip(record.orders, opp.legs, strict=True):
        assert order.filled >= order.contracts
        assert recorded[order.client_order_id] == order.filled  # every share in the fills
        if order.venue is not Venue.POLYMARKET:
            continue
        extra = order.filled - order.contracts
        # The calculator's walk of the same levels foresees the surplus exactly; with a
        # depth fraction or whole-contract sizes it sees less of the cheap levels.
        exact = case.params.depth_fraction == 1 and not case.params.whole_contracts
        assert extra == leg.surplus if exact else extra >= leg.surplus - D("0.00001")
        if extra > 0:
            key = Contract(order.venue, order.market_id, order.side, order.token_id).key
            expected_note.append(f"{extra} of {key}")
    event(f"{len(case.poly)} Polymarket leg(s), surplus shares: {bool(expected_note)}")
    assert record.note == (
        f"surplus shares from better prices: {', '.join(expected_note)}" if expected_note else ""
    )


@settings(max_examples=40, deadline=None)
@given(cases())
def test_the_fake_fills_every_polymarket_leg_the_calculator_accepts(case: Case) -> None:
    assume(case.opportunities(PLACEHOLDERS))
    asyncio.run(_execute(case))
