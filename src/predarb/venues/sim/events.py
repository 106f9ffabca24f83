"""The simulator's state: events (real-world facts) and the markets listed on them.

A ``SimMarket`` holds its current book quoted on one contract; the world walks, quotes
and resolves them, the listings create them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from predarb.domain import Contract, Level, Market, Venue

K, P = Venue.KALSHI, Venue.POLYMARKET


@dataclass(eq=False)
class SimMarket:
    """One listed market. Its book is quoted on ``primary`` (Kalshi YES, Polymarket's
    first token); the other contract mirrors it (a bid at p is an ask at 1 - p)."""

    market: Market
    outcome: int  # index of the event outcome in which ``primary`` pays
    # The outcome in which ``mirror`` pays and nothing else does (None: several do, as for
    # a 3-way NO, or a tie is possible).
    mirror_outcome: int | None
    half_spread: float
    deviation: float = 0.0
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    taken_bids: dict[Decimal, Decimal] = field(default_factory=dict)
    taken_asks: dict[Decimal, Decimal] = field(default_factory=dict)

    @property
    def primary(self) -> Contract:
        return self.market.contracts[0]

    @property
    def mirror(self) -> Contract:
        return self.market.contracts[1]

    def paying_only_in(self, outcome: int) -> list[Contract]:
        """The contracts of this market that pay $1 in ``outcome`` and in no other."""
        sides = ((self.primary, self.outcome), (self.mirror, self.mirror_outcome))
        return [c for c, pays_in in sides if pays_in == outcome]


@dataclass(eq=False)
class SimEvent:
    """One real-world fact. ``outcomes`` are its mutually exclusive, exhaustive worlds."""

    key: str
    kind: str  # "game" | "threshold" | "soccer"
    title: str
    category: str
    outcomes: tuple[str, ...]
    resolve_at: datetime
    logits: list[float]
    markets: dict[Venue, list[SimMarket]] = field(default_factory=dict)
    # Index of the winning outcome per venue once resolved; None means void.
    winners: dict[Venue, int | None] = field(default_factory=dict)
    rigged: dict[Venue, int | None] | None = None

    @property
    def venues(self) -> tuple[Venue, ...]:
        return tuple(v for v in (K, P) if self.markets.get(v))

    @property
    def resolved(self) -> bool:
        return bool(self.winners)

    def probabilities(self) -> list[float]:
        top = max(self.logits)
        weights = [math.exp(x - top) for x in self.logits]
        total = sum(weights)
        return [w / total for w in weights]
