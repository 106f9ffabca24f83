"""Polymarket wire formats (Gamma + CLOB V2) to domain types, in one place.

Tolerant of unknown fields and of numbers sent either as JSON numbers or as strings;
strict on sanity: prices are finite and in [0, 1], sizes finite and >= 0. A value that
fails raises ``WireError``; callers skip the item (lists) or raise ``BadResponse``.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from predarb.domain import (
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
)

log = logging.getLogger(__name__)

PM = Venue.POLYMARKET
BASE_UNITS = Decimal(1_000_000)  # pUSD and outcome shares both have 6 decimals
VALID_TICKS = frozenset(Decimal(t) for t in ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"))
MAX_SIZE = Decimal(10) ** 12  # shares or dollars beyond this are not real
# Taker rates by Gamma ``feeType`` when a market has fees but no ``feeSchedule``
# (venue-apis B.6); unknown types get the highest rate so fees are never understated.
_FEE_TYPE_RATES = (
    ("crypto", Decimal("0.07")),
    ("sport", Decimal("0.05")),
    ("geopolitic", ZERO),
    ("politic", Decimal("0.04")),
    ("financ", Decimal("0.04")),
    ("tech", Decimal("0.04")),
    ("mention", Decimal("0.04")),
)
_MAX_FEE_RATE = Decimal("0.07")
_CATEGORY_BY_TAG = {
    "crypto": "Crypto",
    "crypto-prices": "Crypto",
    "sports": "Sports",
    "esports": "Sports",
    "politics": "Politics",
    "elections": "Politics",
    "geopolitics": "Geopolitics",
    "finance": "Finance",
    "economy": "Economics",
    "economics": "Economics",
    "tech": "Tech",
    "culture": "Culture",
    "pop-culture": "Culture",
    "weather": "Weather",
    "mentions": "Mentions",
}


class WireError(ValueError):
    """One value or object on the wire is unusable."""


# ---------------------------------------------------------------- scalar helpers


def dec(value: Any, name: str) -> Decimal:
    """A finite Decimal from a JSON number or numeric string (never from a bool)."""
    if isinstance(value, bool) or value is None:
        raise WireError(f"{name}: not a number: {value!r}")
    if isinstance(value, float | int | Decimal):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise WireError(f"{name}: not a number: {value!r}")
    try:
        out = Decimal(value.strip())
    except InvalidOperation:
        raise WireError(f"{name}: not a number: {value[:40]!r}") from None
    if not out.is_finite():
        raise WireError(f"{name}: not finite")
    return out


def price(value: Any, name: str = "price") -> Decimal:
    p = dec(value, name)
    if not ZERO <= p <= ONE:
        raise WireError(f"{name}: {p} outside [0, 1]")
    return p


def size(value: Any, name: str = "size") -> Decimal:
    s = dec(value, name)
    if s < ZERO or s > MAX_SIZE:
        raise WireError(f"{name}: {s} is not a sane size")
    return s


def base_units(value: Any, name: str) -> Decimal:
    """A 6-dp fixed-math integer string (``"52000000"``) as a Decimal amount."""
    n = dec(value, name)
    if n != n.to_integral_value():
        raise WireError(f"{name}: {n} is not an integer of base units")
    return size(n / BASE_UNITS, name)


def amount(value: Any, name: str, bound: Decimal) -> Decimal:
    """A fill amount that may be fixed-math base units or a plain decimal.

    The wire form is not settled (venue-apis B.5.1): ``"2650000"`` and ``"2.65"`` both
    mean $2.65. A decimal string is taken as is; an integer string is base units
    when read as a decimal it would exceed ``bound`` (what the order could ever fill).
    ``""`` means nothing filled.
    """
    if value in ("", None):
        return ZERO
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    if text is None:
        return size(value, name)
    n = size(text, name)
    if "." in text or n <= bound:
        return n
    return base_units(text, name)


def flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def when(value: Any) -> datetime | None:
    """ISO 8601 or Gamma's ``"2026-04-05 15:10:00+00"``; naive times are UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        out = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return out if out.tzinfo else out.replace(tzinfo=UTC)


