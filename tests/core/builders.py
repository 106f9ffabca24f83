"""Small builders of domain values (and of a database) for the core tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from predarb.domain import (
    ArbKind,
    Contract,
    Leg,
    Opportunity,
    Venue,
)
from predarb.store import Store

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
K_YES = Contract(Venue.KALSHI, "KXTEST-26NOV22-T1", "yes")
P_NO = Contract(Venue.POLYMARKET, "555", "No", "tok-no")


def opportunity(
    *,
    contracts: str = "5",
    k_price: str = "0.40",
    p_price: str = "0.55",
    event: str = "Test event",
    pair_id: str = "pair-1",
) -> Opportunity:
    n = Decimal(contracts)
    legs = (
        Leg(K_YES, "yes", Decimal(k_price), n, Decimal(k_price) * n, Decimal("0.0840")),
        Leg(P_NO, "no", Decimal(p_price), n, Decimal(p_price) * n, Decimal("0.06188")),
    )
    cost = sum((leg.cost for leg in legs), Decimal(0))
    fees = sum((leg.fee for leg in legs), Decimal(0))
    profit = n - cost - fees
    return Opportunity(
        pair_id=pair_id,
        kind=ArbKind.YES_NO,
        event=event,
        legs=legs,
        contracts=n,
        cost=cost,
        fees=fees,
        payout=n,
        profit=profit,
        roi_pct=(profit / (cost + fees) * 100).quantize(Decimal("0.0001")),
        quote_ts=T0,
    )


def make_database(path: Path) -> None:
    """A fresh predarb database at ``path``, closed (for tests outside an event loop)."""

    async def make() -> None:
        await (await Store.open(path)).close()

    asyncio.run(make())
