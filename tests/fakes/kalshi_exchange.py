"""The state behind the fake Kalshi (``kalshi_server.FakeKalshi``): markets, events,
series, order books, the account, and a matching engine for V2 orders. No HTTP here;
every method returns wire-shaped dicts (fixed-point strings, as Kalshi emits them).

Exchange shards (venue-apis 0.1, Kalshi 1): every market lives on its event's
``exchange_index`` and collateral is checked inside that shard: an order is paid from
its shard's balance only (``balances`` by shard), a cancel looks on one shard (the one
named, the market's when routed by ticker, else 0), and money moves between shards by
transfers that stay ``pending`` for ``transfer_pending_reads`` status reads.

Fees follow the series' schedule (``series_fee_changes``): a scheduled change applies
from its ``scheduled_ts`` on.

Book model: other traders' resting bids per market, YES bids and NO bids (NO-leg
prices). A V2 ``bid`` at p buys YES from NO bids q with 1 − q ≤ p; an ``ask`` at p
sells YES into YES bids y ≥ p (it buys NO at 1 − y). Fills happen at the resting
price. The taker pays ``ceil_0.0001(M × 0.07 × C × P × (1 − P))`` per fill.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import Any

ZERO, ONE = Decimal(0), Decimal(1)
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
CUTOFF_FIELDS = (
    "market_settled_ts",
    "trades_created_ts",
    "orders_updated_ts",
    "market_positions_last_updated_ts",
)
CENTICENT = Decimal("0.0001")
TAKER = Decimal("0.07")


class Refusal(Exception):
    """An order the exchange refuses: HTTP status and nested error code."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.details = status, code, message, details


def d4(x: Decimal) -> str:
    return f"{x.quantize(CENTICENT):.4f}"


def d6(x: Decimal) -> str:
    return f"{x.quantize(Decimal('0.000001')):.6f}"


def fp(x: Decimal) -> str:
    return f"{x.quantize(Decimal('0.01')):.2f}"


def rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def taker_fee(contracts: Decimal, yes_price: Decimal, multiplier: Decimal = ONE) -> Decimal:
    raw = multiplier * TAKER * contracts * yes_price * (ONE - yes_price)
    return raw.quantize(CENTICENT, rounding=ROUND_CEILING)


@dataclass
class Order:
    order_id: str
    client_order_id: str
    ticker: str
    book_side: str  # bid | ask
    yes_price: Decimal  # the limit
    initial: Decimal
    tif: str
    stp: str
    created: datetime
    filled: Decimal = ZERO
    remaining: Decimal = ZERO
    status: str = "resting"
    cost: Decimal = ZERO  # paid for the outcome bought (YES for bid, NO for ask)
    fees: Decimal = ZERO
    updated: datetime | None = None
    exchange_index: int = 0

    def wire(self) -> dict[str, Any]:
        outcome = "yes" if self.book_side == "bid" else "no"
        return {
            "action": "buy",
            "book_side": self.book_side,
            "client_order_id": self.client_order_id,
            "created_time": rfc3339(self.created),
            "exchange_index": self.exchange_index,
            "fill_count_fp": fp(self.filled),
            "initial_count_fp": fp(self.initial),
            "last_update_time": rfc3339(self.updated or self.created),
            "maker_fees_dollars": d6(ZERO),
            "maker_fill_cost_dollars": d6(ZERO),
            "no_price_dollars": d4(ONE - self.yes_price),
            "order_id": self.order_id,
            "outcome_side": outcome,
            "remaining_count_fp": fp(self.remaining),
            "self_trade_prevention_type": self.stp,
            "side": outcome,
            "status": self.status,
            "subaccount_number": 0,
            "taker_fees_dollars": d6(self.fees),
            "taker_fill_cost_dollars": d6(self.cost),
            "ticker": self.ticker,
            "type": "limit",
            "user_id": "00000000-0000-0000-0000-000000000000",
            "yes_price_dollars": d4(self.yes_price),
        }


@dataclass
class Book:
    yes: dict[Decimal, Decimal] = field(default_factory=dict)  # others' YES bids
    no: dict[Decimal, Decimal] = field(default_factory=dict)  # others' NO bids


@dataclass
class Position:
    contracts: Decimal = ZERO  # signed: + YES, − NO
    cost: Decimal = ZERO
    fees: Decimal = ZERO
    traded: Decimal = ZERO


