"""Polymarket US in the simulator, for the demo: the world's two-outcome Polymarket
markets listed the way Polymarket US lists them (by slug, a long and a short side,
fees per coefficient) and settled the way it settles (paid into the balance at once).

The books and the outcomes are the world's Polymarket ones, so in the demo a pair with
Polymarket US behaves as a pair with Polymarket would; what differs is the venue's
shape: contracts, fees and automatic settlement.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from predarb.arbitrage.fees import polymarket_us_schedule
from predarb.domain import (
    ONE,
    Action,
    Contract,
    Market,
    OrderBook,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Resolution,
    Venue,
)
from predarb.venues.paper import check_order
from predarb.venues.polymarket_us.intents import LONG, SHORT
from predarb.venues.sim.venue import Collected, SimVenue
from predarb.venues.sim.world import SimWorld

US = Venue.POLYMARKET_US
FEE_COEFFICIENT = Decimal("0.003")  # docs.polymarket.us: 30 bps of the premium


class SimPolymarketUS(SimVenue):
    def __init__(
        self, world: SimWorld, *, balance: Decimal = Decimal(1000), follow_clock: bool = False
    ) -> None:
        super().__init__(world, US, balance=balance, follow_clock=follow_clock, pays_out=True)
        self._sim_ids: dict[str, str] = {}  # slug -> the world's Polymarket market id
        self._to_world: dict[Contract, Contract] = {}

    def _listed(self, m: Market) -> Market | None:
        if len(m.contracts) != 2:
            return None
        slug = m.extra.get("slug") or m.market_id
        ours = (
            Contract(US, slug, m.contracts[0].side, LONG),
            Contract(US, slug, m.contracts[1].side, SHORT),
        )
        self._sim_ids[slug] = m.market_id
        self._to_world.update(zip(ours, m.contracts, strict=True))
        return replace(
            m,
            venue=US,
            market_id=slug,
            contracts=ours,
            min_order_size=ONE,
            fee=polymarket_us_schedule(FEE_COEFFICIENT),
            neg_risk=False,
        )

    def _market(self, slug: str) -> Market | None:
        sim_id = self._sim_ids.get(slug)
        world = self.world.market(Venue.POLYMARKET, sim_id) if sim_id else None
        return self._listed(world) if world is not None else None

    async def list_markets(self) -> list[Market]:
        self._advance()
        return [u for m in self.world.markets(Venue.POLYMARKET) if (u := self._listed(m))]

    def _book(self, contract: Contract) -> OrderBook | None:
        sim = self._to_world.get(contract)
        book = self.world.book(sim) if sim is not None else None
        return replace(book, contract=contract, min_order_size=ONE) if book is not None else None

    async def place_order(self, order: OrderRequest) -> OrderResult:
        if (known := self.ledger.known(order.client_order_id)) is not None:
            return known
        self.collect()
        market = self._market(order.contract.market_id)
        refusal = check_order(order, market)
        if refusal is None and market is not None:
            refusal = self.ledger.affordable(order, market.fee)
        book = self._book(order.contract)
        if refusal is not None or market is None or book is None:
            code, msg = refusal or ("market_closed", "no book")
            return self.ledger.finish(order, OrderStatus.REJECTED, code, msg)
        levels = book.asks if order.action is Action.BUY else book.bids
        result, taken = self.ledger.execute(order, levels, market.fee)
        self.world.take(self._to_world[order.contract], order.action, taken)
        return result

    async def get_resolution(self, market_id: str) -> Resolution | None:
        sim_id = self._sim_ids.get(market_id)
        res = self.world.resolution(Venue.POLYMARKET, sim_id) if sim_id else None
        market = self._market(market_id)
        if res is None or market is None:
            return None
        payouts = {}
        for side, ours in zip((LONG, SHORT), market.contracts, strict=True):
            paid = res.payout(self._to_world[ours])
            payouts[side] = payouts[ours.side] = paid
        return Resolution(market_id, payouts, void=res.void, settled_at=res.settled_at)

    def collect(self, *, merge: bool = True) -> list[Collected]:
        """Resolved positions paid into the balance (the exchange settles by itself)."""
        out: list[Collected] = []
        for pos in self.ledger.positions():
            sim_id = self._sim_ids.get(pos.contract.market_id)
            res = self.world.resolution(Venue.POLYMARKET, sim_id) if sim_id else None
            sim = self._to_world.get(pos.contract)
            if res is None or sim is None:
                continue
            amount = self.ledger.pay_out(pos.contract, res.payout(sim))
            out.append(Collected("redeem", pos.contract.market_id, (pos.contract,), amount))
        return out
