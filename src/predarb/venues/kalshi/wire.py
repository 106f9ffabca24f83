"""Kalshi wire JSON -> domain types, in one place.

Rules: fixed-point strings (``*_dollars``, ``*_fp``) become ``Decimal``, never float;
JSON numbers are refused where the venue promises strings. Unknown fields are ignored
and optional ones may be missing. A required field that is missing, of the wrong type,
not finite or out of range raises ``WireError`` for that object; list parsers log the
bad item and skip it, so malformed data never becomes a price or an order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from predarb.arbitrage.fees import KalshiFee, kalshi_fee_schedule
from predarb.domain import (
    CENT,
    ONE,
    ZERO,
    Contract,
    FeeSchedule,
    Level,
    Market,
    MarketStatus,
    OrderBook,
    Resolution,
    Venue,
    VenuePosition,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_COUNT = Decimal(10) ** 9  # contracts; anything larger is a corrupt body
MAX_SHARD = 100  # exchange_index bounds in the transfer schema (0..100)
MAX_MONEY = Decimal(10) ** 12  # dollars
DEFAULT_COST = Decimal(10)  # rate-limit tokens per request (spec A.6)
# FixedPointDollars / FixedPointCount (A.3.1): plain decimal digits. Decimal() alone
# would also take "1e-2", "1_000", " 0.5" or "Infinity", none of which Kalshi sends.
FIXED_POINT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

STATUS = {
    "active": MarketStatus.OPEN,
    "initialized": MarketStatus.PAUSED,
    "inactive": MarketStatus.PAUSED,
    "closed": MarketStatus.CLOSED,
    "determined": MarketStatus.CLOSED,
    "disputed": MarketStatus.CLOSED,
    "amended": MarketStatus.CLOSED,
    "finalized": MarketStatus.SETTLED,
}


class WireError(ValueError):
    """One object of a Kalshi body cannot be trusted."""


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


def fixed(value: Any, key: str, *, low: Decimal = ZERO, high: Decimal = MAX_MONEY) -> Decimal:
    """A fixed-point string (``"0.5600"``, ``"10.00"``) within [low, high]."""
    if not isinstance(value, str):
        raise WireError(f"{key}: expected a fixed-point string, got {type(value).__name__}")
    if FIXED_POINT.fullmatch(value) is None:
        raise WireError(f"{key}: not a fixed-point number: {value!r:.40}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise WireError(f"{key}: not a number: {value!r:.40}") from None
    if not number.is_finite() or not low <= number <= high:
        raise WireError(f"{key}: out of range: {value!r:.40}")
    return number


def price(o: Mapping[str, Any], key: str) -> Decimal:
    return fixed(o.get(key), key, high=ONE)


def count(o: Mapping[str, Any], key: str) -> Decimal:
    return fixed(o.get(key), key, high=MAX_COUNT)


def money(o: Mapping[str, Any], key: str) -> Decimal:
    return fixed(o.get(key), key)


def optional(
    parse: Callable[[Mapping[str, Any], str], T], o: Mapping[str, Any], key: str
) -> T | None:
    """``None`` when the field is absent, null or empty; an error when it is bad."""
    if o.get(key) in (None, ""):
        return None
    return parse(o, key)


def timestamp(o: Mapping[str, Any], key: str) -> datetime | None:
    """RFC 3339 string -> aware UTC datetime; a bad or missing one is ``None``."""
    value = o.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        log.info("kalshi: unparsable timestamp", extra={"field": key, "value": value[:40]})
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def shard(o: Mapping[str, Any], key: str = "exchange_index") -> int | None:
    """An exchange shard index (0..100), or ``None`` when the field is absent (objects
    recorded before the shards existed, or a lifecycle message that does not say)."""
    value = o.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SHARD:
        raise WireError(f"{key}: expected a shard index 0..{MAX_SHARD}, got {value!r:.20}")
    return value


def page(body: Any, key: str) -> tuple[list[Any], str]:
    """A list page: the items and the next cursor (``""`` on the last page)."""
    body = obj(body, "page")
    items = body.get(key)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise WireError(f"{key}: expected a list")
    cursor = body.get("cursor")
    return items, cursor if isinstance(cursor, str) else ""


def each(items: list[Any], parse: Callable[[Any], T], what: str) -> Iterator[T]:
    """Parse every item, logging and skipping the ones that cannot be trusted."""
    for item in items:
        try:
            yield parse(item)
        except WireError as exc:
            ident = item.get("ticker") or item.get("order_id") if isinstance(item, dict) else None
            log.warning(
                "kalshi: skipped malformed %s", what, extra={"id": ident, "error": str(exc)}
            )


# --- markets and events ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceRange:
    start: Decimal
    end: Decimal
    step: Decimal


def price_ranges(o: Mapping[str, Any]) -> tuple[PriceRange, ...]:
    raw = o.get("price_ranges")
    if not isinstance(raw, list) or not raw:
        return (PriceRange(ZERO, ONE, CENT),)  # the linear_cent default
    out = []
    for item in raw:
        r = obj(item, "price_ranges[]")
        step = price(r, "step")
        if step <= 0:
            raise WireError("price_ranges: step must be positive")
        out.append(PriceRange(price(r, "start"), price(r, "end"), step))
    return tuple(sorted(out, key=lambda r: r.start))


def on_grid(p: Decimal, ranges: tuple[PriceRange, ...]) -> bool:
    """True when ``p`` is a valid price of some range (the ends are shared)."""
    return any(r.start <= p <= r.end and (p - r.start) % r.step == 0 for r in ranges)


def tick_size(ranges: tuple[PriceRange, ...]) -> Decimal:
    """The step around 0.50 (where prices on a tapered grid are coarsest), else the
    smallest: a multiple of it is valid wherever the finer steps apply."""
    half = Decimal("0.5")
    for r in ranges:
        if r.start <= half <= r.end:
            return r.step
    return min(r.step for r in ranges)


@dataclass(frozen=True, slots=True)
class SeriesFee:
    fee_type: str = "quadratic"
    multiplier: Decimal = ONE

    @property
    def pair(self) -> KalshiFee:
        return self.fee_type, self.multiplier

    def schedule(self) -> FeeSchedule | None:
        """The quadratic schedule, or ``None`` (fees unknown: never traded) for a fee type
        whose formula is not published, such as ``flat``: a guess could under-price it."""
        return kalshi_fee_schedule(self.pair)


def parse_series_fee(body: Any) -> SeriesFee:
    series = obj(obj(body, "series body").get("series"), "series")
    return series_fee(series, "fee_type", "fee_multiplier") or SeriesFee()


def series_fee(o: Mapping[str, Any], type_key: str, mult_key: str) -> SeriesFee | None:
    """Fee parameters (``fee_multiplier`` is a JSON number on the wire), or ``None``
    when neither field is present."""
    fee_type, mult = o.get(type_key), o.get(mult_key)
    if fee_type in (None, "") and mult is None:
        return None
    if isinstance(mult, bool) or not isinstance(mult, int | float | str | type(None)):
        raise WireError(f"{mult_key}: not a number")
    multiplier = ONE if mult is None else fixed(str(mult), mult_key, high=Decimal(100))
    return SeriesFee(
        fee_type if isinstance(fee_type, str) and fee_type else "quadratic", multiplier
    )


@dataclass(frozen=True, slots=True)
class WireEvent:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    fee_override: SeriesFee | None
    category: str = ""
    sources: str = ""  # settlement source names, comma-separated
    markets: tuple[Any, ...] = field(default=())  # raw market objects, parsed later
    exchange_index: int | None = None  # every market of an event lives on its shard


def parse_event(value: Any) -> WireEvent:
    o = obj(value, "event")
    markets = o.get("markets")
    return WireEvent(
        event_ticker=text(o, "event_ticker"),
        series_ticker=text(o, "series_ticker", required=False),
        title=text(o, "title", required=False),
        sub_title=text(o, "sub_title", required=False),
        fee_override=series_fee(o, "fee_type_override", "fee_multiplier_override"),
        markets=tuple(markets) if isinstance(markets, list) else (),
        category=text(o, "category", required=False),
        exchange_index=shard(o),
        sources=", ".join(
            str(s.get("name"))
            for s in (o.get("settlement_sources") or ())
            if isinstance(s, dict) and isinstance(s.get("name"), str)
        ),
    )


def parse_market(
    value: Any, *, event: WireEvent | None = None, fee: SeriesFee | None = None
) -> Market:
    o = obj(value, "market")
    ticker = text(o, "ticker")
    event_ticker = text(o, "event_ticker")
    status_text = text(o, "status")
    status = STATUS.get(status_text)
    if status is None:
        log.info("kalshi: unknown market status", extra={"ticker": ticker, "status": status_text})
        status = MarketStatus.PAUSED
    ranges = price_ranges(o)
    subtitle = text(o, "yes_sub_title", required=False)
    title = text(o, "title", required=False)
    if not title:
        title = " ".join(p for p in ((event.title if event else ""), subtitle) if p) or ticker
    # The series comes from the event only: series tickers may hold dashes
    # (KXMVECROSSCATEGORY0-SHARD1), so a ticker's text cannot say where it ends.
    series = event.series_ticker if event else ""
    index = shard(o)
    if index is None:
        index = (event.exchange_index if event else None) or 0
    fee = (event.fee_override if event else None) or fee or SeriesFee()
    extra = {
        key: str(o[key])
        for key in (
            "floor_strike",
            "cap_strike",
            "strike_type",
            "functional_strike",
            "market_type",
            "price_level_structure",
        )
        if isinstance(o.get(key), str | int | float) and not isinstance(o.get(key), bool)
    }
    extra["fee_type"] = fee.fee_type
    if event is not None:
        # Hints for the matcher: the event's own title and sub-title (often the window
        # or round a market's title leaves out) and its settlement sources.
        extra.update(
            {
                "event_title": event.title,
                "event_sub_title": event.sub_title,
                "resolution_source": event.sources,
            }
        )
        extra = {k: v for k, v in extra.items() if v}
    return Market(
        venue=Venue.KALSHI,
        market_id=ticker,
        event_id=event_ticker,
        title=title,
        contracts=(Contract(Venue.KALSHI, ticker, "yes"), Contract(Venue.KALSHI, ticker, "no")),
        status=status,
        close_time=timestamp(o, "close_time"),
        resolve_time=timestamp(o, "expected_expiration_time")
        or timestamp(o, "occurrence_datetime"),
        series=series,
        category=event.category.lower() if event else "",
        subtitle=subtitle,
        rules=text(o, "rules_primary", required=False),
        tick_size=tick_size(ranges),
        min_order_size=ONE,
        fee=fee.schedule(),
        extra=extra,
        exchange_index=index,
    )


# A market whose fees are waived (``fee_waiver_expiration_time`` still ahead).
NO_FEE = FeeSchedule(venue=Venue.KALSHI, rate=ZERO)


def fee_waived_until(value: Any) -> datetime | None:
    """The market's ``fee_waiver_expiration_time`` ("Time when this market's fee
    waiver expires"), or None; an unreadable one counts as no waiver."""
    return timestamp(value, "fee_waiver_expiration_time") if isinstance(value, dict) else None


