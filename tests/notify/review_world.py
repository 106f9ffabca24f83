"""Two flagged pairs for review tests (the phone's and the dashboard's): Kalshi and
Polymarket list the same claims (Trump visits Japan, Peru) with window edges that differ
(10:00 ET on Jul 1 against the end of Jun 30), so each pair is likely, not certain, and
asked about; the books hold an arbitrage on both. Markets made here, not recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from predarb.arbitrage.fees import kalshi_schedule, polymarket_schedule
from predarb.domain import Contract, Level, Market, OrderBook, Venue
from tests.fakes.scripted_venue import ScriptedVenue

K = Venue.KALSHI
P = Venue.POLYMARKET


@dataclass
class ListingVenue(ScriptedVenue):
    """A scripted venue that also lists markets and shows books."""

    markets: list[Market] = field(default_factory=list)
    asks: dict[Contract, Decimal] = field(default_factory=dict)

    async def list_markets(self) -> list[Market]:
        return list(self.markets)

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        return {
            c: OrderBook(c, (), (Level(self.asks[c], Decimal(50)),), datetime.now(UTC))
            for c in contracts
            if c in self.asks
        }


def kalshi_market(ticker: str, title: str) -> Market:
    contracts = (Contract(K, ticker, "yes"), Contract(K, ticker, "no"))
    return Market(K, ticker, ticker.rsplit("-", 1)[0], title, contracts,
                  rules=f"If {title[5:-1]}, then the market resolves to Yes.",
                  fee=kalshi_schedule())  # fmt: skip


def poly_market(mid: str, question: str) -> Market:
    contracts = (Contract(P, mid, "Yes", f"{mid}1"), Contract(P, mid, "No", f"{mid}2"))
    return Market(P, mid, f"ev{mid}", question, contracts, rules=f'Resolves "Yes" if {question}',
                  fee=polymarket_schedule(Decimal("0.02")))  # fmt: skip


# The window edges differ (10:00 ET on Jul 1 against the end of Jun 30): likely the same
# claim, not certain, so each pair is asked about.
EDGE = "2026-07-01T14:00:00Z"
JAPAN = (
    kalshi_market("KXTRUMPJAPAN-26JUL01-T", f"Will Donald Trump visit Japan before {EDGE}?"),
    poly_market("7001", "Will Trump visit Japan by June 30, 2026?"),
)
PERU = (
    kalshi_market("KXTRUMPPERU-26JUL01-T", f"Will Donald Trump visit Peru before {EDGE}?"),
    poly_market("7002", "Will Trump visit Peru by June 30, 2026?"),
)


def listing_venues() -> dict[Venue, ListingVenue]:
    kalshi = ListingVenue(K, markets=[JAPAN[0], PERU[0]])
    poly = ListingVenue(P, markets=[JAPAN[1], PERU[1]])
    for km, pm in (JAPAN, PERU):  # Kalshi YES 0.40 + Polymarket NO 0.45: an arbitrage
        kalshi.asks[km.contract("yes")] = Decimal("0.40")
        poly.asks[pm.contract("No")] = Decimal("0.45")
    return {K: kalshi, P: poly}
