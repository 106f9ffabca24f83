"""Confirmation of in-play (live) opportunities over consecutive book updates.

In-play books move fast and a one-update arbitrage is often a stale or crossed quote.
The calculator therefore marks a live opportunity not executable; this tracker makes
it executable only when the same leg set of the same pair was also found on the
previous book update of that pair. The only stateful piece of ``arbitrage``; no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from predarb.arbitrage.calculator import BELOW_MINIMUM, LIVE_REASON
from predarb.domain import Opportunity

LegSet = frozenset[str]


def leg_set(opp: Opportunity) -> LegSet:
    """What identifies an opportunity across updates: the contracts it buys."""
    return frozenset(leg.contract.key for leg in opp.legs)


class LiveConfirmation:
    """Call ``observe`` once per book update of a pair with everything the calculator
    found for it (an empty list included: that is what resets a confirmation)."""

    def __init__(self) -> None:
        self._previous: dict[str, set[LegSet]] = {}

    def observe(self, pair_id: str, opportunities: Sequence[Opportunity]) -> list[Opportunity]:
        """The opportunities, with live ones seen on the previous update made executable.
        Non-live opportunities pass through unchanged."""
        seen_before = self._previous.get(pair_id, set())
        current: set[LegSet] = set()
        out: list[Opportunity] = []
        for opp in opportunities:
            if not opp.live:
                out.append(opp)
                continue
            key = leg_set(opp)
            current.add(key)
            if key in seen_before and LIVE_REASON in opp.reason:
                out.append(_confirmed(opp))
            else:
                out.append(opp)
        if current:
            self._previous[pair_id] = current
        else:
            self._previous.pop(pair_id, None)
        return out

    def forget(self, pair_id: str) -> None:
        """Drop a pair's state (the pair was removed or its market closed)."""
        self._previous.pop(pair_id, None)


def _confirmed(opp: Opportunity) -> Opportunity:
    reasons = [r for r in opp.reason.split("; ") if r and r != LIVE_REASON]
    executable = not any(r.startswith(BELOW_MINIMUM) for r in reasons)
    return dataclasses.replace(opp, executable=executable, reason="; ".join(reasons))
