"""Compare one Kalshi fact with one Polymarket fact: guards, outcome mapping, confidence.

A comparison either rejects (different games, lines, dates, questions: ``None``) or
returns a :class:`Match` that says which contracts pay in the same world. Anything the
guards could not prove (an unverified date, an unknown league, a different resolution
source) becomes a flag: the match is still shown, never traded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rapidfuzz import fuzz

from predarb.domain import Venue
from predarb.matching.dates import days_apart
from predarb.matching.normalize import GAME_KINDS, Facts, Kind
from predarb.matching.payout import Payout, describe, same_claim
from predarb.matching.proposition import compare_propositions
from predarb.matching.text import sources_differ

START_TOLERANCE = timedelta(minutes=90)
TIME_TOLERANCE = timedelta(minutes=5)
MIN_TRADABLE_CONFIDENCE = 0.7
DAILY_READINGS = frozenset({"weather"})
PERIOD_READINGS = frozenset({"economics"})  # a figure for a month or a meeting


@dataclass(frozen=True, slots=True)
class Match:
    kalshi: Facts
    poly: Facts
    mapping: tuple[tuple[int, int], ...]  # (kalshi contract index, poly contract index)
    flags: tuple[str, ...]
    confidence: float
    evidence: str
    basis: str = ""  # the facts part of the evidence (no mapping, no title score)

    @property
    def full(self) -> bool:
        """Every contract of both markets is mapped: a binary pair on its own."""
        return len(self.mapping) == len(self.kalshi.payouts) == len(self.poly.payouts) == 2

    @property
    def inverted(self) -> bool:
        return any(
            self.kalshi.market.contracts[i].side == "yes"
            and self.poly.market.contracts[j].side.lower() == "no"
            for i, j in self.mapping
        )


def _same_event(k: Facts, p: Facts, flags: list[str]) -> bool:
    if k.kind in GAME_KINDS:
        if k.league and p.league and k.league != p.league:
            return False
        if k.scope != p.scope or k.variable != p.variable:
            return False
        if k.kind is Kind.PROP:
            return k.subject == p.subject
        if len(k.participants) == 2 and len(p.participants) == 2:
            return k.participants == p.participants
        small, big = sorted((k.participants, p.participants), key=len)
        if not small or not small <= big:
            return False
        flags.append("opponent_unverified")
        return True
    if k.kind is Kind.THRESHOLD:
        if k.variable != p.variable:
            return False
        if sources_differ(k.sources, p.sources):
            flags.append("source_differs")
        return True
    if k.kind is Kind.ELECTION:
        return k.race == p.race and k.subject == p.subject
    return False


def _same_time(k: Facts, p: Facts, flags: list[str]) -> bool:
    if k.kind is Kind.ELECTION:
        return True
    if k.kind is Kind.THRESHOLD:
        if k.category in PERIOD_READINGS:
            # A month's figure: the month is in the variable, compared already.
            return "@" in k.variable
        if k.category in DAILY_READINGS:
            # A day's reading (a high temperature): the day is the fact, whatever hour
            # each venue publishes its result.
            return k.day is not None and k.day == p.day and k.day_explicit and p.day_explicit
        if k.resolve is None or p.resolve is None:
            return k.day is not None and k.day == p.day
        gap = abs(k.resolve - p.resolve)
        if gap <= TIME_TOLERANCE:
            return True
        if k.day is not None and k.day == p.day:
            flags.append("time_differs")
            return True
        return False
    if k.start is not None and p.start is not None:
        return abs(k.start - p.start) <= START_TOLERANCE
    if k.day is None or p.day is None:
        return False
    apart = days_apart(k.day, p.day)
    if k.day_explicit and p.day_explicit:
        return apart == 0
    return apart <= 1


def _mapping(k: Facts, p: Facts) -> tuple[tuple[int, int], ...]:
    universe = k.universe if k.universe is not None else p.universe
    if k.universe is not None and p.universe is not None and k.universe != p.universe:
        return ()
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for i, kp in enumerate(k.payouts):
        if kp is None:
            continue
        for j, pp in enumerate(p.payouts):
            if pp is not None and j not in used and same_claim(kp, pp, universe):
                pairs.append((i, j))
                used.add(j)
                break
    return tuple(pairs)


def _confidence(k: Facts, p: Facts, title: float, flags: list[str]) -> float:
    structure = 1.0
    if not (k.day_explicit and p.day_explicit) and k.kind is not Kind.ELECTION:
        structure -= 0.1
    people = [e for e in k.participants | p.participants if e.startswith("p:")]
    structure -= 0.05 * min(len(people), 2)
    structure -= 0.1 * len(flags)
    return round(max(0.0, min(1.0, structure * (0.85 + 0.15 * title))), 4)


def _basis(k: Facts) -> str:
    who = "/".join(sorted(e.split(":")[-1] for e in k.participants)) or k.subject
    where = k.league or k.category or "?"
    when = k.day.isoformat() if k.day else "no date"
    parts = [f"kind {k.kind.value}", f"{where} {who}", f"date {when}"]
    if k.scope:
        parts.append(f"scope {k.scope}")
    if k.race:
        parts.append(f"race {k.race}")
    return ", ".join(parts)


def _evidence(k: Facts, p: Facts, mapping: tuple[tuple[int, int], ...], title: float) -> str:
    parts = [_basis(k)]
    first = mapping[0] if mapping else None
    if first is not None:
        claim: Payout | None = k.payouts[first[0]]
        if claim is not None and k.kind is not Kind.WINNER:
            parts.append(f"{k.variable} {describe(claim)}")
        side = k.market.contracts[first[0]].side
        parts.append(f"{side}={p.market.contracts[first[1]].side}")
    parts.append(f"title score {title:.2f}")
    return ", ".join(parts)


def compare(k: Facts, p: Facts) -> Match | None:
    """Guards first (cheap, exact), fuzzy title score last (only for confidence)."""
    if k.kind is Kind.UNKNOWN or k.kind is not p.kind:
        return None
    if k.market.venue is not Venue.KALSHI or not p.market.venue.is_polymarket:
        return None
    if k.kind is Kind.PROPOSITION:
        return _compare_claims(k, p)
    flags: list[str] = []
    if not _same_event(k, p, flags) or not _same_time(k, p, flags):
        return None
    mapping = _mapping(k, p)
    if not mapping:
        return None
    flags.extend(x for x in (*k.problems, *p.problems) if x not in flags)
    title = fuzz.token_set_ratio(k.text, p.text) / 100.0
    confidence = _confidence(k, p, title, flags)
    if confidence < MIN_TRADABLE_CONFIDENCE and "low_confidence" not in flags:
        flags.append("low_confidence")
    evidence = _evidence(k, p, mapping, title)
    return Match(k, p, mapping, tuple(flags), confidence, evidence, _basis(k))


def _side_index(f: Facts, side: str) -> int:
    return next(i for i, c in enumerate(f.market.contracts) if c.side.strip().lower() == side)


def _compare_claims(k: Facts, p: Facts) -> Match | None:
    if k.claim is None or p.claim is None:
        return None
    verdict = compare_propositions(k.claim, p.claim)
    if verdict is None:
        return None
    mapping = tuple((_side_index(k, s), _side_index(p, s)) for s in ("yes", "no"))
    flags = list(verdict.flags)
    flags.extend(x for x in (*k.problems, *p.problems) if x not in flags)
    confidence = verdict.confidence
    if confidence < MIN_TRADABLE_CONFIDENCE and "low_confidence" not in flags:
        flags.append("low_confidence")
    basis = f"kind proposition, {verdict.evidence}"
    evidence = f"{basis}, yes={p.market.contracts[mapping[0][1]].side}"
    return Match(k, p, mapping, tuple(flags), confidence, evidence, basis)