def parse_resolution(value: Any) -> Resolution | None:
    """The final result of a finalized market; ``None`` while unresolved."""
    o = obj(value, "market")
    ticker = text(o, "ticker")
    result = o.get("result")
    if o.get("status") != "finalized" or not isinstance(result, str) or not result:
        return None
    settled_at = timestamp(o, "settlement_ts")
    if result == "yes":
        return Resolution(ticker, {"yes": ONE, "no": ZERO}, settled_at=settled_at)
    if result == "no":
        return Resolution(ticker, {"yes": ZERO, "no": ONE}, settled_at=settled_at)
    if result == "scalar":
        value_yes = price(o, "settlement_value_dollars")
        return Resolution(ticker, {"yes": value_yes, "no": ONE - value_yes}, settled_at=settled_at)
    if result in ("void", "cancelled", "canceled"):
        return Resolution(ticker, {}, void=True, settled_at=settled_at)
    raise WireError(f"result: unknown value {result!r:.20}")


# --- order books --------------------------------------------------------------------


def ladder(raw: Any, key: str) -> list[Level]:
    """A bid ladder ``[[price, count], ...]`` -> levels, best (highest) first."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise WireError(f"{key}: expected a list")
    levels: dict[Decimal, Decimal] = {}
    for entry in raw:
        if not isinstance(entry, list) or len(entry) < 2:
            raise WireError(f"{key}: a level is not [price, count]")
        p = fixed(entry[0], key, high=ONE)
        size = fixed(entry[1], key, high=MAX_COUNT)
        if p > 0 and size > 0:
            levels[p] = levels.get(p, ZERO) + size
    return [Level(p, s) for p, s in sorted(levels.items(), reverse=True)]


def parse_orderbook(
    body: Any, ticker: str, *, tick: Decimal = CENT, now: datetime | None = None
) -> tuple[OrderBook, OrderBook]:
    """``{"orderbook_fp": {"yes_dollars", "no_dollars"}}`` (bids only, ascending) ->
    (YES book, NO book). A YES ask at 1 − q is a NO bid at q, and the other way round."""
    o = obj(body, "orderbook body")
    book = o.get("orderbook_fp", o.get("orderbook"))
    book = {} if book is None else obj(book, "orderbook_fp")
    yes_bids = ladder(book.get("yes_dollars"), "yes_dollars")
    no_bids = ladder(book.get("no_dollars"), "no_dollars")
    return _books(yes_bids, no_bids, ticker, tick, now)


def parse_ws_snapshot(
    msg: Any, *, no_on_yes_scale: bool, tick: Decimal = CENT
) -> tuple[OrderBook, OrderBook]:
    """A WebSocket ``orderbook_snapshot`` ``msg``. By default its NO side carries NO-leg
    prices like REST; with ``use_yes_price`` it is on the YES scale (0.52 means a NO bid
    at 0.48)."""
    o = obj(msg, "snapshot")
    ticker = text(o, "market_ticker")
    yes_bids = ladder(o.get("yes_dollars_fp"), "yes_dollars_fp")
    no_bids = ladder(o.get("no_dollars_fp"), "no_dollars_fp")
    if no_on_yes_scale:
        no_bids = sorted(
            (Level(ONE - lv.price, lv.size) for lv in no_bids), key=lambda lv: -lv.price
        )
    return _books(yes_bids, no_bids, ticker, tick, None)


def _books(
    yes_bids: list[Level], no_bids: list[Level], ticker: str, tick: Decimal, now: datetime | None
) -> tuple[OrderBook, OrderBook]:
    if yes_bids and no_bids and yes_bids[0].price + no_bids[0].price > ONE:
        raise WireError(f"{ticker}: crossed book")
    ts = now or datetime.now(UTC)
    yes = Contract(Venue.KALSHI, ticker, "yes")
    no = Contract(Venue.KALSHI, ticker, "no")
    return (
        OrderBook(
            yes,
            tuple(yes_bids),
            tuple(Level(ONE - lv.price, lv.size) for lv in no_bids),
            ts,
            tick_size=tick,
        ),
        OrderBook(
            no,
            tuple(no_bids),
            tuple(Level(ONE - lv.price, lv.size) for lv in yes_bids),
            ts,
            tick_size=tick,
        ),
    )


# --- portfolio ----------------------------------------------------------------------


def parse_balance(body: Any) -> Decimal:
    o = obj(body, "balance")
    if o.get("balance_dollars") is not None:
        return money(o, "balance_dollars")
    cents = o.get("balance")
    if isinstance(cents, int) and not isinstance(cents, bool) and cents >= 0:
        return Decimal(cents) / 100
    raise WireError("balance_dollars: missing")


def parse_shard_balances(body: Any) -> dict[int, Decimal]:
    """Cash on each exchange shard (``balance_breakdown``). A key restricted to a
    subaccount gets no breakdown: then the whole balance is taken as shard 0's."""
    o = obj(body, "balance")
    rows = o.get("balance_breakdown")
    if rows is None:
        return {0: parse_balance(o)}
    if not isinstance(rows, list):
        raise WireError("balance_breakdown: expected a list")
    out: dict[int, Decimal] = {}
    for row in rows:
        r = obj(row, "balance_breakdown[]")
        index = shard(r)
        if index is None or index in out:
            raise WireError("balance_breakdown: missing or repeated exchange_index")
        out[index] = money(r, "balance")
    return out or {0: ZERO}


