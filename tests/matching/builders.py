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


def us_side(label: str, long: bool, team: tuple[str, str, str] | None = None) -> dict[str, object]:
    """A ``marketSides`` entry; ``team``: (name, abbreviation, league)."""
    side: dict[str, object] = {"description": label, "long": long, "tradable": True}
    if team is not None:
        side["team"] = {"name": team[0], "abbreviation": team[1], "league": team[2]}
    return side


def polymarket_us(
    slug: str,
    question: str,
    sides: Sequence[dict[str, object]],
    *,
    event_slug: str,
    game_start: str,
    category: str = "sports",
    sports_market_type: str = "moneyline",
) -> Market:
    """A Polymarket US market as ``GET /v1/markets`` lists it (docs.polymarket.us),
    read by the adapter's own wire module: the matcher sees what production sees."""
    from predarb.venues.polymarket_us import wire

    return wire.parse_market(
        {
            "id": abs(hash(slug)) % 10**6,
            "slug": slug,
            "question": question,
            "eventSlug": event_slug,
            "category": category,
            "active": True,
            "closed": False,
            "archived": False,
            "marketType": "MARKET_TYPE_BINARY",
            "sportsMarketType": sports_market_type,
            "gameStartTime": game_start,
            "endDate": game_start,
            "feeCoefficient": 0.003,
            "orderPriceMinTickSize": 0.01,
            "minimumTradeQty": 1,
            "marketSides": list(sides),
        }
    )