def epoch(value: Any, name: str, *, per_second: int = 1) -> datetime:
    """A Unix time (seconds, or ms with ``per_second=1000``); now when absent."""
    if value in (None, ""):
        return datetime.now(UTC)
    n = dec(value, name) / per_second
    if not 0 < n < 10**11:
        raise WireError(f"{name}: {value!r} is not a sane time")
    return datetime.fromtimestamp(float(n), UTC)


PROTOCOL_VERSIONS = ("v1", "v2")
_UINT256_MAX = (1 << 256) - 1
_V2_RESERVED_BITS = ((1 << 64) - 1) << 40


def protocol_of(token_id: str) -> str:
    """The protocol an outcome id trades on, read from the id itself, for ids known
    without their Gamma market (the CLOB's ``/clob-markets`` and books say nothing of
    it). Polymarket's own SDK decides the same way (py-sdk ``protocol.is_v2_position_id``,
    which routes orders to ExchangeV3 and balances to ``CONDITIONAL-V2``): a protocol-V2
    position id leaves bits 40-103 clear, while a CTF token id is a keccak hash (64
    given bits all zero: odds of 2^-64)."""
    if not token_id.isdigit():
        return "v1"
    value = int(token_id)
    return "v2" if value <= _UINT256_MAX and not value & _V2_RESERVED_BITS else "v1"


