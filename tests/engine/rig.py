"""A small market for engine tests: binary pairs between two scripted venues that
serve books (polled by the engine's real feeds, or fetched by ``scan``), fill orders
as their script says and keep a balance that fills spend. Each pair is its own event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from typing import Any

from predarb.app import post_trade
from predarb.config import Settings
from predarb.domain import (
    Action,
    Contract,
    FeeSchedule,
    Level,
    Market,
    OrderBook,
    OrderRequest,
    OrderResult,
    Pair,
    PairKind,
    Venue,
    World,
)
from predarb.engine import Engine
from predarb.notify.console import ConsoleNotifier
from predarb.store import Store
from predarb.venues.base import OrderRejected
from tests.fakes.scripted_venue import ScriptedVenue

D = Decimal
ARB_K, ARB_P = "0.40", "0.55"  # Kalshi YES + Polymarket NO: 0.95 before fees
FAIR_K, FAIR_P = "0.60", "0.55"  # 1.15: nothing to do


class Overdrawn(AssertionError):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class BookVenue(ScriptedVenue):
    """A scripted venue with books and markets; a fill spends its balance (a sale
    brings money back). An order the balance cannot pay is an overdraft, listed in
    ``overdrafts`` for the test to assert on. ``shards``: cash per exchange shard
    (Kalshi), when given, instead of one balance."""

    books: dict[Contract, OrderBook] = field(default_factory=dict)
    markets: list[Market] = field(default_factory=list)
    on_place: Callable[[OrderRequest], None] | None = None
    sent_at: list[float] = field(default_factory=list)  # loop time of each order
    overdrafts: list[str] = field(default_factory=list)
    gate: asyncio.Event | None = None  # when given, answers wait for it (the fill is done)
    clock: Callable[[], datetime] = field(default_factory=lambda: utcnow)  # book times
    shards: dict[int, Decimal] = field(default_factory=dict)
    refusing: bool = False  # every order refused before sending (its amounts, say)
    balance_gate: asyncio.Event | None = None  # when given, balance reads wait for it

    async def list_markets(self) -> list[Market]:
        return list(self.markets)

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        now = self.clock()
        return {
            c: OrderBook(b.contract, b.bids, b.asks, now)
            for c in contracts
            if (b := self.books.get(c))
        }

    async def get_shard_balances(self) -> dict[int, Decimal]:
        if self.balance_gate is not None:
            await self.balance_gate.wait()
        return dict(self.shards)

    async def prepare(self, order: OrderRequest) -> str:
        if self.refusing:
            raise OrderRejected(self.venue, "amounts the venue cannot take", code="invalid")
        return order.client_order_id

    async def place_order(self, order: OrderRequest) -> OrderResult:
        self.sent_at.append(asyncio.get_running_loop().time())
        if self.on_place is not None:
            self.on_place(order)
        result = await super().place_order(order)
        value = result.filled * order.price
        spent = (-value if order.action is Action.SELL else value) + result.fee
        if spent > self.balance:
            self.overdrafts.append(order.client_order_id)
        self.balance -= spent
        if self.gate is not None:
            await self.gate.wait()
        return result


@dataclass
class Market2:
    """One binary pair: a Kalshi market and a Polymarket market on the same event."""

    index: int

    @property
    def event(self) -> str:
        return f"Event {self.index}"

    @property
    def k_yes(self) -> Contract:
        return Contract(Venue.KALSHI, f"KXT-{self.index}", "yes")

    @property
    def k_no(self) -> Contract:
        return Contract(Venue.KALSHI, f"KXT-{self.index}", "no")

    @property
    def p_yes(self) -> Contract:
        return Contract(Venue.POLYMARKET, f"9{self.index}", "Yes", f"tok-{self.index}-y")

    @property
    def p_no(self) -> Contract:
        return Contract(Venue.POLYMARKET, f"9{self.index}", "No", f"tok-{self.index}-n")

    def pair(self) -> Pair:
        return Pair(
            pair_id=f"pair-{self.index}",
            kind=PairKind.BINARY,
            event=self.event,
            worlds=(World("yes", (self.k_yes, self.p_yes)), World("no", (self.k_no, self.p_no))),
            confidence=0.99,
            tradable=True,
        )

    def markets(self) -> list[Market]:
        k = Market(
            Venue.KALSHI,
            self.k_yes.market_id,
            self.event,
            self.event,
            (self.k_yes, self.k_no),
            fee=FeeSchedule(Venue.KALSHI, D("0.07")),
        )
        p = Market(
            Venue.POLYMARKET,
            self.p_yes.market_id,
            self.event,
            self.event,
            (self.p_yes, self.p_no),
            fee=FeeSchedule(Venue.POLYMARKET, D("0.04")),
        )
        return [k, p]


def book(contract: Contract, price: str, size: str = "20", bid: str | None = None) -> OrderBook:
    bids = (Level(D(bid), D(size)),) if bid is not None else ()
    return OrderBook(contract, bids, (Level(D(price), D(size)),), datetime.now(UTC))


@dataclass
class Rig:
    engine: Engine
    kalshi: BookVenue
    poly: BookVenue
    markets: list[Market2]
    console: ConsoleNotifier
    extra: dict[str, Any] = field(default_factory=dict)

    def set_books(
        self, m: Market2, k_yes: str, p_no: str, size: str = "20", *, bids: bool = False
    ) -> None:
        """``bids``: each leg's contract also bid 5 cents under its ask (an unwind can
        sell into it)."""

        def under(price: str) -> str | None:
            return str(D(price) - D("0.05")) if bids else None

        self.kalshi.books[m.k_yes] = book(m.k_yes, k_yes, size, under(k_yes))
        self.kalshi.books[m.k_no] = book(m.k_no, "0.70", size)
        self.poly.books[m.p_no] = book(m.p_no, p_no, size, under(p_no))
        self.poly.books[m.p_yes] = book(m.p_yes, "0.70", size)

    def arm(self, m: Market2, size: str = "20", *, bids: bool = False) -> None:
        self.set_books(m, ARB_K, ARB_P, size, bids=bids)

    def disarm(self, m: Market2) -> None:
        self.set_books(m, FAIR_K, FAIR_P)

    def orders_on(self, m: Market2) -> int:
        """Orders sent for ``m``'s legs, on both venues."""
        return sum(o.contract in (m.k_yes, m.p_no) for o in self.kalshi.placed + self.poly.placed)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "executor_max_bet": D(10),
        "executor_min_roi": D("0.5"),
        "executor_cooldown_s": 0,
        "executor_max_daily_trades": 10_000,
        "executor_max_daily_loss": D(1000),
        "executor_daily_partial_limit": 1000,
        "executor_max_exposure": D(100_000),
        "executor_min_platform_balance": D(0),
        "predarb_poll_interval_s": 0.1,
    }
    values.update(overrides)
    # Short cooldowns and scan intervals keep these tests fast; the bounds that stop a
    # user from hammering the venues are tested in tests/core/test_config.py.
    return Settings(_env_file=None).model_copy(update=values)


def rig(
    store: Store,
    n: int = 2,
    *,
    delay_s: float = 0.0,
    circuit_breakers: bool = False,
    market: Callable[[int], Market2] = Market2,
    clock: Callable[[], datetime] = utcnow,
    **overrides: Any,
) -> Rig:
    markets = [market(i) for i in range(n)]
    kalshi = BookVenue(Venue.KALSHI, delay_s=delay_s, clock=clock)
    poly = BookVenue(Venue.POLYMARKET, delay_s=delay_s, clock=clock)
    for m in markets:
        k, p = m.markets()
        kalshi.markets.append(k)
        poly.markets.append(p)
    console = ConsoleNotifier(StringIO())
    engine = Engine(
        settings(**overrides),
        store,
        {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly},
        console,
        mode="paper",
        pairs=[m.pair() for m in markets],
        circuit_breakers=circuit_breakers,
        clock=clock,
    )
    post_trade(engine)
    out = Rig(engine, kalshi, poly, markets, console)
    for m in markets:
        out.disarm(m)
    return out