TRANSFER_DONE = "complete"


def parse_transfer_id(body: Any) -> str:
    """``POST /portfolio/intra_exchange_instance_transfer`` -> the transfer id."""
    return text(obj(body, "transfer reply"), "transfer_id")


def parse_transfer_status(body: Any) -> str:
    """``GET /portfolio/intra_exchange_instance_transfers/{id}`` -> pending | complete."""
    transfer = obj(obj(body, "transfer body").get("transfer"), "transfer")
    status = text(transfer, "status")
    if status not in ("pending", TRANSFER_DONE):
        log.info("kalshi: unknown transfer status", extra={"status": status[:20]})
    return status


def parse_position(value: Any) -> VenuePosition | None:
    """``position_fp`` is signed: positive holds YES, negative NO; zero is no position."""
    o = obj(value, "market position")
    ticker = text(o, "ticker")
    pos = fixed(o.get("position_fp"), "position_fp", low=-MAX_COUNT, high=MAX_COUNT)
    if pos == 0:
        return None
    cost = optional(money, o, "market_exposure_dollars") or ZERO
    side = "yes" if pos > 0 else "no"
    return VenuePosition(Contract(Venue.KALSHI, ticker, side), abs(pos), cost)


@dataclass(frozen=True, slots=True)
class Settlement:
    ticker: str
    event_ticker: str
    result: str
    yes_count: Decimal
    no_count: Decimal
    revenue: Decimal  # dollars paid out (the wire has integer cents)
    fee: Decimal
    settled_at: datetime | None


