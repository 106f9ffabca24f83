"""``SimVenue``: the ``VenueClient`` of one venue of a ``SimWorld``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from predarb.capital.redeemer import RedeemResult
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
from predarb.notify import messages
from predarb.notify.base import Alert
from predarb.reconcile import position_key
from predarb.store import Store
from predarb.store.redemptions import RedemptionStatus
from predarb.venues.base import VenueClient
from predarb.venues.paper import PaperLedger, check_order
from predarb.venues.sim.world import SimWorld


class SimVenue(VenueClient):
    """One venue of a ``SimWorld``: its markets and books, and orders filled against them
    (taking liquidity until the next step). ``follow_clock`` advances the world by its
    injected clock on every read.

    As on the real venues, Kalshi pays a resolved position out by itself, while a
    Polymarket position stays tokens until redeemed (``collect``, run by the simulator's
    returner, as the bot's redemption job does on chain)."""

    def __init__(
        self,
        world: SimWorld,
        venue: Venue,
        *,
        balance: Decimal = Decimal(1000),
        follow_clock: bool = False,
        pays_out: bool | None = None,
    ) -> None:
        self.world = world
        self.venue = venue
        self._follow_clock = follow_clock
        self.ledger = PaperLedger(venue, balance, world.now)
        self.pays_out = venue is Venue.KALSHI if pays_out is None else pays_out

    async def list_markets(self) -> list[Market]:
        self._advance()
        return self.world.markets(self.venue)

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        self._advance()
        books = {c: self._book(c) for c in contracts if c.venue is self.venue}
        return {c: b for c, b in books.items() if b is not None}

    async def get_order_book(self, contract: Contract) -> OrderBook | None:
        """The book as of the world's last step: the world moves with the market-data
        reads (``list_markets``, ``get_order_books``), not with an order's own read, so
        that a loaded machine does not turn every order into a miss (moves in flight
        are simulated by the paper layer's fail rate)."""
        return self._book(contract) if contract.venue is self.venue else None

    def _book(self, contract: Contract) -> OrderBook | None:
        return self.world.book(contract)

    async def place_order(self, order: OrderRequest) -> OrderResult:
        if (known := self.ledger.known(order.client_order_id)) is not None:
            return known
        if self.pays_out:
            self.collect()  # resolved positions already paid: spendable
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
        if self.pays_out:
            self.collect()
        return self.ledger.balance

    async def get_positions(self) -> list[VenuePosition]:
        if self.pays_out:
            self.collect()
        return self.ledger.positions()

    def collect(self, *, merge: bool = True) -> list[Collected]:
        """Pay out every held position whose market resolved, and merge the YES+NO
        pairs held in one open market."""
        out: list[Collected] = []
        by_market: dict[str, list[VenuePosition]] = {}
        for pos in self.ledger.positions():
            res = self.world.resolution(self.venue, pos.contract.market_id)
            if res is None:
                by_market.setdefault(pos.contract.market_id, []).append(pos)
                continue
            amount = self.ledger.pay_out(pos.contract, res.payout(pos.contract))
            out.append(Collected("redeem", pos.contract.market_id, (pos.contract,), amount))
        for market_id, held in by_market.items():
            if merge and len(held) == 2:
                pairs = min(p.contracts for p in held)
                a, b = held[0].contract, held[1].contract
                out.append(Collected("merge", market_id, (a, b), self.ledger.merge(a, b, pairs)))
        return out

    def returner(
        self,
        store: Store,
        notify: Callable[[Alert], Awaitable[None]],
        clock: Callable[[], datetime],
    ) -> SimReturner | None:
        """What brings this venue's money back: nothing to do where it pays by itself."""
        return None if self.pays_out else SimReturner(self, store, notify, clock)

    async def get_resolution(self, market_id: str) -> Resolution | None:
        return self.world.resolution(self.venue, market_id)

    def _advance(self) -> None:
        if self._follow_clock:
            self.world.sync()


@dataclass(frozen=True, slots=True)
class Collected:
    kind: str  # "redeem" | "merge"
    market_id: str
    contracts: tuple[Contract, ...]
    amount: Decimal


class SimReturner:
    """The simulator's redemption job: what ``capital.Redeemer`` does on chain, done on
    the simulated ledger and recorded the same way (confirmed redemption rows, the same
    MONEY BACK alert), so settlement, the capital view and reconciliation see one story."""

    def __init__(
        self,
        venue: SimVenue,
        store: Store,
        notify: Callable[[Alert], Awaitable[None]],
        clock: Callable[[], datetime],
    ) -> None:
        self.venue, self.store, self.notify, self.clock = venue, store, notify, clock
        self._seq = 0

    async def run_once(self) -> RedeemResult:
        result = RedeemResult()
        for got in self.venue.collect():
            if got.kind == "redeem" and got.amount == 0:
                continue  # a losing position: nothing comes back
            now = self.clock()
            self._seq += 1
            row_id = f"{got.kind}-sim-{got.market_id}-{now.timestamp():.0f}-{self._seq}"
            tokens = [
                position_key(c.venue, c.market_id, c.side, c.token_id)[0][1] for c in got.contracts
            ]
            await self.store.create_redemption(
                redemption_id=row_id,
                kind=got.kind,
                condition_id=got.market_id,
                neg_risk=False,
                route="sim",
                wallet="sim",
                tokens=tokens,
                amount_units=int(got.amount * 10**6) if got.kind == "merge" else 0,
                expected=got.amount,
                nonce=None,
                tx_hash="",
                signed="",
                now=now,
            )
            await self.store.update_redemption(
                row_id, RedemptionStatus.CONFIRMED, now, received=got.amount
            )
            row = await self.store.redemption(row_id)
            assert row is not None
            await self.notify(messages.money_back(row))
            result.confirmed += 1
            result.received += got.amount
        return result