class Exchange:
    def __init__(self) -> None:
        self.markets: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.series: dict[str, dict[str, Any]] = {}
        self.books: dict[str, Book] = {}
        self.orders: dict[str, Order] = {}
        self.client_ids: set[str] = set()  # permanent per account, even after cancel
        self.fills: list[dict[str, Any]] = []
        self.positions: dict[str, Position] = {}
        self.settlements: list[dict[str, Any]] = []
        self.balances: dict[int, Decimal] = {0: Decimal("1000")}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.transfer_pending_reads = 1  # status reads that still say "pending"
        self.series_fee_changes: list[dict[str, Any]] = []
        self.event_fee_changes: list[dict[str, Any]] = []
        self.archived: set[str] = set()  # tickers served by /historical only
        # The live window's edges (``GET /historical/cutoff``): what was done before
        # them is served by /historical only. At first nothing is that old.
        self.cutoffs: dict[str, datetime] = dict.fromkeys(CUTOFF_FIELDS, EPOCH)
        # Told of every order change ("user_order", Order) and fill ("fill", REST fill
        # body): the WebSocket fake's account channels.
        self.listeners: list[Callable[[str, Any], None]] = []
        self._seq = itertools.count(1)

    @property
    def balance(self) -> Decimal:
        """Shard 0's cash (where every account's money starts)."""
        return self.balances.get(0, ZERO)

    @balance.setter
    def balance(self, value: Decimal) -> None:
        self.balances[0] = value

    def shard_of(self, ticker: str) -> int:
        return int(self.markets[ticker].get("exchange_index", 0))

    # --- the live window (``getting_started/historical_data``) ---------------------------

    def market_archived(self, ticker: str) -> bool:
        """Settled before ``market_settled_ts`` (or archived by hand)."""
        settled = self.markets[ticker].get("settlement_ts")
        old = settled is not None and _parse_ts(settled) < self.cutoffs["market_settled_ts"]
        return ticker in self.archived or old

    def order_archived(self, order: Order) -> bool:
        """Canceled or executed before ``orders_updated_ts``: resting orders never are."""
        if order.status == "resting":
            return False
        done = order.updated or order.created
        return order.ticker in self.archived or done < self.cutoffs["orders_updated_ts"]

    def fill_archived(self, fill: dict[str, Any]) -> bool:
        """Filled before ``trades_created_ts``."""
        old = _parse_ts(fill["created_time"]) < self.cutoffs["trades_created_ts"]
        return fill["ticker"] in self.archived or old

    # --- seeding ---------------------------------------------------------------------

    def add_market(self, market: dict[str, Any]) -> dict[str, Any]:
        ticker, event_ticker = market["ticker"], market["event_ticker"]
        self.markets[ticker] = market
        self.books.setdefault(ticker, Book())
        series = event_ticker.split("-", 1)[0]
        self.events.setdefault(
            event_ticker,
            {
                "event_ticker": event_ticker,
                "series_ticker": series,
                "title": market.get("title") or event_ticker,
                "sub_title": "",
                "collateral_return_type": "",
                "mutually_exclusive": False,
                "settlement_sources": [],
                "exchange_index": market.get("exchange_index", 0),
            },
        )
        self.series.setdefault(
            self.events[event_ticker]["series_ticker"],
            {"ticker": series, "title": series, "fee_type": "quadratic", "fee_multiplier": 1},
        )
        return market

    def set_book(self, ticker: str, yes: list[tuple[Any, Any]], no: list[tuple[Any, Any]]) -> None:
        self.books[ticker] = Book(
            {Decimal(str(p)): Decimal(str(s)) for p, s in yes},
            {Decimal(str(p)): Decimal(str(s)) for p, s in no},
        )

    def emit(self, kind: str, payload: Any) -> None:
        for listener in list(self.listeners):
            listener(kind, payload)

    def fee_multiplier(self, ticker: str, now: datetime | None = None) -> Decimal:
        """The taker fee multiplier now: none while the market's fee waiver runs, else
        the event's override (``fee_multiplier_override``), else the series' fee with
        its scheduled changes."""
        market = self.markets[ticker]
        waiver = market.get("fee_waiver_expiration_time")
        if waiver and (now is None or now < _parse_ts(waiver)):
            return ZERO
        event = self.events.get(market["event_ticker"], {})
        override = event.get("fee_multiplier_override")
        if override is not None:
            return Decimal(str(override))
        name = event.get("series_ticker", "")
        mult = self.series.get(name, {}).get("fee_multiplier", 1)
        for change in sorted(self.series_fee_changes, key=lambda c: c["scheduled_ts"]):
            due = datetime.fromisoformat(change["scheduled_ts"].replace("Z", "+00:00"))
            if change["series_ticker"] == name and (now is None or due <= now):
                mult = change["fee_multiplier"]
        return Decimal(str(mult))

    # --- views -----------------------------------------------------------------------

    def ladders(self, ticker: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """YES and NO bid ladders, others' liquidity plus our own resting orders."""
        book = self.books.get(ticker, Book())
        yes, no = dict(book.yes), dict(book.no)
        for o in self.orders.values():
            if o.ticker == ticker and o.status == "resting":
                side, p = (yes, o.yes_price) if o.book_side == "bid" else (no, ONE - o.yes_price)
                side[p] = side.get(p, ZERO) + o.remaining
        return yes, no

    def orderbook(self, ticker: str, depth: int = 0) -> dict[str, Any]:
        def ladder(levels: dict[Decimal, Decimal]) -> list[list[str]]:
            best = sorted((p, s) for p, s in levels.items() if s > 0)
            best = best[-depth:] if depth else best
            return [[d4(p), fp(s)] for p, s in best]

        yes, no = self.ladders(ticker)
        return {"yes_dollars": ladder(yes), "no_dollars": ladder(no)}

    def market(self, ticker: str) -> dict[str, Any]:
        out = dict(self.markets[ticker])
        yes, no = self.ladders(ticker)
        yes_bid = max((p for p, s in yes.items() if s > 0), default=ZERO)
        no_bid = max((p for p, s in no.items() if s > 0), default=ZERO)
        out.update(
            yes_bid_dollars=d4(yes_bid),
            yes_ask_dollars=d4(ONE - no_bid if no_bid else ONE),
            no_bid_dollars=d4(no_bid),
            no_ask_dollars=d4(ONE - yes_bid if yes_bid else ONE),
            yes_bid_size_fp=fp(yes.get(yes_bid, ZERO)),
            yes_ask_size_fp=fp(no.get(no_bid, ZERO)),
        )
        return out

    # --- orders ----------------------------------------------------------------------

    def place(self, req: dict[str, Any], now: datetime) -> tuple[Order, Decimal, Decimal]:
        """Validate and match one V2 order; returns (order, avg YES price, fee paid)."""
        ticker = req["ticker"]
        market = self.markets.get(ticker)
        if market is None:
            raise Refusal(404, "not_found", "not found")
        index = self.shard_of(ticker)
        wanted = req.get("exchange_index")
        if isinstance(wanted, int) and wanted >= 0 and wanted != index:
            raise Refusal(404, "not_found", "not found")  # no such market on that shard
        if market["status"] != "active":
            raise Refusal(400, "market_closed", "market closed")
        count, price = req["count"], req["price"]
        if not on_grid(price, market.get("price_ranges") or []):
            raise Refusal(400, "invalid_price", "invalid price")
        coid = req.get("client_order_id") or str(uuid.uuid4())
        if coid in self.client_ids:
            raise Refusal(409, "order_already_exists", "order already exists")
        side = req["side"]
        yes, no = self.books[ticker].yes, self.books[ticker].no
        # Others' levels we can take, best first, as (YES price, size, ladder, key).
        if side == "bid":
            takeable = [(ONE - q, s, no, q) for q, s in sorted(no.items(), reverse=True)]
            takeable = [t for t in takeable if t[0] <= price and t[1] > 0]
        else:
            takeable = [(y, s, yes, y) for y, s in sorted(yes.items(), reverse=True)]
            takeable = [t for t in takeable if t[0] >= price and t[1] > 0]
        own_cross = any(
            o.ticker == ticker
            and o.status == "resting"
            and o.book_side != side
            and (o.yes_price <= price if side == "bid" else o.yes_price >= price)
            for o in self.orders.values()
        )
        if req.get("post_only") and (takeable or own_cross):
            raise Refusal(400, "invalid_order", "invalid order", "post only cross")
        order = Order(
            order_id=str(uuid.uuid4()),
            client_order_id=coid,
            ticker=ticker,
            book_side=side,
            yes_price=price,
            initial=count,
            tif=req["time_in_force"],
            stp=req["self_trade_prevention_type"],
            created=now,
            remaining=count,
            exchange_index=index,
        )
        killed = own_cross and order.stp == "taker_at_cross"
        if killed:
            takeable = []  # the taker is cancelled before it trades with itself
        plan: list[tuple[Decimal, Decimal, dict[Decimal, Decimal], Decimal]] = []
        left = order.remaining
        for yes_price, size, ladder, key in takeable:
            if left <= 0:
                break
            take = min(size, left)
            plan.append((yes_price, take, ladder, key))
            left -= take
        matched = sum((t[1] for t in plan), ZERO)
        if order.tif == "fill_or_kill" and matched < count:
            raise Refusal(
                409,
                "fill_or_kill_insufficient_resting_volume",
                "fill or kill insufficient resting volume",
            )
        mult = self.fee_multiplier(ticker, now)
        fees = [taker_fee(take, p, mult) for p, take, _, _ in plan]
        pos = self.positions.get(ticker, Position())
        # Collateral for the whole order at its limit, except what closes a position.
        closes = max(-pos.contracts, ZERO) if side == "bid" else max(pos.contracts, ZERO)
        unit = price if side == "bid" else ONE - price
        cash = self._cash_delta(side, plan, pos.contracts) - sum(fees, ZERO)
        have = self.balances.get(index, ZERO)  # collateral is checked inside the shard
        if have < unit * max(count - closes, ZERO) or have + cash < 0:
            raise Refusal(400, "insufficient_balance", "insufficient balance")
        self.client_ids.add(coid)
        self.orders[order.order_id] = order
        for (yes_price, take, ladder, key), fee in zip(plan, fees, strict=True):
            ladder[key] -= take
            if ladder[key] <= 0:
                del ladder[key]
            self._fill(order, yes_price, take, fee, now)
        if order.status != "canceled":
            order.remaining = count - order.filled if order.tif == "good_till_canceled" else ZERO
            order.status = (
                "executed"
                if order.filled == count
                else "resting"
                if order.remaining > 0
                else "canceled"
            )
        avg = sum((p * t for p, t, _, _ in plan), ZERO) / order.filled if order.filled else ZERO
        self.emit("user_order", order)
        return order, avg, sum(fees, ZERO)

    def _cash_delta(self, side: str, plan: list[Any], held: Decimal) -> Decimal:
        """Cash change of the fills: pay for the outcome bought; a YES+NO pair formed
        against an opposite position is redeemed for $1 at once."""
        delta = ZERO
        for yes_price, take, _, _ in plan:
            paid = yes_price if side == "bid" else ONE - yes_price
            opposite = max(-held, ZERO) if side == "bid" else max(held, ZERO)
            delta += -paid * take + min(take, opposite)
            held += take if side == "bid" else -take
        return delta

    def _fill(
        self, order: Order, yes_price: Decimal, take: Decimal, fee: Decimal, now: datetime
    ) -> None:
        bid = order.book_side == "bid"
        pos = self.positions.setdefault(order.ticker, Position())
        self.balances[order.exchange_index] = self.balances.get(order.exchange_index, ZERO) + (
            self._cash_delta(order.book_side, [(yes_price, take, None, None)], pos.contracts) - fee
        )
        paid = (yes_price if bid else ONE - yes_price) * take
        before = pos.contracts
        pos.contracts += take if bid else -take
        if before == 0 or (before > 0) == bid:
            pos.cost += paid
        elif abs(pos.contracts) < abs(before) or pos.contracts == 0:
            pos.cost = pos.cost * abs(pos.contracts) / abs(before) if before else ZERO
        else:  # flipped through zero
            pos.cost = paid * abs(pos.contracts) / take
        pos.fees += fee
        pos.traded += paid
        order.filled += take
        order.cost += paid
        order.fees += fee
        order.updated = now
        outcome = "yes" if bid else "no"
        fill_id = str(uuid.uuid4())
        self.fills.append(
            {
                "action": "buy",
                "book_side": order.book_side,
                "count_fp": fp(take),
                "created_time": rfc3339(now),
                "exchange_index": order.exchange_index,
                "fee_cost": d6(fee),
                "fill_id": fill_id,
                "is_taker": True,
                "market_ticker": order.ticker,
                "no_price_dollars": d4(ONE - yes_price),
                "order_id": order.order_id,
                "outcome_side": outcome,
                "side": outcome,
                "subaccount_number": 0,
                "ticker": order.ticker,
                "trade_id": fill_id,
                "ts": int(now.timestamp()),
                "yes_price_dollars": d4(yes_price),
            }
        )
        self.emit("fill", self.fills[-1])

    def cancel(self, order_id: str, now: datetime, shard: int | None = 0) -> dict[str, Any] | None:
        """``shard`` is where the cancel was routed (None: wherever the order is)."""
        order = self.orders.get(order_id)
        if order is None or order.status != "resting":
            return None
        if shard is not None and order.exchange_index != shard:
            return None  # that shard's engine has no such order: 404
        reduced, order.remaining, order.status, order.updated = (
            order.remaining,
            ZERO,
            "canceled",
            now,
        )
        self.emit("user_order", order)
        return {
            "order_id": order.order_id,
            "client_order_id": order.client_order_id,
            "reduced_by": fp(reduced),
            "ts_ms": int(now.timestamp() * 1000),
        }

    # --- settlement --------------------------------------------------------------------

    def settle(self, ticker: str, result: str, value: Decimal | None, now: datetime) -> None:
        if value is None:
            value = ONE if result == "yes" else ZERO
        market = self.markets[ticker]
        market.update(
            status="finalized",
            result=result,
            settlement_value_dollars=d4(value),
            settlement_ts=rfc3339(now),
        )
        for order in self.orders.values():
            if order.ticker == ticker and order.status == "resting":
                self.cancel(order.order_id, now, None)
        pos = self.positions.pop(ticker, Position())
        yes_count, no_count = max(pos.contracts, ZERO), max(-pos.contracts, ZERO)
        revenue = int(
            ((yes_count * value + no_count * (ONE - value)) * 100).to_integral_value(ROUND_DOWN)
        )
        index = self.shard_of(ticker)
        self.balances[index] = self.balances.get(index, ZERO) + Decimal(revenue) / 100
        self.settlements.append(
            {
                "ticker": ticker,
                "event_ticker": market["event_ticker"],
                "market_result": result,
                "yes_count_fp": fp(yes_count),
                "yes_total_cost_dollars": d6(pos.cost if pos.contracts > 0 else ZERO),
                "no_count_fp": fp(no_count),
                "no_total_cost_dollars": d6(pos.cost if pos.contracts < 0 else ZERO),
                "revenue": revenue,
                "value": int(value * 100),
                "fee_cost": d6(ZERO),
                "settled_time": rfc3339(now),
                "exchange_index": index,
            }
        )

    # --- transfers between shards --------------------------------------------------------

    def transfer(self, req: dict[str, Any], now: datetime) -> str:
        """``POST /portfolio/intra_exchange_instance_transfer``: the source is debited at
        once, the destination credited when the transfer completes."""
        units = req.get("amount")
        source = req.get("source_exchange_shard", 0)
        dest = req.get("destination_exchange_shard", 0)
        kinds = {"event_contract", "margined"}
        if (
            not isinstance(units, int)
            or isinstance(units, bool)
            or units <= 0
            or req.get("source") not in kinds
            or req.get("destination") not in kinds
            or not all(isinstance(i, int) and 0 <= i <= 100 for i in (source, dest))
            or source == dest
        ):
            raise Refusal(400, "bad_request", "bad request", "invalid transfer")
        amount = Decimal(units) / 10_000
        if self.balances.get(source, ZERO) < amount:
            raise Refusal(400, "insufficient_balance", "insufficient balance")
        self.balances[source] -= amount
        transfer_id = str(uuid.uuid4())
        self.transfers[transfer_id] = {
            "transfer_id": transfer_id,
            "source": req["source"],
            "destination": req["destination"],
            "source_exchange_shard": source,
            "destination_exchange_shard": dest,
            "amount": d4(amount),
            "status": "pending",
            "created_ts": int(now.timestamp()),
            "_reads": 0,
        }
        return transfer_id

    def transfer_view(self, transfer_id: str) -> dict[str, Any] | None:
        t = self.transfers.get(transfer_id)
        if t is None:
            return None
        t["_reads"] += 1
        if t["status"] == "pending" and t["_reads"] > self.transfer_pending_reads:
            t["status"] = "complete"
            dest = t["destination_exchange_shard"]
            self.balances[dest] = self.balances.get(dest, ZERO) + Decimal(t["amount"])
        return {k: v for k, v in t.items() if not k.startswith("_")}


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def on_grid(price: Decimal, ranges: list[dict[str, str]]) -> bool:
    if not ranges:
        ranges = [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]
    if not ZERO < price < ONE:
        return False
    for r in ranges:
        start, end, step = Decimal(r["start"]), Decimal(r["end"]), Decimal(r["step"])
        if start <= price <= end and (price - start) % step == 0:
            return True
    return False
