"""Finding a Polymarket US order whose answer was lost. No I/O.

The exchange has no client order id, so an order is found again by what it was: its
market, intent, long-side limit, quantity and time in force, and when it left. That
is written down before the order is sent: ``Lookup.key`` is the id ``prepare`` hands
the placer, which records it in the order's row before sending, so the lookup works
after a restart as well as in the process that sent it.

Where it is looked for (docs.polymarket.us): the open orders (``GET /v1/orders/open``;
the private stream's order snapshot is documented as the same "snapshot of open
orders", so it adds nothing after a restart), then the account's trades on the
market (``GET /v1/portfolio/activities``). A trade names no order and no intent, so
a trade is the order's only if it could be: taken by us (aggressor), on the market,
in the time the order could have reached the book, and at a price its limit allows
(a buyer of the long side pays at most the limit, a seller gets at least it); a
busted trade is no fill. A trade says nothing of its direction, so one the other
way inside the limit cannot be ruled out by itself. The trades that could be its must
also add up to what the order could fill (all of it for a FOK, at most all of it for
an IOC); when they do not, the order cannot be told apart from another one (a
manual trade alike, a second order) and the caller says "cannot tell" instead of
guessing, which keeps the order unknown and its pair blocked until a person looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from predarb.domain import ZERO, Contract, OrderRequest, TimeInForce
from predarb.venues.polymarket_us.intents import Intent, intent_for, long_side_price
from predarb.venues.polymarket_us.wire import WireOrder, WireTrade

PREFIX = "lookup:"
# The exchange's clock against ours: its createTime may run this far behind.
CLOCK_SLACK = timedelta(seconds=5)
# How long after it left an order may still reach the matching engine (past the
# unknown-order window of ``execution.unknown``, 5 minutes).
LATE_ARRIVAL = timedelta(minutes=6)
BUYS_LONG = (Intent.BUY_LONG, Intent.SELL_SHORT)


class CannotTell(ValueError):
    """The trades or orders that could be this order's cannot be told apart."""


@dataclass(frozen=True, slots=True)
class Lookup:
    """What an order of ours was, as the exchange will show it."""

    slug: str
    intent: Intent
    long_price: Decimal  # the limit, on the long side
    quantity: Decimal
    tif: TimeInForce
    at: datetime  # when it left (our clock)
    late: timedelta = LATE_ARRIVAL  # how long after ``at`` it may have executed

    @classmethod
    def of(cls, order: OrderRequest, at: datetime) -> Lookup:
        intent = intent_for(order.action, order.contract)
        return cls(
            order.contract.market_id,
            intent,
            long_side_price(intent, order.price),
            order.contracts,
            order.tif,
            at,
        )

    @classmethod
    def of_order(cls, wo: WireOrder) -> Lookup | None:
        """To find the trades of an order the exchange showed us: all it filled, in
        the moment it was made (ours execute at once); None without that moment."""
        if wo.created is None:
            return None
        fok = TimeInForce.FOK  # exactly what it filled
        return cls(wo.slug, wo.intent, wo.long_price, wo.filled, fok, wo.created, CLOCK_SLACK)

    @property
    def key(self) -> str:
        ms = int(self.at.timestamp() * 1000)
        fields = (str(ms), self.intent.name, str(self.long_price), str(self.quantity))
        return PREFIX + "|".join((*fields, self.tif.value, self.slug))

    @classmethod
    def parse(cls, text: str) -> Lookup | None:
        """The lookup a ``key`` describes; None for anything else (an order id)."""
        if not text.startswith(PREFIX):
            return None
        parts = text.removeprefix(PREFIX).split("|", 5)
        if len(parts) != 6 or not parts[5]:
            return None
        ms, intent, price, quantity, tif, slug = parts
        try:
            at = datetime.fromtimestamp(int(ms) / 1000, UTC)
            found = cls(
                slug, Intent[intent], Decimal(price), Decimal(quantity), TimeInForce(tif), at
            )
        except (ValueError, KeyError, InvalidOperation, OverflowError):
            return None
        if not (ZERO <= found.long_price <= 1 and found.quantity > 0):
            return None
        return found

    def request(self, client_order_id: str, contract: Contract) -> OrderRequest:
        """The order as it was sent (``contract``: the market's side of the intent)."""
        own = long_side_price(self.intent, self.long_price)
        return OrderRequest(
            client_order_id, contract, self.intent.action, own, self.quantity, self.tif
        )

    def _in_time(self, when: datetime | None) -> bool:
        # No time on the exchange's record: it may be the order's (never rule it out).
        return when is None or self.at - CLOCK_SLACK <= when <= self.at + self.late

    def is_order(self, wo: WireOrder) -> bool:
        """Whether the exchange's order ``wo`` may be this one."""
        return (
            wo.slug == self.slug
            and wo.intent is self.intent
            and wo.long_price == self.long_price
            and wo.quantity == self.quantity
            and self._in_time(wo.created)
        )

    def may_be_trade(self, t: WireTrade) -> bool:
        """Whether the account's trade ``t`` may be (part of) this order."""
        if t.slug != self.slug or t.busted or not t.aggressor or not self._in_time(t.ts):
            return False
        if self.intent in BUYS_LONG:
            return t.long_price <= self.long_price
        return t.long_price >= self.long_price

    def trades(self, trades: list[WireTrade]) -> list[WireTrade]:
        """The order's trades among ``trades`` (oldest first), none when nothing could
        be its. Raises ``CannotTell`` when those that could be its add up to more
        than it could fill, or (a FOK) to other than all of it."""
        mine = sorted(
            (t for t in trades if self.may_be_trade(t)),
            key=lambda t: t.ts or self.at,
        )
        total = sum((t.shares for t in mine), ZERO)
        if not mine:
            return []
        if total > self.quantity:
            raise CannotTell(
                f"{len(mine)} trades for {total} on {self.slug} could be an order of "
                f"{self.quantity}"
            )
        if self.tif is TimeInForce.FOK and total != self.quantity:
            raise CannotTell(
                f"trades for {total} on {self.slug} could be a fill-or-kill of {self.quantity}"
            )
        return mine
