"""Blocking: which Kalshi/Polymarket facts are worth comparing at all.

Each fact carries blocking keys (kind plus a team, player, asset or surname) and an
event day. A Polymarket fact is a candidate for a Kalshi fact only when they share a key
and their days are at most ``day_slack`` apart (facts without a day only meet each
other). Propositions (claims with a deadline) are blocked on words instead: a Kalshi
claim meets the Polymarket claims that contain one of its ``RARE_KEYS`` rarest words (by
how many Polymarket claims use them), so "trump" or "visit" make a block only for a
claim made of nothing rarer. Cost is linear in the number of facts plus the size of the blocks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from predarb.matching.normalize import Facts, Kind

BlockKey = tuple[str, date | None]
RARE_KEYS = 3
COMMON_WORD = 200  # Polymarket claims using a word beyond which it blocks only alone


def _days(day: date | None, slack: int) -> list[date | None]:
    if day is None:
        return [None]
    return [day + timedelta(days=d) for d in range(-slack, slack + 1)]


def candidate_pairs(
    kalshi: Sequence[Facts], poly: Sequence[Facts], *, day_slack: int = 1
) -> Iterator[tuple[int, int]]:
    """Index pairs (into ``kalshi``, ``poly``) that share a block, each once, in order."""
    yield from _claim_pairs(kalshi, poly)
    index: dict[BlockKey, list[int]] = {}
    for j, p in enumerate(poly):
        if p.kind in (Kind.UNKNOWN, Kind.PROPOSITION):
            continue
        for key in p.keys:
            index.setdefault((key, p.day), []).append(j)
    for i, k in enumerate(kalshi):
        if k.kind in (Kind.UNKNOWN, Kind.PROPOSITION):
            continue
        seen: set[int] = set()
        for key in k.keys:
            for day in _days(k.day, day_slack):
                seen.update(index.get((key, day), ()))
        yield from ((i, j) for j in sorted(seen))


def _claim_pairs(kalshi: Sequence[Facts], poly: Sequence[Facts]) -> Iterator[tuple[int, int]]:
    postings: dict[str, list[int]] = {}
    for j, p in enumerate(poly):
        if p.claim is not None:
            for word in p.claim.words:
                postings.setdefault(word, []).append(j)
    for i, k in enumerate(kalshi):
        if k.claim is None:
            continue
        # A word no Polymarket claim uses (a first name the other venue leaves out) cannot
        # find the pair: the rarest words that some claim there does use can. The rarest
        # always makes a block; the next ones only while they are rare themselves.
        used = sorted((len(postings[w]), w) for w in k.claim.words if w in postings)
        seen: set[int] = set()
        for n, (size, word) in enumerate(used[:RARE_KEYS]):
            if n == 0 or size <= COMMON_WORD:
                seen.update(postings[word])
        yield from ((i, j) for j in sorted(seen))