def json_list(value: Any, name: str) -> list[Any]:
    """Gamma's JSON-in-a-string arrays (``"[\\"Yes\\", \\"No\\"]"``), or a real array."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise WireError(f"{name}: not a JSON array") from None
    if not isinstance(value, list):
        raise WireError(f"{name}: not an array")
    return value


def tick(value: Any, name: str = "tick_size") -> Decimal:
    t = dec(value, name)
    if t.normalize() not in VALID_TICKS:
        raise WireError(f"{name}: {t} is not a Polymarket tick size")
    return t.normalize()


def tick_key(t: Decimal) -> str:
    """The tick as py-clob-client-v2 spells it (``"0.01"``)."""
    return format(t.normalize(), "f")


# ---------------------------------------------------------------- Gamma


def fee_schedule(raw: Mapping[str, Any]) -> FeeSchedule:
    # Taker fees apply almost everywhere since 2026-03-30: only an explicit
    # ``feesEnabled: false`` makes a market free; silence is priced at the top rate below.
    if raw.get("feesEnabled") is False:
        return FeeSchedule(PM, ZERO)
    sched = raw.get("feeSchedule")
    if isinstance(sched, Mapping) and sched.get("rate") is not None:
        rate = dec(sched["rate"], "feeSchedule.rate")
        exponent = dec(sched.get("exponent", 1), "feeSchedule.exponent")
        if not ZERO <= rate <= ONE or exponent != exponent.to_integral_value() or exponent < 0:
            raise WireError("feeSchedule: absurd values")
        return FeeSchedule(PM, rate, int(exponent))
    fee_type = text(raw.get("feeType")).lower()
    for key, rate in _FEE_TYPE_RATES:
        if key in fee_type:
            return FeeSchedule(PM, rate)
    log.info("polymarket fee type unknown, assuming the top rate", extra={"fee_type": fee_type})
    return FeeSchedule(PM, _MAX_FEE_RATE)


def market_status(raw: Mapping[str, Any]) -> MarketStatus:
    closed = flag(raw.get("closed"))
    if closed and is_resolved(raw):
        return MarketStatus.SETTLED
    if closed:
        return MarketStatus.CLOSED
    if flag(raw.get("acceptingOrders")) and flag(raw.get("active")):
        return MarketStatus.OPEN
    return MarketStatus.PAUSED


def is_resolved(raw: Mapping[str, Any]) -> bool:
    return "resolved" in (
        text(raw.get("umaResolutionStatus")).lower(),
        text(raw.get("resolutionStatus")).lower(),
    )


def _category(raw: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    for source in (event, raw):
        if text(source.get("category")):
            return text(source.get("category"))
    for tag in event.get("tags") or ():
        if isinstance(tag, Mapping):
            found = _CATEGORY_BY_TAG.get(text(tag.get("slug")).lower())
            if found:
                return found
    return ""


def gamma_market(
    raw: Any, event: Mapping[str, Any] | None = None, *, now: datetime | None = None
) -> Market:
    """One Gamma market object. ``event`` is the parent when the market came nested in
    an event; otherwise the market's own ``events[0]`` is used."""
    if not isinstance(raw, Mapping):
        raise WireError("market: not an object")
    market_id = text(raw.get("id"))
    if not market_id:
        raise WireError("market: no id")
    if event is None:
        nested = raw.get("events")
        event = nested[0] if isinstance(nested, list) and nested else {}
        if not isinstance(event, Mapping):
            event = {}
    outcomes = [text(o) for o in json_list(raw.get("outcomes"), "outcomes")]
    # Protocol-V2 markets trade their positionIds (ExchangeV3), v1 their CTF token ids;
    # chosen by version, never by which field is present (both can be).
    version = text(raw.get("version")) or "v1"  # older records carry no version
    if version not in PROTOCOL_VERSIONS:
        raise WireError(f"market {market_id}: unsupported protocol version {version!r}")
    ids_field = "positionIds" if version == "v2" else "clobTokenIds"
    tokens = [text(t) for t in json_list(raw.get(ids_field), ids_field)]
    if len(outcomes) < 2 or len(outcomes) != len(tokens) or not all(outcomes + tokens):
        raise WireError(f"market {market_id}: outcomes and token ids do not pair")
    if not all(t.isdigit() for t in tokens):
        raise WireError(f"market {market_id}: token ids are not decimal")
    contracts = tuple(
        Contract(PM, market_id, side=o, token_id=t) for o, t in zip(outcomes, tokens, strict=True)
    )
    tick_raw = raw.get("orderPriceMinTickSize")
    min_raw = raw.get("orderMinSize")
    end = when(raw.get("endDate"))
    sports_type = text(raw.get("sportsMarketType"))
    game_start = when(raw.get("gameStartTime")) or when(event.get("startTime"))
    resolve_time = game_start if sports_type and game_start else end
    now = now or datetime.now(UTC)
    extra = {
        "version": version,
        "conditionId": text(raw.get("conditionId")),
        "slug": text(raw.get("slug")),
        "negRiskMarketID": text(raw.get("negRiskMarketID")),
        "sportsMarketType": sports_type,
        "line": text(raw.get("line")),
        "gameStartTime": game_start.isoformat() if game_start else "",
        # Hints for the matcher (see matching.normalize).
        "event_title": text(event.get("title")),
        "tags": ",".join(
            text(t.get("label") or t.get("slug"))
            for t in (event.get("tags") or ())
            if isinstance(t, Mapping)
        ),
        "resolution_source": text(raw.get("resolutionSource") or event.get("resolutionSource")),
    }
    return Market(
        venue=PM,
        market_id=market_id,
        event_id=text(event.get("id")) or text(event.get("slug")) or text(raw.get("slug")),
        title=text(raw.get("question")),
        contracts=contracts,
        status=market_status(raw),
        close_time=end,
        resolve_time=resolve_time,
        category=_category(raw, event),
        series=text(event.get("slug")),
        subtitle=text(raw.get("groupItemTitle")),
        rules=text(raw.get("description")),
        tick_size=tick(tick_raw, "orderPriceMinTickSize")
        if tick_raw is not None
        else Decimal("0.01"),
        min_order_size=size(min_raw, "orderMinSize") if min_raw is not None else ONE,
        fee=fee_schedule(raw),
        neg_risk=flag(raw.get("negRisk")),
        live=bool(sports_type and game_start and end and game_start <= now < end),
        extra={k: v for k, v in extra.items() if v},
    )


