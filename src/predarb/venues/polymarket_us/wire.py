"""Polymarket US wire JSON -> domain types, in one place.

What the exchange sends (docs.polymarket.us, checked against the ``polymarket-us`` SDK
2.4.1's types): prices are ``{"value": "0.55", "currency": "USD"}`` amounts of the long
side; quantities are strings or integers; balances are JSON numbers (read through
their text, never kept as floats). A market has one book, of its long side; the short
side's book is its mirror (a long bid at p is a short ask at 1 − p).

A required field that is missing or malformed raises ``WireError`` for that object;
list parsers log the bad item and skip it, so a bad body never becomes a price.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from predarb.arbitrage.fees import polymarket_us_schedule
from predarb.domain import (
    CENT,
    ONE,
    ZERO,
    Contract,
    Level,
    Market,
    MarketStatus,
    OrderBook,
    Resolution,
    Venue,
)
from predarb.venues.polymarket_us.intents import LONG, SHORT, Intent, long_side_price

log = logging.getLogger(__name__)

T = TypeVar("T")
V = Venue.POLYMARKET_US
MAX_COUNT = Decimal(10) ** 9

# Market ``status`` (listing) and book ``state`` values.
STATUS = {
    "MARKET_STATUS_OPEN": MarketStatus.OPEN,
    "MARKET_STATE_OPEN": MarketStatus.OPEN,
    "MARKET_STATUS_PREOPEN": MarketStatus.PAUSED,
    "MARKET_STATE_PREOPEN": MarketStatus.PAUSED,
    "MARKET_STATE_SUSPENDED": MarketStatus.PAUSED,
    "MARKET_STATE_HALTED": MarketStatus.PAUSED,
    "MARKET_STATUS_CLOSED": MarketStatus.CLOSED,
    "MARKET_STATE_CLOSED": MarketStatus.CLOSED,
    "MARKET_STATE_EXPIRED": MarketStatus.CLOSED,
    "MARKET_STATE_MATCH_AND_CLOSE_AUCTION": MarketStatus.CLOSED,
    "MARKET_STATUS_SETTLED": MarketStatus.SETTLED,
    "MARKET_STATUS_RESOLVED": MarketStatus.SETTLED,
    "MARKET_STATE_TERMINATED": MarketStatus.SETTLED,
}


class WireError(ValueError):
    """One object of a Polymarket US body cannot be trusted."""


# --- primitives -----------------------------------------------------------------


def obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def text(o: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = o.get(key)
    if isinstance(value, str) and (value or not required):
        return value
    if value is None and not required:
        return ""
    raise WireError(f"{key}: expected a non-empty string, got {value!r:.40}")


def number(value: Any, key: str, *, low: Decimal = ZERO, high: Decimal = MAX_COUNT) -> Decimal:
    """A decimal string or a JSON number (read through its shortest text)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise WireError(f"{key}: expected a number, got {value!r:.40}")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise WireError(f"{key}: not a number: {value!r:.40}") from None
    if not d.is_finite() or d < low or d > high:
        raise WireError(f"{key}: {d} outside [{low}, {high}]")
    return d


def amount(value: Any, key: str, *, high: Decimal = MAX_COUNT) -> Decimal:
    """An ``Amount`` object: ``{"value": "0.55", "currency": "USD"}``."""
    o = obj(value, key)
    currency = o.get("currency", "USD")
    if currency != "USD":
        raise WireError(f"{key}: currency {currency!r:.10}, expected USD")
    return number(o.get("value"), f"{key}.value", high=high)


def price(value: Any, key: str) -> Decimal:
    return amount(value, key, high=ONE)


def optional_amount(o: Mapping[str, Any], key: str) -> Decimal:
    return ZERO if o.get(key) is None else amount(o[key], key)


def timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def each(items: Any, parse: Callable[[Any], T], what: str) -> Iterator[T]:
    for item in items if isinstance(items, list) else ():
        try:
            yield parse(item)
        except WireError as exc:
            log.warning("polymarket_us: skipped malformed %s", what, extra={"error": str(exc)})


