"""Blocking: which Kalshi/Polymarket facts are worth comparing at all.

Each fact carries blocking keys (kind plus a team, player, asset or surname) and an
event day. A Polymarket fact is a candidate for a Kalshi fact only when they share a key
and their days are at most ``day_slack`` apart (facts without a day only meet each
other). Propositions (claims with a deadline) are blocked on words instead: a
Polymarket claim meets the Kalshi claims that contain one of its ``RARE_KEYS`` rarest
words (by how many Kalshi claims use them), so "trump" or "visit" make a block only for
a claim made of nothing rarer. Cost is linear in the number of facts plus the size of
the blocks; only the Kalshi side is held while the Polymarket listing streams past.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from itertools import combinations

from predarb.matching.normalize import Facts, Kind

BlockKey = tuple[str, date | None]
RARE_KEYS = 2
COMMON_WORD = 50  # Kalshi claims using a word beyond which it blocks only alone


def _days(day: date | None, slack: int) -> list[date | None]:
    if day is None:
        return [None]
    return [day + timedelta(days=d) for d in range(-slack, slack + 1)]


class KalshiIndex:
    """The Kalshi facts, indexed so that each Polymarket fact, as it is listed, finds
    its candidates without the Polymarket listing ever being held whole."""

    def __init__(self, kalshi: Sequence[Facts], *, day_slack: int = 1) -> None:
        self.day_slack = day_slack
        self.games: dict[BlockKey, list[int]] = {}
        self.words: dict[str, list[int]] = {}
        self._sets: dict[str, frozenset[int]] = {}  # postings of common words, as sets
        for i, k in enumerate(kalshi):
            if k.claim is not None:
                for word in k.claim.words:
                    self.words.setdefault(word, []).append(i)
            elif k.kind is not Kind.UNKNOWN:
                for key in k.keys:
                    self.games.setdefault((key, k.day), []).append(i)

    def candidates(self, p: Facts) -> list[int]:
        """Indexes of the Kalshi facts sharing a block with ``p``, in order."""
        seen: set[int] = set()
        if p.claim is not None:
            # A word no Kalshi claim uses (a first name the other venue leaves out)
            # cannot find the pair: the rarest words some claim there does use can. Rare
            # words block alone; a claim made only of common words ("Will Trump visit
            # Iran?") meets the claims that share both of its two rarest.
            used = sorted((len(self.words[w]), w) for w in p.claim.words if w in self.words)
            rare = [w for size, w in used[:RARE_KEYS] if size <= COMMON_WORD]
            for word in rare:
                seen.update(self.words[word])
            if not rare and len(used) >= 2:
                common = [w for _, w in used[:RARE_KEYS]]
                for a, b in combinations(common, 2):
                    seen.update(i for i in self.words[a] if i in self._set(b))
        elif p.kind is not Kind.UNKNOWN:
            for key in p.keys:
                for day in _days(p.day, self.day_slack):
                    seen.update(self.games.get((key, day), ()))
        return sorted(seen)

    def _set(self, word: str) -> frozenset[int]:
        found = self._sets.get(word)
        if found is None:
            found = self._sets[word] = frozenset(self.words[word])
        return found
