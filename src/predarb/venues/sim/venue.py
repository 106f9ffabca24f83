"""``SimVenue``: the ``VenueClient`` of one venue of a ``SimWorld``."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from predarb.domain import (
    Action,
    Contract,
    Fill,
    Market,
    OrderBook,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Resolution,
    Venue,
    VenuePosition,
)
from predarb.venues.base import VenueClient
from predarb.venues.paper import PaperLedger, check_order
from predarb.venues.sim.world import SimWorld


class SimVenue(VenueClient):
    """One venue of a ``SimWorld``: its markets and books, and orders filled against them
    (taking liquidity until the next step). ``follow_clock`` advances the world by its
    injected clock on every read."""

    def __init__(
        self,
        world: SimWorld,
        venue: Venue,
        *,
        balance: Decimal = Decimal(1000),
        follow_clock: bool = False,
    ) -> None:
        self.world = world
        self.venue = venue
        self._follow_clock = follow_clock
        self.ledger = PaperLedger(venue, balance, world.now)

    async def list_markets(self) -> list[Market]:
        self._advance()
        return self.world.markets(self.venue)

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        self._advance()
        books = {c: self.world.book(c) for c in contracts if c.venue is self.venue}
        return {c: b for c, b in books.items() if b is not None}

    async def place_order(self, order: OrderRequest) -> OrderResult:
        if (known := self.ledger.known(order.client_order_id)) is not None:
            return known
        market = self.world.market(self.venue, order.contract.market_id)
        refusal = check_order(order, market)
        if refusal is None and market is not None:
            refusal = self.ledger.affordable(order, market.fee)
        book = self.world.book(order.contract)
        if refusal is not None or market is None or book is None:
            code, msg = refusal or ("market_closed", "no book")
            return self.ledger.finish(order, OrderStatus.REJECTED, code, msg)
        levels = book.asks if order.action is Action.BUY else book.bids
        result, taken = self.ledger.execute(order, levels, market.fee)
        self.world.take(order.contract, order.action, taken)
        return result

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        return self.ledger.known(client_order_id)

    async def cancel_order(self, venue_order_id: str) -> None:
        """Simulated orders never rest, so there is nothing to cancel."""

    async def get_fills(self, client_order_id: str = "") -> list[Fill]:
        return self.ledger.fills(client_order_id)

    async def get_balance(self) -> Decimal:
        return self.ledger.balance

    async def get_positions(self) -> list[VenuePosition]:
        return self.ledger.positions()

    async def get_resolution(self, market_id: str) -> Resolution | None:
        return self.world.resolution(self.venue, market_id)

    def _advance(self) -> None:
        if self._follow_clock:
            self.world.sync()