def gamma_markets(items: Any, event: Mapping[str, Any] | None = None) -> list[Market]:
    """A list of Gamma markets; a bad one is logged and skipped."""
    if not isinstance(items, list):
        raise WireError("markets: not an array")
    out: list[Market] = []
    for item in items:
        try:
            out.append(gamma_market(item, event))
        except WireError as exc:
            log.warning("skipping polymarket market", extra={"reason": str(exc)})
    return out


def gamma_events(items: Any) -> list[Market]:
    """``GET /events``: every market of every event, with the event as parent."""
    if not isinstance(items, list):
        raise WireError("events: not an array")
    out: list[Market] = []
    for ev in items:
        if not isinstance(ev, Mapping) or not isinstance(ev.get("markets", []), list):
            log.warning("skipping polymarket event", extra={"reason": "not an event object"})
            continue
        out.extend(gamma_markets(ev.get("markets") or [], ev))
    return out


def resolution(raw: Any) -> Resolution | None:
    """The final result of a Gamma market, or ``None`` while it is not resolved.

    Resolved means ``closed`` + a ``resolved`` status + ``outcomePrices`` of one 1 and
    zeros, or all equal halves (a 50/50). Payouts are keyed by outcome label and token.
    """
    market = gamma_market(raw)
    if market.status is not MarketStatus.SETTLED:
        return None
    prices = [price(p, "outcomePrices") for p in json_list(raw.get("outcomePrices"), "prices")]
    if len(prices) != len(market.contracts):
        raise WireError(f"market {market.market_id}: outcomePrices do not pair")
    winner_takes_all = sorted(prices) == [ZERO] * (len(prices) - 1) + [ONE]
    fifty_fifty = len(prices) == 2 and prices == [Decimal("0.5")] * 2
    if not (winner_takes_all or fifty_fifty):
        return None
    payouts: dict[str, Decimal] = {}
    for c, p in zip(market.contracts, prices, strict=True):
        payouts[c.side] = p
        payouts[c.token_id] = p
    return Resolution(
        market.market_id, payouts, settled_at=when(text(raw.get("closedTime")) or None)
    )


# ---------------------------------------------------------------- CLOB market data


def _levels(raw: Any, name: str) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        raise WireError(f"{name}: not an array")
    levels = []
    for lv in raw:
        if not isinstance(lv, Mapping):
            raise WireError(f"{name}: level is not an object")
        levels.append(Level(price(lv.get("price"), name), size(lv.get("size"), name)))
    # The wire lists the best level last on both sides; the domain wants it first.
    return tuple(reversed(levels))


