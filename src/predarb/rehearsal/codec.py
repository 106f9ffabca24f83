"""Domain types to and from the JSON objects of a recording. Pure.

Money and sizes are decimal strings, times integer nanoseconds since the epoch (UTC).
Only what the engine reads is kept; ``Market.extra`` travels as it is (strings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from predarb.domain import (
    Contract,
    FeeChange,
    FeeSchedule,
    Level,
    Market,
    MarketStatus,
    OrderBook,
    Resolution,
    Venue,
)

Json = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_of(ts: datetime) -> int:
    delta = ts - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def time_of(ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ns // 1000)


def _opt_ns(ts: datetime | None) -> int | None:
    return ns_of(ts) if ts is not None else None


def _opt_time(ns: int | None) -> datetime | None:
    return time_of(ns) if ns is not None else None


def contract_to_json(c: Contract) -> list[str]:
    return [c.venue.value, c.market_id, c.side, c.token_id]


def contract_from_json(raw: Sequence[str]) -> Contract:
    return Contract(Venue(raw[0]), raw[1], raw[2], raw[3])


def _fee_to_json(fee: FeeSchedule | None) -> Json | None:
    if fee is None:
        return None
    return {
        "v": fee.venue.value,
        "r": str(fee.rate),
        "e": fee.exponent,
        "m": str(fee.maker_rate),
    }


def _fee_from_json(raw: Mapping[str, Any] | None) -> FeeSchedule | None:
    if raw is None:
        return None
    return FeeSchedule(Venue(raw["v"]), Decimal(raw["r"]), int(raw["e"]), Decimal(raw["m"]))


def market_to_json(m: Market) -> Json:
    return {
        "venue": m.venue.value,
        "id": m.market_id,
        "event": m.event_id,
        "title": m.title,
        "contracts": [contract_to_json(c) for c in m.contracts],
        "status": m.status.value,
        "close": _opt_ns(m.close_time),
        "resolve": _opt_ns(m.resolve_time),
        "category": m.category,
        "series": m.series,
        "subtitle": m.subtitle,
        "rules": m.rules,
        "tick": str(m.tick_size),
        "min": str(m.min_order_size),
        "fee": _fee_to_json(m.fee),
        "neg_risk": m.neg_risk,
        "live": m.live,
        "extra": dict(m.extra),
        "shard": m.exchange_index,
        "fee_changes": [[ns_of(f.at), _fee_to_json(f.fee)] for f in m.fee_changes],
    }


def market_from_json(raw: Mapping[str, Any]) -> Market:
    return Market(
        venue=Venue(raw["venue"]),
        market_id=raw["id"],
        event_id=raw["event"],
        title=raw["title"],
        contracts=tuple(contract_from_json(c) for c in raw["contracts"]),
        status=MarketStatus(raw["status"]),
        close_time=_opt_time(raw["close"]),
        resolve_time=_opt_time(raw["resolve"]),
        category=raw["category"],
        series=raw["series"],
        subtitle=raw["subtitle"],
        rules=raw["rules"],
        tick_size=Decimal(raw["tick"]),
        min_order_size=Decimal(raw["min"]),
        fee=_fee_from_json(raw["fee"]),
        neg_risk=bool(raw["neg_risk"]),
        live=bool(raw["live"]),
        extra={str(k): str(v) for k, v in raw["extra"].items()},
        exchange_index=int(raw["shard"]),
        fee_changes=tuple(
            FeeChange(time_of(at), _fee_from_json(fee)) for at, fee in raw["fee_changes"]
        ),
    )


def levels_to_json(levels: Sequence[Level]) -> list[list[str]]:
    return [[str(lv.price), str(lv.size)] for lv in levels]


def levels_from_json(raw: Sequence[Sequence[str]]) -> tuple[Level, ...]:
    return tuple(_level(p, s) for p, s in raw)


def level_changes(old: Sequence[Level], new: Sequence[Level]) -> list[list[str]]:
    """The levels that differ from ``old`` to ``new``: ``[price, size]``, size "0" for a
    level gone."""
    before = {lv.price: lv.size for lv in old}
    after = {lv.price: lv.size for lv in new}
    out = [[str(p), str(s)] for p, s in after.items() if before.get(p) != s]
    out.extend([str(p), "0"] for p in before if p not in after)
    return out


@lru_cache(maxsize=65_536)
def _decimal(text: str) -> Decimal:
    """Prices and sizes repeat all day: each text is parsed once (Decimals are immutable)."""
    return Decimal(text)


@lru_cache(maxsize=65_536)
def _level(price: str, size: str) -> Level:
    return Level(_decimal(price), _decimal(size))


def apply_changes(
    levels: Sequence[Level], changes: Sequence[Sequence[str]], *, descending: bool
) -> tuple[Level, ...]:
    """``levels`` with ``changes`` (from ``level_changes``) applied, best first. Levels
    are shared, not rebuilt: a replay applies millions of changes."""
    if not changes:
        return tuple(levels)
    by_price = {lv.price: lv for lv in levels}
    for p, s in changes:
        level = _level(p, s)
        if level.size > 0:
            by_price[level.price] = level
        else:
            by_price.pop(level.price, None)
    return tuple(map(by_price.__getitem__, sorted(by_price, reverse=descending)))


def book_to_json(book: OrderBook) -> Json:
    return {
        "bids": levels_to_json(book.bids),
        "asks": levels_to_json(book.asks),
        "ts": ns_of(book.ts),
        "tick": str(book.tick_size),
        "min": str(book.min_order_size),
    }


def book_from_json(contract: Contract, raw: Mapping[str, Any]) -> OrderBook:
    return OrderBook(
        contract,
        levels_from_json(raw["bids"]),
        levels_from_json(raw["asks"]),
        time_of(raw["ts"]),
        Decimal(raw["tick"]),
        Decimal(raw["min"]),
    )


def resolution_to_json(venue: Venue, r: Resolution) -> Json:
    return {
        "venue": venue.value,
        "id": r.market_id,
        "payouts": {k: str(v) for k, v in r.payouts.items()},
        "void": r.void,
        "at": _opt_ns(r.settled_at),
    }


def resolution_from_json(raw: Mapping[str, Any]) -> tuple[Venue, Resolution]:
    return Venue(raw["venue"]), Resolution(
        raw["id"],
        {k: Decimal(v) for k, v in raw["payouts"].items()},
        void=bool(raw["void"]),
        settled_at=_opt_time(raw["at"]),
    )
