"""Small constructors for calculator tests: contracts, books, pairs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from predarb.domain import CENT, Contract, Level, OrderBook, Pair, PairKind, Venue, World

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
D = Decimal


def kalshi(ticker: str, side: str = "yes") -> Contract:
    return Contract(Venue.KALSHI, ticker, side)


def poly(market_id: str, outcome: str) -> Contract:
    return Contract(Venue.POLYMARKET, market_id, outcome, f"tok-{market_id}-{outcome}")


def book(
    contract: Contract,
    asks: Sequence[tuple[str, str]],
    *,
    min_size: str = "1",
    tick: Decimal = CENT,
    ts: datetime = NOW,
) -> OrderBook:
    return OrderBook(
        contract=contract,
        bids=(),
        asks=tuple(Level(D(p), D(s)) for p, s in asks),
        ts=ts,
        tick_size=tick,
        min_order_size=D(min_size),
    )


def pair(
    worlds: Sequence[tuple[str, Sequence[Contract]]],
    *,
    kind: PairKind = PairKind.BINARY,
    exhaustive: bool = True,
    tradable: bool = True,
    flags: tuple[str, ...] = (),
    live: bool = False,
) -> Pair:
    return Pair(
        pair_id="pair-1",
        kind=kind,
        event="Test event",
        worlds=tuple(World(label, tuple(cs)) for label, cs in worlds),
        confidence=0.97,
        tradable=tradable,
        exhaustive=exhaustive,
        flags=flags,
        live=live,
    )


K_YES, K_NO = kalshi("KX-A", "yes"), kalshi("KX-A", "no")
P_YES, P_NO = poly("123", "Yes"), poly("123", "No")
BINARY = pair([("yes", (K_YES, P_YES)), ("no", (K_NO, P_NO))])
