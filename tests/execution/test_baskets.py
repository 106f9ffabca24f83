"""Several Polymarket legs leave in one ``POST /orders``, and a leg held by the sports
taker delay (``delayed``) is waited for as its own state: never hedged, never resent,
never taken for a kill. Against the fake CLOB over loopback, with the real adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from predarb.domain import (
    ArbKind,
    Contract,
    ExecutionStatus,
    Leg,
    Opportunity,
    OrderStatus,
    Venue,
)
from predarb.execution import placer as placer_module
from predarb.execution.placer import Placer
from predarb.store import Store
from predarb.venues.base import VenueClient
from predarb.venues.polymarket import PolymarketVenue
from tests.core.builders import K_YES, T0
from tests.fakes.polymarket_server import FakePolymarket
from tests.fakes.scripted_venue import FILL, ScriptedVenue
from tests.venues.polymarket.conftest import ADDRESS, KEY

pytestmark = pytest.mark.timeout(30)

OUTCOMES = ("Alice", "Bob", "Carol")


@dataclass
class Basket:
    fake: FakePolymarket
    venue: PolymarketVenue
    yes: dict[str, Contract]
    store: Store

    def placer(self, window_s: float = placer_module.DELAYED_WINDOW_S) -> Placer:
        venues: dict[Venue, VenueClient] = {
            Venue.POLYMARKET: self.venue,
            Venue.KALSHI: ScriptedVenue(Venue.KALSHI, [FILL] * 3),
        }
        return Placer(
            self.store, venues, mode="live", clock=lambda: datetime.now(UTC),
            delayed_window_s=window_s,
        )  # fmt: skip


@pytest.fixture(autouse=True)
def fast_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placer_module, "LOOKUP_DELAY_S", 0.0)
    monkeypatch.setattr(placer_module, "DELAYED_POLL_S", 0.02)


@pytest.fixture
async def basket(store: Store) -> AsyncIterator[Basket]:
    async with FakePolymarket() as fake:
        yes = {}
        for n, name in enumerate(OUTCOMES):
            m = fake.add_market(f"50{n}", question=f"Will {name} win?", neg_risk=True, fee_rate="0")
            fake.set_book(m.tokens["Yes"], asks=[("0.30", "100")])
            yes[name] = Contract(Venue.POLYMARKET, f"50{n}", "Yes", m.tokens["Yes"])
        creds = fake.register_wallet(ADDRESS, balance="1000")
        venue = PolymarketVenue(
            fake.clob_url, fake.gamma_url, private_key=KEY, api_creds=creds, max_backoff_s=0.01
        )
        await venue.list_markets()
        yield Basket(fake, venue, yes, store)
        await venue.close()


def _opportunity(contracts: list[Contract], price: str = "0.30") -> Opportunity:
    n, p = D(10), D(price)
    legs = tuple(Leg(c, c.side, p, n, p * n, D(0)) for c in contracts)
    cost = p * n * len(legs)
    return Opportunity(
        pair_id="pair-basket",
        kind=ArbKind.N_WAY if len(legs) > 2 else ArbKind.YES_NO,
        event="Who wins?",
        legs=legs,
        contracts=n,
        cost=cost,
        fees=D(0),
        payout=n,
        profit=n - cost,
        roi_pct=D(1),
        quote_ts=T0,
    )


def _order_posts(fake: FakePolymarket) -> list[tuple[str, str]]:
    return [r for r in fake.requests if r[0] == "POST" and r[1] in ("/order", "/orders")]


async def test_a_basket_of_polymarket_legs_leaves_in_one_request(basket: Basket) -> None:
    opp = _opportunity([basket.yes[name] for name in OUTCOMES])
    placement = await basket.placer().execute(opp)
    assert placement.status is ExecutionStatus.SUCCESS
    assert _order_posts(basket.fake) == [("POST", "/orders")]
    assert basket.fake.batches == [3]
    assert [leg.result.filled for leg in placement.legs] == [D(10)] * 3
    record = await basket.store.execution(placement.execution_id)
    assert record is not None
    assert [o.status for o in record.orders] == [OrderStatus.FILLED] * 3


async def test_a_refused_leg_in_a_batch_is_answered_alone(basket: Basket) -> None:
    """One leg's book is empty: the venue kills it inside the batch (``success: false``);
    the other legs fill, and the execution is partial, not unknown."""
    basket.fake.set_book(basket.yes["Bob"].token_id, asks=[])
    placement = await basket.placer().execute(_opportunity(list(basket.yes.values())))
    by_name = {leg.order.contract.market_id: leg.result for leg in placement.legs}
    assert by_name["501"].status is OrderStatus.CANCELED
    assert by_name["501"].error_code == "fok_killed"
    assert by_name["500"].status is by_name["502"].status is OrderStatus.FILLED
    assert placement.status is ExecutionStatus.PARTIAL
    assert basket.fake.batches == [3]


async def test_a_lost_batch_reply_is_looked_up_never_resent(basket: Basket) -> None:
    basket.fake.drop_next("POST", "/orders")
    placement = await basket.placer().execute(_opportunity(list(basket.yes.values())))
    assert placement.status is ExecutionStatus.SUCCESS
    assert [leg.result.status for leg in placement.legs] == [OrderStatus.FILLED] * 3
    assert _order_posts(basket.fake) == [("POST", "/orders")]  # one request, never again
    gets = [r for r in basket.fake.requests if r[1].startswith("/data/order/")]
    assert len(gets) >= 3  # each order found by its hash


def _lookups(fake: FakePolymarket) -> int:
    return sum(1 for r in fake.requests if r[1].startswith("/data/order/"))


async def test_a_delayed_leg_is_waited_for_and_then_fills(basket: Basket) -> None:
    token = basket.yes["Alice"].token_id
    basket.fake.delayed_tokens.add(token)
    task = asyncio.create_task(basket.placer().execute(_opportunity([K_YES, basket.yes["Alice"]])))
    await basket.fake.wait_for(lambda: _lookups(basket.fake) >= 3)
    assert not task.done()  # looked up while held: still waiting, nothing else sent
    assert _order_posts(basket.fake) == [("POST", "/order")]
    basket.fake.release_delayed()
    placement = await asyncio.wait_for(task, 5)
    assert placement.status is ExecutionStatus.SUCCESS
    poly = next(leg for leg in placement.legs if leg.order.contract.venue is Venue.POLYMARKET)
    assert (poly.result.status, poly.result.filled) == (OrderStatus.FILLED, D(10))
    assert _order_posts(basket.fake) == [("POST", "/order")]


async def test_a_delayed_leg_killed_by_a_move_during_the_delay(basket: Basket) -> None:
    token = basket.yes["Alice"].token_id
    basket.fake.delayed_tokens.add(token)
    task = asyncio.create_task(basket.placer().execute(_opportunity([K_YES, basket.yes["Alice"]])))
    await basket.fake.wait_for(lambda: bool(basket.fake.held))
    basket.fake.set_book(token, asks=[("0.35", "100")])  # the ask moved away in the delay
    basket.fake.release_delayed()
    placement = await asyncio.wait_for(task, 5)
    poly = next(leg for leg in placement.legs if leg.order.contract.venue is Venue.POLYMARKET)
    assert (poly.result.status, poly.result.filled) == (OrderStatus.CANCELED, D(0))
    assert placement.status is ExecutionStatus.PARTIAL  # the Kalshi leg stands alone
    record = await basket.store.execution(placement.execution_id)
    assert record is not None
    assert {o.venue: o.status for o in record.orders}[Venue.POLYMARKET] is OrderStatus.CANCELED


async def test_a_delay_that_never_ends_leaves_the_leg_unknown(basket: Basket) -> None:
    """Still held after the window: UNKNOWN (blocked and looked after), not a kill that
    would invite a second purchase."""
    basket.fake.delayed_tokens.add(basket.yes["Alice"].token_id)
    placer = basket.placer(window_s=0.2)
    placement = await placer.execute(_opportunity([K_YES, basket.yes["Alice"]]))
    poly = next(leg for leg in placement.legs if leg.order.contract.venue is Venue.POLYMARKET)
    assert (poly.result.status, poly.result.error_code) == (
        OrderStatus.UNKNOWN,
        "delayed_unresolved",
    )
    assert placement.status is ExecutionStatus.PARTIAL
    assert _order_posts(basket.fake) == [("POST", "/order")]
