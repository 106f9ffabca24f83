"""Blocking: which Kalshi/Polymarket facts are worth comparing at all.

Each fact carries blocking keys (kind plus a team, player, asset or surname) and an
event day. A Polymarket fact is a candidate for a Kalshi fact only when they share a key
and their days are at most ``day_slack`` apart (facts without a day only meet each
other). Cost is linear in the number of facts plus the size of the blocks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from predarb.matching.normalize import Facts, Kind

BlockKey = tuple[str, date | None]


def _days(day: date | None, slack: int) -> list[date | None]:
    if day is None:
        return [None]
    return [day + timedelta(days=d) for d in range(-slack, slack + 1)]


def candidate_pairs(
    kalshi: Sequence[Facts], poly: Sequence[Facts], *, day_slack: int = 1
) -> Iterator[tuple[int, int]]:
    """Index pairs (into ``kalshi``, ``poly``) that share a block, each once, in order."""
    index: dict[BlockKey, list[int]] = {}
    for j, p in enumerate(poly):
        if p.kind is Kind.UNKNOWN:
            continue
        for key in p.keys:
            index.setdefault((key, p.day), []).append(j)
    for i, k in enumerate(kalshi):
        if k.kind is Kind.UNKNOWN:
            continue
        seen: set[int] = set()
        for key in k.keys:
            for day in _days(k.day, day_slack):
                seen.update(index.get((key, day), ()))
        yield from ((i, j) for j in sorted(seen))