# --- markets and books -------------------------------------------------------------


def parse_market(value: Any) -> Market:
    """A market of ``GET /v1/markets``: two contracts, long (YES) and short (NO), whose
    sides are the outcome labels of ``marketSides`` (team names in sports)."""
    m = obj(value, "market")
    slug = text(m, "slug")
    long_label, short_label = _side_labels(m)
    status = STATUS.get(str(m.get("status", "")), MarketStatus.OPEN)
    if m.get("closed") is True or m.get("archived") is True:
        status = MarketStatus.CLOSED if status is MarketStatus.OPEN else status
    elif m.get("active") is False and status is MarketStatus.OPEN:
        status = MarketStatus.PAUSED
    coefficient = m.get("feeCoefficient")
    fee = None  # unknown fee: the market is listed but never priced
    if coefficient is not None:
        try:
            fee = polymarket_us_schedule(number(coefficient, "feeCoefficient", high=ONE))
        except ValueError as exc:
            log.warning("polymarket_us: bad fee", extra={"slug": slug, "error": str(exc)})
    tick = m.get("orderPriceMinTickSize")
    lot = m.get("minimumTradeQty")
    title = text(m, "question", required=False) or text(m, "title", required=False) or slug
    event = text(m, "eventSlug", required=False)
    return Market(
        venue=V,
        market_id=slug,
        event_id=event or slug,
        title=title,
        contracts=(
            Contract(V, slug, long_label, LONG),
            Contract(V, slug, short_label, SHORT),
        ),
        status=status,
        close_time=timestamp(m.get("endDate")),
        resolve_time=timestamp(m.get("gameStartTime")) or timestamp(m.get("endDate")),
        category=text(m, "category", required=False).lower(),
        series=event,
        subtitle=text(m, "title", required=False) if m.get("question") else "",
        rules=text(m, "description", required=False),
        tick_size=CENT if tick is None else number(tick, "orderPriceMinTickSize", high=ONE),
        min_order_size=ONE if lot is None else number(lot, "minimumTradeQty"),
        fee=fee,
        extra=_hints(m),
        slug=slug,
    )


def _hints(m: Mapping[str, Any]) -> dict[str, str]:
    """What the matcher reads beyond the typed fields (the market's own slug is one)."""
    hints = {"market_id": str(m.get("id", ""))}
    for key, name in (("gameStartTime", "game_start_time"), ("sportsMarketType", "market_type")):
        value = m.get(key)
        if isinstance(value, str) and value:
            hints[name] = value
    return hints


def _side_labels(m: Mapping[str, Any]) -> tuple[str, str]:
    """The outcome labels of the long and short sides; Yes/No when not given."""
    long_label, short_label = "Yes", "No"
    sides = m.get("marketSides")
    for side in sides if isinstance(sides, list) else ():
        if not isinstance(side, dict):
            continue
        label = side.get("description")
        team = side.get("team")
        if not isinstance(label, str) or not label:
            label = team.get("name") if isinstance(team, dict) else None
        if isinstance(label, str) and label:
            if side.get("long") is True:
                long_label = label
            else:
                short_label = label
    if long_label.lower() == short_label.lower():
        raise WireError(f"market {m.get('slug')!r:.60}: both sides are {long_label!r:.40}")
    return long_label, short_label


def parse_markets_page(body: Any) -> list[Any]:
    items = obj(body, "markets body").get("markets")
    if not isinstance(items, list):
        raise WireError("markets: expected a list")
    return items


def _ladder(raw: Any, key: str) -> list[tuple[Decimal, Decimal]]:
    if not isinstance(raw, list):
        raise WireError(f"{key}: expected a list")
    out = []
    for level in raw:
        lv = obj(level, key)
        size = number(lv.get("qty"), f"{key}.qty")
        if size > 0:
            out.append((price(lv.get("px"), f"{key}.px"), size))
    return out


