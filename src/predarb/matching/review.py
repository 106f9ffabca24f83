"""Human review of likely-but-uncertain pairs: which pairs to ask about, and what the
answers do to a match.

A pair the matcher found but flagged (its flags say why it is not certain) may be sent
to the chat; an approval makes it tradable with the mapping it was shown with (the pair
id is a hash of exactly those contracts, so a changed mapping is a new question), a
rejection removes it. Answers win over the matcher, like the overrides file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from predarb.domain import Pair

# Below this, a pair is a guess, not a question worth a human's time.
REVIEW_MIN_CONFIDENCE = 0.5
# Flags that no answer can cure: the pair cannot be traded as shown. Two markets that
# settle on different sources (CF Benchmarks / Binance, one weather station / another)
# can settle apart whatever a human thinks of the wording: refused with the flag, shown,
# never asked about and never approved.
UNREVIEWABLE = frozenset(
    {"uncovered_outcome", "tie_possible", "combo", "override", "source_differs"}
)


def reviewable(pair: Pair) -> bool:
    """Flagged, complete (one world always happens) and likely enough to ask about."""
    return (
        not pair.tradable
        and pair.exhaustive
        and bool(pair.flags)
        and not UNREVIEWABLE & set(pair.flags)
        and pair.confidence >= REVIEW_MIN_CONFIDENCE
    )


def approved(pair: Pair) -> Pair:
    return replace(
        pair,
        tradable=pair.exhaustive,
        confidence=1.0,
        flags=(*pair.flags, "approved"),
        evidence=f"{pair.evidence}; approved by a human",
    )


def apply_answers(pairs: Iterable[Pair], answers: Mapping[str, bool]) -> list[Pair]:
    """Approved pairs become tradable, rejected ones are dropped, the rest unchanged.
    An approval never cures an unreviewable flag (an answer stored before the pair
    gained one, or given to a pair never asked about): that pair stays untradable."""
    out: list[Pair] = []
    for pair in pairs:
        answer = answers.get(pair.pair_id)
        if answer is None or pair.tradable:
            out.append(pair)
        elif answer:
            out.append(pair if UNREVIEWABLE & set(pair.flags) else approved(pair))
    return out