def book(
    raw: Any, contract: Contract, *, tick_size: Decimal | None = None, min_size: Decimal = ONE
) -> OrderBook:
    """``GET /book``: bids ascending and asks descending on the wire, best first here."""
    if not isinstance(raw, Mapping):
        raise WireError("book: not an object")
    if text(raw.get("asset_id")) and text(raw.get("asset_id")) != contract.token_id:
        raise WireError("book: for another token")
    bids = _levels(raw.get("bids"), "bids")
    asks = _levels(raw.get("asks"), "asks")
    if any(a.price <= b.price for a, b in itertools.pairwise(bids)) or any(
        a.price >= b.price for a, b in itertools.pairwise(asks)
    ):
        raise WireError("book: levels out of order")
    ts = epoch(raw.get("timestamp"), "timestamp", per_second=1000)
    t = tick(raw["tick_size"]) if raw.get("tick_size") not in (None, "") else tick_size
    mos = raw.get("min_order_size")
    return OrderBook(
        contract=contract,
        bids=bids,
        asks=asks,
        ts=ts,
        tick_size=t or Decimal("0.01"),
        min_order_size=size(mos, "min_order_size") if mos not in (None, "") else min_size,
    )


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What signing needs per token, from ``/clob-markets/{cid}`` or a book."""

    token_id: str
    condition_id: str
    outcome: str
    tick_size: Decimal
    neg_risk: bool
    min_order_size: Decimal = ONE
    fee: FeeSchedule | None = None
    protocol: str = "v1"  # "v2": a position id, signed for ExchangeV3, CONDITIONAL-V2


def clob_market_info(raw: Any, condition_id: str) -> list[TokenInfo]:
    """``GET /clob-markets/{cid}``: ``{t:[{t,o}], mts, mos, nr, fd:{r,e,to}}``. It has
    no protocol field, so each token's protocol comes from its id (``protocol_of``)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("t"), list):
        raise WireError("clob market: no tokens")
    fd = raw.get("fd")
    fee = None
    if isinstance(fd, Mapping) and fd.get("r") is not None:
        fee = FeeSchedule(PM, price(fd["r"], "fd.r"), int(dec(fd.get("e", 1), "fd.e")))
    out = []
    for tok in raw["t"]:
        if not isinstance(tok, Mapping) or not text(tok.get("t")).isdigit():
            raise WireError("clob market: bad token")
        out.append(
            TokenInfo(
                token_id=text(tok["t"]),
                condition_id=condition_id,
                outcome=text(tok.get("o")),
                tick_size=tick(raw.get("mts"), "mts"),
                neg_risk=flag(raw.get("nr")),
                min_order_size=size(raw.get("mos", 1), "mos"),
                fee=fee,
                protocol=protocol_of(text(tok["t"])),
            )
        )
    return out


def balance(raw: Any) -> Decimal:
    """``GET /balance-allowance``: ``balance`` in 6-dp base units."""
    if not isinstance(raw, Mapping):
        raise WireError("balance: not an object")
    return base_units(raw.get("balance"), "balance")


# ---------------------------------------------------------------- CLOB orders and trades

# Order sizes the bot could ever send: a bigger integer is fixed-math base units.
SHARE_BOUND = Decimal(999_999)
FEE_QUANTUM = Decimal("0.00001")


@dataclass(frozen=True, slots=True)
class PostedOrder:
    """The answer to ``POST /order`` (HTTP 200)."""

    success: bool
    order_id: str
    status: str  # live | matched | delayed | unmatched (lower case)
    making: Decimal  # what we gave: pUSD for a BUY, shares for a SELL
    taking: Decimal  # what we got: shares for a BUY, pUSD for a SELL
    trade_ids: tuple[str, ...]
    error: str


def posted_order(raw: Any, *, making_bound: Decimal, taking_bound: Decimal) -> PostedOrder:
    if not isinstance(raw, Mapping):
        raise WireError("order reply: not an object")
    trade_ids = raw.get("tradeIDs") or []
    if not isinstance(trade_ids, list):
        raise WireError("order reply: tradeIDs not an array")
    return PostedOrder(
        success=raw.get("success") is not False,
        order_id=text(raw.get("orderID")),
        status=text(raw.get("status")).lower(),
        making=amount(raw.get("makingAmount"), "makingAmount", making_bound),
        taking=amount(raw.get("takingAmount"), "takingAmount", taking_bound),
        trade_ids=tuple(text(t) for t in trade_ids if text(t)),
        error=text(raw.get("errorMsg") or raw.get("error")),
    )


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """``GET /data/order/{id}`` (an OpenOrder)."""

    order_id: str
    status: str  # LIVE, MATCHED, CANCELED, ... without the ORDER_STATUS_ prefix
    token_id: str
    outcome: str
    side: str  # BUY | SELL
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    trade_ids: tuple[str, ...]


