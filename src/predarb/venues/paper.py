"""Simulated order execution against a venue's real (or simulated) books.

``PaperVenue`` reads every piece of market data from a source ``VenueClient`` (a live
adapter in paper mode, a ``SimVenue`` in the demo) and fills orders in memory: after a
latency it re-reads the book and takes only what the book offers at the limit. It relies on
nothing but the ``VenueClient`` interface of the source.

``PaperLedger`` and ``check_order`` are the bookkeeping shared with ``SimVenue``: order
validation, FOK/IOC semantics, per-fill fees, cash and positions, idempotent client ids.
A Polymarket BUY is a market order there as on the CLOB: it spends count × limit, and
levels below the limit give surplus shares.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from predarb.arbitrage import precision
from predarb.arbitrage.fees import taker_fee, trade_fee
from predarb.domain import (
    CENT,
    ONE,
    ZERO,
    Action,
    Contract,
    FeeSchedule,
    Fill,
    Level,
    Market,
    MarketStatus,
    OrderBook,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Resolution,
    TimeInForce,
    Venue,
    VenuePosition,
)
from predarb.venues.base import VenueClient, VenueError
from predarb.venues.paper_journal import PaperJournal

if TYPE_CHECKING:
    from predarb.marketdata import BookCache, BookStream

log = logging.getLogger(__name__)

FOK_KILLED = "fill_or_kill_insufficient_resting_volume"
HALF = Decimal("0.5")
SHARE_UNIT = Decimal("0.000001")  # Polymarket amounts: 6-dp base units


def check_order(order: OrderRequest, market: Market | None) -> tuple[str, str] | None:
    """Why a venue would refuse this order outright, as ``(error_code, message)``."""
    if market is None:
        return "market_not_found", f"unknown market {order.contract.market_id}"
    if market.status is not MarketStatus.OPEN:
        return "market_closed", f"market {market.market_id} is {market.status.value}"
    if order.contract not in market.contracts:
        return "invalid_contract", f"{order.contract.key} is not in {market.market_id}"
    if order.tif is TimeInForce.GTC:
        return "unsupported_time_in_force", "simulated venues only take FOK and IOC orders"
    if not order.contracts.is_finite() or order.contracts < market.min_order_size:
        return "below_min_order_size", f"minimum is {market.min_order_size} contracts"
    price = order.price
    if not price.is_finite() or not market.tick_size <= price <= ONE - market.tick_size:
        return "invalid_price", f"price {price} outside [tick, 1 - tick]"
    if price % market.tick_size != 0:
        return "invalid_price", f"price {price} is not on the {market.tick_size} grid"
    # Both venues count in hundredths of a contract (Kalshi's fixed-point counts,
    # Polymarket's 2-decimal sizes); Polymarket's market orders also cap the decimals
    # of their amounts (``precision``).
    if order.contracts != order.contracts.quantize(CENT):
        return "invalid_count", f"{order.contracts} contracts: at most 2 decimals"
    if market.venue is Venue.POLYMARKET:
        why = precision.refusal(order.action, order.contracts, price, market.tick_size)
        if why is not None:
            return "invalid_amounts", why
    return None


def take_levels(
    levels: Sequence[Level], action: Action, limit: Decimal, contracts: Decimal
) -> list[Level]:
    """The levels a taker order consumes, best first, never past its limit price."""
    taken: list[Level] = []
    left = contracts
    for level in levels:
        if left <= 0:
            break
        beyond = level.price > limit if action is Action.BUY else level.price < limit
        if beyond:
            break
        size = min(level.size, left)
        if size > 0:
            taken.append(Level(level.price, size))
            left -= size
    return taken


def spend_levels(levels: Sequence[Level], limit: Decimal, budget: Decimal) -> list[Level]:
    """The levels a Polymarket market BUY consumes, best first, never past its limit:
    it spends ``budget`` (count × limit) in full, each level giving the shares the money
    left buys at its price (6-dp base units), so levels cheaper than the limit give
    surplus shares, as on the CLOB (ctf-exchange ``_updateTakingWithSurplus``)."""
    taken: list[Level] = []
    left = budget
    for level in levels:
        if left <= 0 or level.price > limit:
            break
        size = min(level.size, (left / level.price).quantize(SHARE_UNIT, rounding=ROUND_DOWN))
        if size > 0:
            taken.append(Level(level.price, size))
            left -= size * level.price
    return taken


class PaperLedger:
    """Cash, positions, orders and fills of one simulated account on one venue."""

    def __init__(
        self,
        venue: Venue,
        balance: Decimal,
        clock: Callable[[], datetime],
        journal: PaperJournal | None = None,
    ) -> None:
        """``balance`` is the starting cash of a new account; with a ``journal`` that
        already holds this venue's account, the account goes on from there."""
        if not balance.is_finite() or balance < 0:
            raise ValueError(f"bad starting balance {balance}")
        self.venue = venue
        self.balance = balance
        self._clock = clock
        self._journal = journal
        self._positions: dict[Contract, VenuePosition] = {}
        self._orders: dict[str, OrderResult] = {}
        self._fills: list[Fill] = []
        self._seq = 0
        # Ids must not repeat after a restart on the same database: a fill id already
        # stored (the key is venue + fill id) would hide the new fill.
        self._run = uuid.uuid4().hex[:8]
        saved = journal.load(venue) if journal is not None else None
        if saved is not None:
            self.balance, self._seq = saved.balance, saved.seq
            self._positions = saved.positions
            self._orders = saved.orders
            self._fills = [f for r in saved.orders.values() for f in r.fills]
        elif journal is not None:
            self._save()

    def _save(self, orders: Sequence[OrderResult] = (), contracts: Sequence[Contract] = ()) -> None:
        """What changed, on disk before the caller sees the result."""
        if self._journal is not None:
            self._journal.save(
                self.venue,
                self.balance,
                self._seq,
                orders=orders,
                positions=[(c, self._positions.get(c)) for c in contracts],
            )

    def known(self, client_order_id: str) -> OrderResult | None:
        return self._orders.get(client_order_id)

    def positions(self) -> list[VenuePosition]:
        return list(self._positions.values())

    def pay_out(self, contract: Contract, per_contract: Decimal) -> Decimal:
        """A resolved position paid out (redeemed): gone from the positions, its payout
        in the balance."""
        held = self._positions.pop(contract, None)
        if held is None:
            return ZERO
        amount = held.contracts * per_contract
        self.balance += amount
        self._save(contracts=[contract])
        return amount

    def merge(self, a: Contract, b: Contract, pairs: Decimal) -> Decimal:
        """``pairs`` of two complementary contracts turned back into $1 each."""
        for contract in (a, b):
            held = self._positions[contract]
            left = held.contracts - pairs
            if left == 0:
                self._positions.pop(contract)
            else:
                after = replace(held, contracts=left, cost=held.cost * left / held.contracts)
                self._positions[contract] = after
        self.balance += pairs
        self._save(contracts=[a, b])
        return pairs

    def fills(self, client_order_id: str = "") -> list[Fill]:
        return [
            f for f in self._fills if not client_order_id or f.client_order_id == client_order_id
        ]

    def finish(self, order: OrderRequest, status: OrderStatus, code: str, msg: str) -> OrderResult:
        """Record an order that filled nothing (rejected or killed)."""
        result = OrderResult(
            order.client_order_id,
            status,
            venue_order_id=self._next_id(),
            error_code=code,
            error=msg,
        )
        self._orders[order.client_order_id] = result
        self._save([result])
        return result

    def affordable(self, order: OrderRequest, fee: FeeSchedule | None) -> tuple[str, str] | None:
        """Whether the account can pay for (BUY) or deliver (SELL) the whole order."""
        if order.action is Action.BUY:
            # p(1 - p) peaks at 0.5, so no fill at or below the limit costs a higher fee;
            # a fee on the premium (Polymarket US) is highest at the limit itself.
            worst_fee = max(
                taker_fee(fee, order.contracts, min(order.price, HALF)),
                taker_fee(fee, order.contracts, order.price),
            )
            if self._market_buy(order) and fee is not None:
                # Surplus shares pay fees too: per dollar spent at p the fee is
                # rate × (p(1 − p))^e / p, never above the rate itself.
                worst_fee = max(worst_fee, fee.rate * order.price * order.contracts)
            need = order.price * order.contracts + worst_fee
            if need > self.balance:
                return "insufficient_balance", f"needs {need}, balance is {self.balance}"
            return None
        held = self._positions.get(order.contract)
        if held is None or held.contracts < order.contracts:
            return "insufficient_position", f"holds {held.contracts if held else ZERO} contracts"
        return None

    def execute(
        self, order: OrderRequest, levels: Sequence[Level], fee: FeeSchedule | None
    ) -> tuple[OrderResult, list[Level]]:
        """Fill ``order`` against ``levels`` (the side of the book it takes from).

        Returns the result and the levels it took, which the caller removes from its book.
        The caller has already checked the order with ``check_order`` and ``affordable``.
        """
        if self._market_buy(order):
            budget = order.contracts * order.price
            taken = spend_levels(levels, order.price, budget)
            reach = sum((lv.price * lv.size for lv in levels if lv.price <= order.price), ZERO)
            short = reach < budget
        else:
            taken = take_levels(levels, order.action, order.price, order.contracts)
            short = sum((lv.size for lv in taken), ZERO) < order.contracts
        filled = sum((lv.size for lv in taken), ZERO)
        if order.tif is TimeInForce.FOK and short:
            msg = f"only {filled} of {order.contracts} available at {order.price}"
            return self.finish(order, OrderStatus.CANCELED, FOK_KILLED, msg), []
        if filled == 0:
            msg = f"nothing available at {order.price}"
            return self.finish(order, OrderStatus.CANCELED, "no_resting_volume", msg), []
        now = self._clock()
        venue_order_id = self._next_id()
        fills = tuple(
            Fill(
                fill_id=f"{venue_order_id}-{i}",
                client_order_id=order.client_order_id,
                contract=order.contract,
                action=order.action,
                price=lv.price,
                contracts=lv.size,
                fee=trade_fee(fee, order.action, lv.size, lv.price),
                ts=now,
            )
            for i, lv in enumerate(taken)
        )
        notional = sum((f.price * f.contracts for f in fills), ZERO)
        fees = sum((f.fee for f in fills), ZERO)
        self._book_position(order, filled, notional, fees)
        result = OrderResult(
            order.client_order_id,
            OrderStatus.FILLED if filled >= order.contracts else OrderStatus.PARTIAL,
            venue_order_id=venue_order_id,
            filled=filled,
            avg_price=notional / filled,
            fee=fees,
            fills=fills,
        )
        self._orders[order.client_order_id] = result
        self._fills.extend(fills)
        self._save([result], [order.contract])
        return result, taken

    def _market_buy(self, order: OrderRequest) -> bool:
        """A Polymarket FOK/FAK BUY: a market order that spends its money in full."""
        return self.venue is Venue.POLYMARKET and order.action is Action.BUY

    def _book_position(
        self, order: OrderRequest, filled: Decimal, notional: Decimal, fees: Decimal
    ) -> None:
        held = self._positions.get(order.contract, VenuePosition(order.contract, ZERO))
        if order.action is Action.BUY:
            self.balance -= notional + fees
            after = replace(held, contracts=held.contracts + filled, cost=held.cost + notional)
        else:
            self.balance += notional - fees
            left = held.contracts - filled
            after = replace(held, contracts=left, cost=held.cost * left / held.contracts)
        if after.contracts == 0:
            self._positions.pop(order.contract, None)
        else:
            self._positions[order.contract] = after

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self.venue.value}-paper-{self._run}-{self._seq}"


