"""What a contract pays on, in a form two venues' contracts can be compared in.

A contract pays $1 either on a set of discrete outcomes of an event (a team wins, a
draw) or on a range of a number (a price, a game total, a margin). Two contracts are
the same claim when their payouts are equal once both are put in canonical form.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeAlias

DRAW = "draw"


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Pays when one of ``atoms`` happens (or, if ``complement``, when none does)."""

    atoms: frozenset[str]
    complement: bool = False

    def negate(self) -> Outcomes:
        return Outcomes(self.atoms, not self.complement)

    def canonical(self, universe: frozenset[str] | None) -> Outcomes:
        """Positive form when the full set of outcomes is known."""
        if self.complement and universe is not None and self.atoms <= universe:
            return Outcomes(universe - self.atoms)
        return self


@dataclass(frozen=True, slots=True)
class Range:
    """Pays when the number is in [lo, hi] (ends open unless ``*_closed``); ``None`` is
    unbounded. ``complement`` pays outside it instead."""

    lo: Decimal | None
    lo_closed: bool
    hi: Decimal | None
    hi_closed: bool
    complement: bool = False
    whole: bool = False  # the number is a whole number (points, degrees, hits)

    def negate(self) -> Range:
        return Range(
            self.lo, self.lo_closed, self.hi, self.hi_closed, not self.complement, self.whole
        )

    def canonical(self, universe: frozenset[str] | None = None) -> Range:
        """The outside of a one-sided range is a one-sided range: say it that way."""
        if not self.complement:
            return self
        flipped = self
        if self.hi is None and self.lo is not None:
            flipped = Range(None, False, self.lo, not self.lo_closed, whole=self.whole)
        elif self.lo is None and self.hi is not None:
            flipped = Range(self.hi, not self.hi_closed, None, False, whole=self.whole)
        return flipped.integral() if self.whole else flipped

    def integral(self) -> Range:
        """Same claim on a whole-number quantity: strict bounds become inclusive ones."""
        lo, lo_closed, hi, hi_closed = self.lo, self.lo_closed, self.hi, self.hi_closed
        if lo is not None:
            whole = lo.to_integral_value(rounding="ROUND_FLOOR")
            lo = whole + 1 if (not lo_closed or whole != lo) else whole
            lo_closed = True
        if hi is not None:
            whole = hi.to_integral_value(rounding="ROUND_CEILING")
            hi = whole - 1 if (not hi_closed or whole != hi) else whole
            hi_closed = True
        return Range(lo, lo_closed, hi, hi_closed, self.complement, whole=True)

    def mirrored(self) -> Range:
        """The same claim about the negated number (a margin seen from the other team)."""
        return Range(
            -self.hi if self.hi is not None else None,
            self.hi_closed,
            -self.lo if self.lo is not None else None,
            self.lo_closed,
            self.complement,
            self.whole,
        )


Payout: TypeAlias = Outcomes | Range


def same_claim(a: Payout, b: Payout, universe: frozenset[str] | None) -> bool:
    if isinstance(a, Outcomes) and isinstance(b, Outcomes):
        return a.canonical(universe) == b.canonical(universe)
    if isinstance(a, Range) and isinstance(b, Range):
        return a.canonical() == b.canonical()
    return False


def describe(p: Payout) -> str:
    if isinstance(p, Outcomes):
        body = "|".join(sorted(p.atoms))
        return f"not {body}" if p.complement else body
    c = p.canonical()
    lo = "" if c.lo is None else f"{'>=' if c.lo_closed else '>'}{c.lo}"
    hi = "" if c.hi is None else f"{'<=' if c.hi_closed else '<'}{c.hi}"
    body = " ".join(x for x in (lo, hi) if x)
    return f"outside {body}" if c.complement else body