def open_order(raw: Any, *, bound: Decimal = SHARE_BOUND) -> OpenOrder:
    if not isinstance(raw, Mapping) or not text(raw.get("id")):
        raise WireError("order: not an order object")
    side = text(raw.get("side")).upper()
    if side not in ("BUY", "SELL"):
        raise WireError(f"order: side {side!r}")
    original = amount(raw.get("original_size"), "original_size", bound)
    matched = amount(raw.get("size_matched"), "size_matched", bound)
    if matched > original and side == "SELL":  # a market BUY may match surplus shares
        raise WireError("order: matched more than its size")
    trades = raw.get("associate_trades") or []
    return OpenOrder(
        order_id=text(raw["id"]),
        status=text(raw.get("status")).upper().removeprefix("ORDER_STATUS_"),
        token_id=text(raw.get("asset_id")),
        outcome=text(raw.get("outcome")),
        side=side,
        price=price(raw.get("price")),
        original_size=original,
        size_matched=matched,
        trade_ids=tuple(text(t) for t in trades if text(t)) if isinstance(trades, list) else (),
    )


@dataclass(frozen=True, slots=True)
class Trade:
    """One of our trades, seen from our side (taker or maker)."""

    trade_id: str
    order_id: str
    token_id: str
    outcome: str
    side: str  # BUY | SELL, our side
    price: Decimal
    size: Decimal
    fee_rate: Decimal | None  # None when the trade does not say
    taker: bool
    status: str  # MATCHED, MINED, CONFIRMED, RETRYING, FAILED (no TRADE_STATUS_ prefix)
    ts: datetime

    @property
    def final(self) -> bool:
        return self.status == "CONFIRMED"

    @property
    def failed(self) -> bool:
        return self.status == "FAILED"

    @property
    def fee(self) -> Decimal:
        """Taker fee ``C × rate × p × (1 − p)``, rounded to 5 dp; makers pay nothing."""
        if not self.taker or not self.fee_rate:
            return ZERO
        return (self.size * self.fee_rate * self.price * (ONE - self.price)).quantize(FEE_QUANTUM)


def trade(raw: Any, *, address: str, bound: Decimal = SHARE_BOUND) -> Trade:
    """``GET /data/trades`` item. ``address`` is our maker address, to find our side
    when we were a maker."""
    if not isinstance(raw, Mapping) or not text(raw.get("id")):
        raise WireError("trade: not a trade object")
    taker = text(raw.get("trader_side")).upper() != "MAKER"
    order_id, side = text(raw.get("taker_order_id")), text(raw.get("side")).upper()
    qty, px = raw.get("size"), raw.get("price")
    token, outcome = text(raw.get("asset_id")), text(raw.get("outcome"))
    rate_raw = raw.get("fee_rate_bps")
    if not taker:
        mine = [
            m
            for m in raw.get("maker_orders") or []
            if isinstance(m, Mapping) and text(m.get("maker_address")).lower() == address.lower()
        ]
        if not mine:
            raise WireError("trade: maker trade without our maker order")
        m = mine[0]
        order_id, side = text(m.get("order_id")), text(m.get("side")).upper()
        qty, px = m.get("matched_amount"), m.get("price")
        token, outcome = text(m.get("asset_id")) or token, text(m.get("outcome")) or outcome
        rate_raw = m.get("fee_rate_bps", rate_raw)
    if side not in ("BUY", "SELL"):
        raise WireError(f"trade: side {side!r}")
    ts = epoch(raw.get("match_time"), "match_time")
    fee_rate = None if rate_raw in (None, "") else dec(rate_raw, "fee_rate_bps") / 10_000
    if fee_rate is not None and not ZERO <= fee_rate <= ONE:
        raise WireError("trade: absurd fee rate")
    return Trade(
        trade_id=text(raw["id"]),
        order_id=order_id,
        token_id=token,
        outcome=outcome,
        side=side,
        price=price(px),
        size=amount(qty, "size", bound),
        fee_rate=fee_rate,
        taker=taker,
        status=text(raw.get("status")).upper().removeprefix("TRADE_STATUS_"),
        ts=ts,
    )


def cursor_page(raw: Any) -> tuple[list[Any], str]:
    """``{data:[...], next_cursor}``; ``"LTE="`` (or nothing) means the last page."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("data"), list):
        raise WireError("page: no data array")
    return list(raw["data"]), text(raw.get("next_cursor"))