def parse_book(body: Any, market: Market, ts: datetime) -> tuple[OrderBook, OrderBook]:
    """``GET /v1/markets/{slug}/book`` as the books of the long and the short side."""
    data = obj(obj(body, "book body").get("marketData"), "marketData")
    slug = text(data, "marketSlug", required=False) or market.market_id
    if slug != market.market_id:
        raise WireError(f"book of {slug!r:.60} for {market.market_id!r:.60}")
    bids = sorted(_ladder(data.get("bids", []), "bids"), key=lambda lv: -lv[0])
    offers = sorted(_ladder(data.get("offers", []), "offers"), key=lambda lv: lv[0])
    seen = timestamp(data.get("transactTime")) or ts
    long_c, short_c = market.contracts
    mirror = Intent.BUY_SHORT

    def book(contract: Contract, b: list[Level], a: list[Level]) -> OrderBook:
        return OrderBook(
            contract, tuple(b), tuple(a), seen, market.tick_size, market.min_order_size
        )

    long_book = book(long_c, [Level(p, s) for p, s in bids], [Level(p, s) for p, s in offers])
    short_book = book(
        short_c,
        [Level(long_side_price(mirror, p), s) for p, s in offers],
        [Level(long_side_price(mirror, p), s) for p, s in bids],
    )
    return long_book, short_book


def parse_resolution(body: Any, market: Market | None, slug: str) -> Resolution | None:
    """``GET /v1/markets/{slug}/settlement``: the long side's payout per contract (1 or
    0; anything between is a split). ``None`` while there is none."""
    o = obj(body, "settlement")
    if o.get("settlement") is None:
        return None
    long_pays = number(o.get("settlement"), "settlement", high=ONE)
    short_pays = ONE - long_pays
    payouts = {LONG: long_pays, SHORT: short_pays}
    if market is not None:
        payouts[market.contracts[0].side] = long_pays
        payouts[market.contracts[1].side] = short_pays
    return Resolution(slug, payouts)


# --- orders -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WireExecution:
    """One execution report of an order: a fill when ``shares`` > 0."""

    execution_id: str
    kind: str  # EXECUTION_TYPE_*
    shares: Decimal
    long_price: Decimal  # lastPx, a long-side price
    commission: Decimal  # commissionNotionalCollected
    trade_id: str
    reject_reason: str
    ts: datetime | None


@dataclass(frozen=True, slots=True)
class WireOrder:
    order_id: str
    slug: str
    intent: Intent
    state: str  # ORDER_STATE_*
    quantity: Decimal
    filled: Decimal  # cumQuantity
    long_price: Decimal  # the limit, long side
    avg_long_price: Decimal  # avgPx, long side
    commission: Decimal  # commissionNotionalTotalCollected
    created: datetime | None


def parse_order(value: Any) -> WireOrder:
    o = obj(value, "order")
    try:
        intent = Intent(text(o, "intent"))
    except ValueError:
        raise WireError(f"order intent {o.get('intent')!r:.40}") from None
    return WireOrder(
        order_id=text(o, "id"),
        slug=text(o, "marketSlug"),
        intent=intent,
        state=text(o, "state", required=False),
        quantity=number(o.get("quantity", 0), "quantity"),
        filled=number(o.get("cumQuantity", 0), "cumQuantity"),
        long_price=ZERO if o.get("price") is None else price(o["price"], "price"),
        avg_long_price=ZERO if o.get("avgPx") is None else price(o["avgPx"], "avgPx"),
        commission=optional_amount(o, "commissionNotionalTotalCollected"),
        created=timestamp(o.get("createTime")) or timestamp(o.get("insertTime")),
    )


def parse_execution(value: Any) -> tuple[WireExecution, WireOrder | None]:
    e = obj(value, "execution")
    shares = ZERO if e.get("lastShares") in (None, "") else number(e["lastShares"], "lastShares")
    execution = WireExecution(
        execution_id=text(e, "id", required=False),
        kind=text(e, "type", required=False),
        shares=shares,
        long_price=ZERO if e.get("lastPx") is None else price(e["lastPx"], "lastPx"),
        commission=optional_amount(e, "commissionNotionalCollected"),
        trade_id=text(e, "tradeId", required=False),
        reject_reason=text(e, "orderRejectReason", required=False)
        or text(e, "text", required=False),
        ts=timestamp(e.get("transactTime")),
    )
    order = parse_order(e["order"]) if e.get("order") is not None else None
    return execution, order


