"""Live ticks: a ``tick_size_change`` on the market channel reaches the signer the
moment it arrives, so an order priced on the old grid is never signed with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal as D

import pytest

from predarb.domain import Action, Contract, OrderRequest, OrderStatus, TimeInForce, Venue
from predarb.venues.base import OrderRejected
from predarb.venues.polymarket import PolymarketVenue
from tests.fakes.polymarket_server import FakePolymarket
from tests.fakes.ws_polymarket import FakePolymarketWs
from tests.marketdata.test_streams import running
from tests.venues.polymarket.conftest import ADDRESS, KEY

pytestmark = pytest.mark.timeout(20)


@dataclass
class Live:
    rest: FakePolymarket
    ws: FakePolymarketWs
    venue: PolymarketVenue
    yes: Contract


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    async with FakePolymarket() as rest, FakePolymarketWs(rest) as ws:
        m = rest.add_market("t1", tick="0.001", fee_rate="0")
        token = m.tokens["Yes"]
        rest.set_book(token, asks=[("0.955", "100"), ("0.96", "100")])
        creds = rest.register_wallet(ADDRESS, balance="1000")
        venue = PolymarketVenue(
            rest.clob_url, rest.gamma_url, private_key=KEY, api_creds=creds, ws_url=ws.url
        )
        await venue.list_markets()
        yield Live(rest, ws, venue, Contract(Venue.POLYMARKET, "t1", "Yes", token))
        await venue.close()


def _buy(c: Contract, coid: str, price: str, qty: str = "10") -> OrderRequest:
    return OrderRequest(coid, c, Action.BUY, D(price), D(qty), TimeInForce.FOK)


async def test_a_tick_change_between_pricing_and_signing(live: Live) -> None:
    """Priced at 0.955 on the 0.001 grid; the tick becomes 0.01 before the order is
    signed: it is refused here (never sent), and an order on the new grid fills."""
    async with running(live.venue.book_stream(), [live.yes]) as r:
        await r.cache.until(lambda: Venue.POLYMARKET in r.cache.live)
        assert r.cache.books[live.yes].tick_size == D("0.001")
        await live.ws.change_tick(live.yes.token_id, "0.01")
        await r.cache.until(lambda: r.cache.books[live.yes].tick_size == D("0.01"))
        with pytest.raises(OrderRejected) as refused:
            await live.venue.prepare(_buy(live.yes, "t-1", "0.955"))
        assert refused.value.code == "invalid_order" and "0.01 grid" in refused.value.message
        assert ("POST", "/order") not in live.rest.requests
        done = await live.venue.place_order(_buy(live.yes, "t-2", "0.96"))
        assert (done.status, done.filled) == (OrderStatus.FILLED, D("10.052356"))  # 9.60 at 0.955


async def test_a_tick_change_after_preparing_signs_again_before_sending(live: Live) -> None:
    """Prepared (signed) on the 0.001 grid, then the tick coarsens: the prepared order
    is not sent as signed; it is checked against the new tick and refused."""
    async with running(live.venue.book_stream(), [live.yes]) as r:
        await r.cache.until(lambda: Venue.POLYMARKET in r.cache.live)
        order = _buy(live.yes, "t-3", "0.955")
        await live.venue.prepare(order)
        await live.ws.change_tick(live.yes.token_id, "0.01")
        await r.cache.until(lambda: r.cache.books[live.yes].tick_size == D("0.01"))
        result = await live.venue.place_order(order)
        assert (result.status, result.error_code) == (OrderStatus.REJECTED, "invalid_order")
        assert ("POST", "/order") not in live.rest.requests


async def test_the_fake_refuses_an_order_on_the_old_grid(live: Live) -> None:
    """What a stale tick would cost: the venue's own refusal."""
    live.rest.books[live.yes.token_id].tick = D("0.01")  # changed, and nobody told us
    result = await live.venue.place_order(_buy(live.yes, "t-4", "0.955"))
    assert result.status is OrderStatus.REJECTED
    assert "breaks minimum tick size rule: 0.01" in result.error
