"""The one async interface every venue adapter implements.

Adapters convert wire formats to ``predarb.domain`` types at the edge; nothing past
them sees a venue's JSON. Errors are the small hierarchy below, carrying the venue's
own code and message.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from decimal import Decimal

from predarb.domain import (
    Contract,
    Fill,
    Market,
    OrderBook,
    OrderRequest,
    OrderResult,
    Resolution,
    Venue,
    VenuePosition,
)


class VenueError(Exception):
    """A venue answered with an error, or could not be reached."""

    def __init__(
        self, venue: Venue | str, message: str, *, code: str = "", status: int | None = None
    ) -> None:
        self.venue = str(venue)
        self.code = code
        self.status = status
        self.message = message
        super().__init__(f"{self.venue}: {code + ': ' if code else ''}{message}")


class VenueUnavailable(VenueError):
    """Transient: timeout, connection error, 5xx, 425. Safe to retry reads."""


class RateLimited(VenueUnavailable):
    """HTTP 429."""


class AuthError(VenueError):
    """Credentials missing, wrong or refused (401/403)."""


class BadResponse(VenueError):
    """The venue answered with a body we cannot trust (malformed, wrong types, absurd
    values). Never turned into a price or an order."""


class OrderRejected(VenueError):
    """The venue refused the order (FOK not fillable, invalid price, balance...)."""


class OrderStateUnknown(VenueError):
    """An order was sent and no answer came back: look it up, never resend it."""


class NotFound(VenueError):
    """404: unknown market, order or token."""


class VenueClient(abc.ABC):
    """Market data and trading on one venue. One instance per venue, shared."""

    venue: Venue

    @abc.abstractmethod
    async def list_markets(self) -> list[Market]:
        """Every open market the bot may consider (all pages)."""

    @abc.abstractmethod
    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        """Current depth for each contract. A contract whose book could not be read or
        parsed is left out (and logged) rather than guessed."""

    async def get_order_book(self, contract: Contract) -> OrderBook | None:
        return (await self.get_order_books([contract])).get(contract)

    @abc.abstractmethod
    async def place_order(self, order: OrderRequest) -> OrderResult:
        """Send one order. Raises ``OrderStateUnknown`` when the reply was lost; the
        caller then uses ``get_order`` with the same client order id."""

    async def place_orders(self, orders: Sequence[OrderRequest]) -> list[OrderResult | VenueError]:
        """Send several orders of one execution at the same moment. Each answer is the
        order's result, or the ``VenueError`` its ``place_order`` would have raised (a
        lost reply: ``OrderStateUnknown``). By default one request each, side by side; a
        venue with a batch endpoint sends them in one request."""

        async def one(order: OrderRequest) -> OrderResult | VenueError:
            try:
                return await self.place_order(order)
            except VenueError as exc:
                return exc

        return list(await asyncio.gather(*(one(order) for order in orders)))

    async def prepare(self, order: OrderRequest) -> str:
        """The id the venue will know ``order`` by, when it can be known before sending
        (the placer records it first, so a restart can look the order up). By default
        the venue knows orders by their client order id.

        Raises ``OrderRejected`` when the venue would certainly refuse the order (its
        amounts or price cannot be expressed there): the placer then sends none of the
        execution's legs."""
        return order.client_order_id

    @abc.abstractmethod
    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        """The order's state as the venue knows it, or ``None`` if it never arrived."""

    @abc.abstractmethod
    async def cancel_order(self, venue_order_id: str) -> None:
        """Cancel a resting order; an order already gone is not an error."""

    async def open_orders(self) -> list[OrderResult]:
        """Resting orders (recovery cancels those left from an earlier run)."""
        return []

    async def get_fills(self, client_order_id: str = "") -> list[Fill]:
        return []

    @abc.abstractmethod
    async def get_balance(self) -> Decimal:
        """Cash available for new orders, in dollars."""

    def order_rate(self) -> tuple[int, float] | None:
        """How many new orders the venue takes per how many seconds (the limit this
        client keeps to, within the venue's documented one), or None when no order
        reaches a venue (paper) or the limit is unknown. The trading state reserves
        each execution's orders against it before approving one."""
        return None

    async def get_shard_balances(self) -> dict[int, Decimal]:
        """Cash on each exchange shard, for a venue that holds collateral per shard
        (Kalshi): an order is paid from its market's shard only. Empty for the others."""
        return {}

    @abc.abstractmethod
    async def get_positions(self) -> list[VenuePosition]: ...

    @abc.abstractmethod
    async def get_resolution(self, market_id: str) -> Resolution | None:
        """The final result, or ``None`` while the market is unresolved."""

    async def connect(self) -> None:
        """Get ready to trade (e.g. derive API credentials); called once at start.
        Raises ``AuthError`` when the venue refuses the configured keys."""
        return None

    async def health(self) -> bool:
        """A cheap probe used by the circuit breaker."""
        return True

    async def close(self) -> None:
        """Release connections."""
        return None