def parse_create_reply(body: Any) -> tuple[str, list[tuple[WireExecution, WireOrder | None]]]:
    """``POST /v1/orders``: the order id and, with synchronous execution, what it did."""
    o = obj(body, "create order reply")
    executions = o.get("executions") or []
    if not isinstance(executions, list):
        raise WireError("executions: expected a list")
    return text(o, "id"), [parse_execution(e) for e in executions]


def parse_open_orders(body: Any) -> list[WireOrder]:
    return list(each(obj(body, "open orders").get("orders"), parse_order, "open order"))


def parse_order_reply(body: Any) -> WireOrder:
    return parse_order(obj(body, "order reply").get("order"))


# --- account ---------------------------------------------------------------------


def parse_balance(body: Any) -> Decimal:
    """``GET /v1/account/balances``: the USD buying power (cash free for orders)."""
    items = obj(body, "balances").get("balances")
    if not isinstance(items, list):
        raise WireError("balances: expected a list")
    for item in items:
        b = obj(item, "balance")
        if b.get("currency", "USD") == "USD":
            key = "buyingPower" if b.get("buyingPower") is not None else "currentBalance"
            return number(b.get(key), key, high=Decimal(10) ** 12)
    raise WireError("balances: no USD balance")


@dataclass(frozen=True, slots=True)
class WirePosition:
    slug: str
    net: Decimal  # > 0 long, < 0 short
    cost: Decimal


def parse_positions(body: Any) -> tuple[list[WirePosition], str]:
    """``GET /v1/portfolio/positions``: positions keyed by slug, and the next cursor."""
    o = obj(body, "positions body")
    positions = o.get("positions") or {}
    if not isinstance(positions, dict):
        raise WireError("positions: expected an object keyed by market slug")
    out = []
    for slug, raw in positions.items():
        try:
            p = obj(raw, "position")
            net = number(p.get("netPosition", "0"), "netPosition", low=-MAX_COUNT)
            cost = ZERO if p.get("cost") is None else amount(p["cost"], "cost", high=MAX_COUNT)
        except WireError as exc:
            log.warning("polymarket_us: skipped malformed position", extra={"error": str(exc)})
            continue
        if net != 0 and not p.get("expired"):
            out.append(WirePosition(str(slug), net, cost))
    cursor = "" if o.get("eof") in (True, None) else str(o.get("nextCursor") or "")
    return out, cursor


@dataclass(frozen=True, slots=True)
class WireTrade:
    trade_id: str
    slug: str
    long_price: Decimal
    shares: Decimal
    aggressor: bool
    ts: datetime | None
    busted: bool = False  # broken by the exchange: no fill


def parse_trades(body: Any) -> tuple[list[WireTrade], str]:
    """The ``ACTIVITY_TYPE_TRADE`` entries of ``GET /v1/portfolio/activities``, and
    the next page's cursor (empty at the end)."""
    o = obj(body, "activities")
    out = []
    for item in o.get("activities") or []:
        if not isinstance(item, dict) or item.get("type") != "ACTIVITY_TYPE_TRADE":
            continue
        try:
            t = obj(item.get("trade"), "trade")
            out.append(
                WireTrade(
                    trade_id=text(t, "id"),
                    slug=text(t, "marketSlug"),
                    long_price=price(t.get("price"), "price"),
                    shares=number(t.get("qtyDecimal") or t.get("qty"), "qty"),
                    aggressor=t.get("isAggressor") is True,
                    ts=timestamp(t.get("createTime")),
                    busted="BUSTED" in str(t.get("state", "")),
                )
            )
        except WireError as exc:
            log.warning("polymarket_us: skipped malformed trade", extra={"error": str(exc)})
    cursor = "" if o.get("eof") in (True, None) else str(o.get("nextCursor") or "")
    return out, cursor