def parse_settlement(value: Any) -> Settlement:
    o = obj(value, "settlement")
    revenue = o.get("revenue")
    if not isinstance(revenue, int) or isinstance(revenue, bool) or revenue < 0:
        raise WireError("revenue: expected non-negative integer cents")
    return Settlement(
        ticker=text(o, "ticker"),
        event_ticker=text(o, "event_ticker", required=False),
        result=text(o, "market_result", required=False),
        yes_count=optional(count, o, "yes_count_fp") or ZERO,
        no_count=optional(count, o, "no_count_fp") or ZERO,
        revenue=Decimal(revenue) / 100,
        fee=optional(money, o, "fee_cost") or ZERO,
        settled_at=timestamp(o, "settled_time"),
    )


def parse_exchange_status(body: Any) -> bool:
    """True when the exchange is up and trading (not in the weekly pause)."""
    o = obj(body, "exchange status")
    return o.get("exchange_active") is True and o.get("trading_active") is True


def parse_account_limits(body: Any) -> tuple[Decimal, Decimal]:
    """``GET /account/limits`` -> (read, write) requests per second at the default cost."""
    o = obj(body, "account limits")
    rates = []
    for bucket in ("read", "write"):
        rate = obj(o.get(bucket), bucket).get("refill_rate")
        if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
            raise WireError(f"{bucket}.refill_rate: expected a positive integer")
        rates.append(Decimal(rate) / DEFAULT_COST)
    return rates[0], rates[1]


