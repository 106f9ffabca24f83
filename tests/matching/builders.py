"""Domain Markets shaped like the venue adapters produce them, for matcher tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from predarb.domain import Contract, Market, Venue


def kalshi(
    ticker: str,
    title: str,
    sub: str = "",
    *,
    close: datetime | None = None,
    resolve: datetime | None = None,
    rules: str = "",
    extra: dict[str, str] | None = None,
) -> Market:
    event = ticker.rsplit("-", 1)[0] if ticker.count("-") >= 2 else ticker
    return Market(
        venue=Venue.KALSHI,
        market_id=ticker,
        event_id=event,
        title=title,
        contracts=(Contract(Venue.KALSHI, ticker, "yes"), Contract(Venue.KALSHI, ticker, "no")),
        close_time=close,
        resolve_time=resolve,
        series=ticker.split("-")[0],
        subtitle=sub,
        rules=rules,
        extra=extra or {},
    )


def poly(
    market_id: str,
    question: str,
    outcomes: Sequence[str] = ("Yes", "No"),
    *,
    event_id: str = "",
    slug: str = "",
    category: str = "",
    sub: str = "",
    close: datetime | None = None,
    resolve: datetime | None = None,
    rules: str = "",
    neg_risk: bool = False,
    extra: dict[str, str] | None = None,
) -> Market:
    contracts = tuple(
        Contract(Venue.POLYMARKET, market_id, o, f"{market_id}{i:02d}")
        for i, o in enumerate(outcomes)
    )
    return Market(
        venue=Venue.POLYMARKET,
        market_id=market_id,
        event_id=event_id or f"ev{market_id}",
        title=question,
        contracts=contracts,
        close_time=close,
        resolve_time=resolve or close,
        category=category,
        series=slug,
        subtitle=sub,
        rules=rules,
        neg_risk=neg_risk,
        extra=extra or {},
    )