class PaperVenue(VenueClient):
    """Live (or simulated) market data from ``source``; orders filled in the paper ledger.

    An order waits ``latency_s`` (through ``sleep``: the time it would take to reach the
    venue), then meets the book as it is then and takes only what it offers at the limit,
    net of what earlier paper orders took in the last ``consumed_ttl_s``: the streamed book
    (``use_books``) while the venue's stream is live, else a fresh REST read. A move in
    flight can so kill a FOK leg or fill it at other prices than those seen. With
    probability ``fail_rate`` the fill is killed as if the book had moved. Client order
    ids are idempotent. With a ``journal`` the ledger survives restarts. A market's paper
    positions are paid out when its result is read (``get_resolution``). The venue owns
    ``source`` and closes it.
    """

    def __init__(
        self,
        source: VenueClient,
        *,
        balance: Decimal,
        latency_s: float = 0.05,
        fail_rate: float = 0.0,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        consumed_ttl_s: float = 10.0,
        journal: PaperJournal | None = None,
    ) -> None:
        if latency_s < 0 or not 0 <= fail_rate <= 1 or consumed_ttl_s < 0:
            raise ValueError("latency_s and consumed_ttl_s must be >= 0, fail_rate in [0, 1]")
        self.source = source
        self.venue = source.venue
        self._latency_s = latency_s
        self._fail_rate = fail_rate
        self._rng = rng or random.Random()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._ttl = timedelta(seconds=consumed_ttl_s)
        self._journal = journal
        self._starting_balance = balance
        self.ledger = PaperLedger(self.venue, balance, self._clock, journal)
        self._books: BookCache | None = None
        self._markets: dict[str, Market] = {}
        self._inflight: dict[str, asyncio.Event] = {}
        # (contract key, "asks" | "bids", price) -> [(expires, size)]
        self._consumed: dict[tuple[str, str, Decimal], list[tuple[datetime, Decimal]]] = {}

    def keep_ledger(self, journal: PaperJournal) -> None:
        """From now on the ledger is ``journal``'s (loaded from it when it holds this
        venue's account): call it before the first order."""
        self._journal = journal
        self.ledger = PaperLedger(self.venue, self._starting_balance, self._clock, journal)

    def use_books(self, cache: BookCache) -> None:
        """Fill against ``cache``'s books while this venue's stream keeps it live (the
        engine's cache: the same books the calculator priced, as they are now)."""
        self._books = cache

    def book_stream(self, **kwargs: Any) -> BookStream | None:
        """The source's stream, when it has one: paper reads the markets as live does."""
        factory = getattr(self.source, "book_stream", None)
        if factory is None:
            return None
        stream: BookStream | None = factory(**kwargs)
        return stream

    async def list_markets(self) -> list[Market]:
        markets = await self.source.list_markets()
        self._markets.update((m.market_id, m) for m in markets)
        return markets

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        books = await self.source.get_order_books(contracts)
        return {c: self._net(b) for c, b in books.items()}

    async def get_resolution(self, market_id: str) -> Resolution | None:
        """The venue's result; the paper positions in that market are paid out by it
        (once: a paid position is gone)."""
        resolution = await self.source.get_resolution(market_id)
        if resolution is not None:
            self._pay_out(resolution)
        return resolution

    def _pay_out(self, resolution: Resolution) -> None:
        for pos in self.ledger.positions():
            if pos.contract.market_id != resolution.market_id:
                continue
            try:
                per = resolution.payout(pos.contract)
            except KeyError:
                if not resolution.void:
                    log.warning("paper: no payout for %s", pos.contract.key)
                    continue
                per = pos.cost / pos.contracts  # a void without payouts refunds the cost
            self.ledger.pay_out(pos.contract, per)

    async def get_balance(self) -> Decimal:
        return self.ledger.balance

    async def get_positions(self) -> list[VenuePosition]:
        return self.ledger.positions()

    async def get_fills(self, client_order_id: str = "") -> list[Fill]:
        return self.ledger.fills(client_order_id)

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        if client_order_id in self._inflight:
            return OrderResult(client_order_id, OrderStatus.PENDING)
        return self.ledger.known(client_order_id)

    async def cancel_order(self, venue_order_id: str) -> None:
        """Paper orders never rest, so there is nothing to cancel."""

    async def health(self) -> bool:
        return await self.source.health()

    async def connect(self) -> None:
        """The source's market-data upkeep (Kalshi keeps its announced fee changes
        fresh); a public source has no keys to prove."""
        await self.source.connect()

    def watch_markets(self, watcher: Callable[[str, Sequence[Market]], None]) -> None:
        """The source's market changes (Kalshi: lifecycle news, fees re-priced), for
        the engine and for the paper fills alike."""
        watch = getattr(self.source, "watch_markets", None)
        if not callable(watch):
            return

        def changed(kind: str, markets: Sequence[Market]) -> None:
            self._markets.update((m.market_id, m) for m in markets if m.market_id in self._markets)
            watcher(kind, markets)

        watch(changed)

    async def close(self) -> None:
        await self.source.close()
        if self._journal is not None:
            self._journal.close()  # shared by the venues: closing twice is harmless

    async def place_order(self, order: OrderRequest) -> OrderResult:
        coid = order.client_order_id
        while (pending := self._inflight.get(coid)) is not None:
            await pending.wait()
        if (known := self.ledger.known(coid)) is not None:
            return known
        done = self._inflight[coid] = asyncio.Event()
        try:
            return await self._place(order)
        finally:
            del self._inflight[coid]
            done.set()

    async def _place(self, order: OrderRequest) -> OrderResult:
        market = await self._market(order.contract)
        if (refusal := check_order(order, market)) is not None:
            return self.ledger.finish(order, OrderStatus.REJECTED, *refusal)
        assert market is not None  # check_order refuses unknown markets
        if self._latency_s:
            await self._sleep(self._latency_s)
        try:
            book = self._streamed(order.contract) or await self.source.get_order_book(
                order.contract
            )
        except VenueError as exc:
            log.warning("paper: book unreadable", extra={"contract": order.contract.key})
            return self.ledger.finish(order, OrderStatus.CANCELED, "book_unavailable", str(exc))
        # From here to the end nothing awaits: checking, filling and remembering the
        # consumed size happen as one step, so concurrent orders never fill the same size.
        fee = market.fee_at(self._clock())  # the fee in force now (schedules change it)
        if (refusal := self.ledger.affordable(order, fee)) is not None:
            return self.ledger.finish(order, OrderStatus.REJECTED, *refusal)
        if self._fail_rate and self._rng.random() < self._fail_rate:
            msg = "simulated: the book moved before the order arrived"
            return self.ledger.finish(order, OrderStatus.CANCELED, FOK_KILLED, msg)
        if book is None:
            return self.ledger.finish(order, OrderStatus.CANCELED, "book_unavailable", "no book")
        book = self._net(book)
        levels = book.asks if order.action is Action.BUY else book.bids
        result, taken = self.ledger.execute(order, levels, fee)
        self._remember(market, order, taken)
        log.info(
            "paper order",
            extra={"client_order_id": order.client_order_id, "status": result.status.value},
        )
        return result

    def _streamed(self, contract: Contract) -> OrderBook | None:
        cache = self._books
        if cache is None or contract.venue not in cache.live:
            return None
        return cache.books.get(contract)

    async def _market(self, contract: Contract) -> Market | None:
        if contract.market_id not in self._markets:
            await self.list_markets()
        return self._markets.get(contract.market_id)

    def _remember(self, market: Market, order: OrderRequest, taken: Sequence[Level]) -> None:
        """Remember what was taken; buying one side of a two-sided market also takes the
        mirror offer (a YES ask at p is a NO bid at 1 - p on both venues)."""
        now = self._clock()
        for key in [k for k, v in self._consumed.items() if all(t <= now for t, _ in v)]:
            del self._consumed[key]
        expires = now + self._ttl
        own = "asks" if order.action is Action.BUY else "bids"
        mirror = "bids" if own == "asks" else "asks"
        others = [c for c in market.contracts if c != order.contract]
        for lv in taken:
            self._consumed.setdefault((order.contract.key, own, lv.price), []).append(
                (expires, lv.size)
            )
            if len(market.contracts) == 2:
                key = (others[0].key, mirror, ONE - lv.price)
                self._consumed.setdefault(key, []).append((expires, lv.size))

    def _net(self, book: OrderBook) -> OrderBook:
        return replace(
            book,
            bids=self._net_side(book.contract, "bids", book.bids),
            asks=self._net_side(book.contract, "asks", book.asks),
        )

    def _net_side(
        self, contract: Contract, side: str, levels: Sequence[Level]
    ) -> tuple[Level, ...]:
        now = self._clock()
        out: list[Level] = []
        for lv in levels:
            key = (contract.key, side, lv.price)
            live = [(t, s) for t, s in self._consumed.get(key, ()) if t > now]
            if live:
                self._consumed[key] = live
            else:
                self._consumed.pop(key, None)
            size = lv.size - sum((s for _, s in live), ZERO)
            if size > 0:
                out.append(Level(lv.price, size))
        return tuple(out)