def parse_endpoint_costs(body: Any) -> dict[str, int]:
    """``GET /account/endpoint_costs`` -> {"METHOD /path": tokens}; "*" is the default."""
    o = obj(body, "endpoint costs")
    default = o.get("default_cost")
    out = {"*": default if isinstance(default, int) and default > 0 else int(DEFAULT_COST)}
    for item in o.get("endpoint_costs") or []:
        if isinstance(item, dict) and isinstance(item.get("cost"), int):
            out[f"{item.get('method')} {item.get('path')}"] = item["cost"]
    return out


def _when(o: Mapping[str, Any]) -> datetime:
    at = timestamp(o, "scheduled_ts")
    if at is None:
        raise WireError("scheduled_ts: missing")
    return at


def parse_series_fee_changes(body: Any) -> list[tuple[str, datetime, SeriesFee]]:
    """``GET /series/fee_changes`` -> scheduled (series, when, new fee)."""
    items = obj(body, "fee changes").get("series_fee_change_arr") or []
    if not isinstance(items, list):
        raise WireError("series_fee_change_arr: expected a list")

    def one(item: Any) -> tuple[str, datetime, SeriesFee]:
        o = obj(item, "fee change")
        fee = series_fee(o, "fee_type", "fee_multiplier") or SeriesFee()
        return text(o, "series_ticker"), _when(o), fee

    return list(each(items, one, "fee change"))


def parse_event_fee_change(value: Any) -> tuple[str, datetime | None, SeriesFee | None]:
    """One ``/events/fee_changes`` item or ``event_fee_update`` message -> (event,
    when, override); an override of nulls is cleared (the series fee applies again)."""
    o = obj(value, "event fee change")
    override = series_fee(o, "fee_type_override", "fee_multiplier_override")
    at = _when(o) if "scheduled_ts" in o else None
    return text(o, "event_ticker"), at, override
