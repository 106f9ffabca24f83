"""The live opportunities: each priced pair's best opportunity and what risk said.

The engine tells the board what each scan priced and each decision; a pair re-priced
without an opportunity leaves the board. Plain dict updates, no I/O: it sits on the
hot path between pricing and the orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from predarb.domain import Opportunity, Pair
from predarb.risk import RiskDecision


@dataclass(frozen=True, slots=True)
class Sighting:
    opportunity: Opportunity
    decision: RiskDecision | None  # None: priced, not yet put to risk
    seen_at: datetime


class OpportunityBoard:
    def __init__(self) -> None:
        self.entries: dict[str, Sighting] = {}
        self.version = 0  # bumped on every change, for the live page

    def priced(self, pairs: Sequence[Pair], found: Sequence[Opportunity], now: datetime) -> None:
        """One scan's result: ``found`` for the pairs that have an opportunity, and the
        other ``pairs`` priced to nothing."""
        best = {o.pair_id: o for o in found}
        for pair in pairs:
            opp = best.get(pair.pair_id)
            if opp is None:
                if self.entries.pop(pair.pair_id, None) is not None:
                    self.version += 1
            else:
                self.entries[pair.pair_id] = Sighting(opp, None, now)
                self.version += 1

    def decided(self, opp: Opportunity, decision: RiskDecision) -> None:
        seen = self.entries.get(opp.pair_id)
        self.entries[opp.pair_id] = Sighting(opp, decision, seen.seen_at if seen else opp.quote_ts)
        self.version += 1

    def sightings(self) -> list[Sighting]:
        """Most profitable first."""
        return sorted(self.entries.values(), key=lambda s: s.opportunity.profit, reverse=True)
