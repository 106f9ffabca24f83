"""The time window a proposition market settles on, read from its wording.

"before Jan 1, 2027", "in 2026", "by December 31, 2026", "before 2027" and "by end of
2026" all end at the same instant (midnight ET opening Jan 1, 2027); "by April 30" ends
where "before May 1" does. An explicit instant ("before 2026-02-01T15:00:00Z") is kept as
it is, so a window edge that is not a day boundary never equals one that is. A year left
out of the wording is taken from the market's other fields; when none names it the window
keeps only month and day (``year_known`` False) and the caller decides.

A counting window ("the week of Mar 15", "from March 17 to March 24") also has a start:
two counts over different weeks are different numbers, whatever their buckets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from predarb.matching.dates import ET, MONTHS, et_day, parse_instant

_M = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_D = r"(\d{1,2})(?:st|nd|rd|th)?\b"
_Y = r"(?:,?\s+(20\d{2}))?"
_CLOCK = r"(?:,?\s*(?:at\s+)?\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)\s*(?:et|est|edt|utc)?)?"
_BY = r"\b(?:by|on or before|no later than|until)\s+(?:the\s+)?(?:end\s+of\s+)?"
_ISO = re.compile(r"\b(?:before|by)\s+(20\d{2}-\d{2}-\d{2}(?:t[\d:.]+z?)?)")
_BEFORE_DAY = re.compile(r"\bbefore\s+" + _M + r"\s+" + _D + _Y)
_BY_DAY = re.compile(_BY + _M + r"\s+" + _D + _Y + _CLOCK)
_BEFORE_MONTH = re.compile(r"\bbefore\s+" + _M + r"(?:\s+(20\d{2}))?(?![\s\d]*\d)")
_BY_END_MONTH = re.compile(_BY + _M + r"(?:\s+(20\d{2}))?(?!\s*\d)")
_BEFORE_YEAR = re.compile(r"\bbefore\s+(?:the\s+end\s+of\s+)?(20\d{2})\b")
_BY_END_YEAR = re.compile(r"\bby\s+(?:the\s+)?end\s+of\s+(20\d{2})\b|\bby\s+(20\d{2})\b")
_IN_YEAR = re.compile(r"\b(?:in|during|this year,?)\s+(20\d{2})\b|\b(this year)\b")
_WEEK_OF = re.compile(r"\b(?:the\s+)?week\s+of\s+" + _M + r"\s+" + _D + _Y)
_FROM_TO = re.compile(
    r"\b(?:from|between)\s+" + _M + r"\s+" + _D + _Y + r"\s+(?:to|and|through|-)\s+" + _M
    + r"\s+" + _D + _Y
)  # fmt: skip
_ANY_YEAR = re.compile(r"\b(20\d{2})\b")


@dataclass(frozen=True, slots=True)
class Window:
    """``end`` is exclusive; with ``year_known`` False only its month and day are read."""

    end: datetime
    start: date | None = None
    year_known: bool = True
    exact: bool = False  # an explicit instant, not a day boundary
    span: tuple[int, int] = (0, 0)  # where the wording was found, to cut it from the text

    def same_end(self, other: Window) -> bool:
        if self.year_known and other.year_known:
            return self.end == other.end
        return (self.end.month, self.end.day, self.exact) == (
            other.end.month,
            other.end.day,
            other.exact,
        )

    def describe(self) -> str:
        end = self.end.isoformat() if self.exact else f"{et_day(self.end)} 00:00 ET"
        if not self.year_known:
            end = end[5:] + " (year not given)"
        return f"{self.start} to {end}" if self.start else f"before {end}"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ET)


def _day(year: int | None, month: str | int, day: str | int) -> date | None:
    try:
        number = month if isinstance(month, int) else MONTHS[month]
        return date(year or 2000, number, int(day))
    except ValueError:
        return None


def _month_start(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1)


@lru_cache(maxsize=512)
def dated(month: int, day: int) -> re.Pattern[str]:
    """``<month> <day>, <year>`` for one month-day (a literal prefix: fast on long rules)."""
    name = list(MONTHS)[month - 1]
    return re.compile(name + r"[a-z]*\.?\s+0?" + str(day) + r"(?:st|nd|rd|th)?,?\s+(20\d{2})")


def _year_for(month: int, day: int, hints: Iterable[str], reference: datetime | None) -> int | None:
    """The year a month-day without one means: named with that day elsewhere in the
    market's fields, else the only year they name, else the one nearest its close."""
    years: set[int] = set()
    pattern = dated(month, day)
    for text in hints:
        if m := pattern.search(text):
            return int(m.group(1))
        years.update(int(y) for y in _ANY_YEAR.findall(text))
    if len(years) == 1:
        return years.pop()
    if reference is not None:
        ref = et_day(reference)
        valid = [y for y in (ref.year - 1, ref.year, ref.year + 1) if _day(y, month, day)]
        return min(valid, key=lambda y: abs((date(y, month, day) - ref).days)) if valid else None
    return None


def read_window(
    lower: str, hints: Iterable[str] = (), reference: datetime | None = None
) -> Window | None:
    """The window named in ``lower`` (lowercase ASCII wording), or None."""
    hint_list = [h for h in hints if h]

    def year_of(raw: str | None, month: str, day: str) -> tuple[int | None, bool]:
        if raw:
            return int(raw), True
        year = _year_for(MONTHS[month], int(day), hint_list, reference)
        return year, year is not None

    # Each pattern only where its first word is: most titles need two or three searches.
    ranged = "from " in lower or "between " in lower
    before = "before " in lower
    by = any(w in lower for w in ("by ", "until ", "no later than ", "on or before "))
    if ranged and (m := _FROM_TO.search(lower)):
        y2, known = year_of(m.group(6), m.group(4), m.group(5))
        y1 = int(m.group(3)) if m.group(3) else y2
        first, last = _day(y1, m.group(1), m.group(2)), _day(y2, m.group(4), m.group(5))
        if first and last:
            return Window(_midnight(last + timedelta(days=1)), first, known, span=m.span())
    if "week of" in lower and (m := _WEEK_OF.search(lower)):
        year, known = year_of(m.group(3), m.group(1), m.group(2))
        first = _day(year, m.group(1), m.group(2))
        if first:
            return Window(_midnight(first + timedelta(days=7)), first, known, span=m.span())
    if (before or by) and (m := _ISO.search(lower)):
        raw = m.group(1)
        moment = parse_instant(raw.upper()) if "t" in raw else None
        if moment is None:
            d = date.fromisoformat(raw[:10])
            moment = _midnight(d if m.group(0).startswith("before") else d + timedelta(days=1))
        exact = moment.astimezone(ET).time() != time(0)
        return Window(moment, exact=exact, span=m.span())
    for pattern, after, present in ((_BEFORE_DAY, 0, before), (_BY_DAY, 1, by)):
        if present and (m := pattern.search(lower)):
            year, known = year_of(m.group(3), m.group(1), m.group(2))
            if last := _day(year, m.group(1), m.group(2)):
                end = _midnight(last + timedelta(days=after))
                return Window(end, year_known=known, span=m.span())
    if before and (m := _BEFORE_YEAR.search(lower)):
        return Window(_midnight(date(int(m.group(1)), 1, 1)), span=m.span())
    if "by " in lower and (m := _BY_END_YEAR.search(lower)):
        year = int(m.group(1) or m.group(2))
        return Window(_midnight(date(year + 1, 1, 1)), span=m.span())
    if m := _IN_YEAR.search(lower):
        if m.group(1):
            year = int(m.group(1))
        else:
            found = _year_for(1, 1, hint_list, None)
            if found is None:
                return None
            year = found
        return Window(_midnight(date(year + 1, 1, 1)), date(year, 1, 1), span=m.span())
    for pattern, after, present in ((_BEFORE_MONTH, False, before), (_BY_END_MONTH, True, by)):
        if present and (m := pattern.search(lower)):
            month = MONTHS[m.group(1)]
            year_raw = m.group(2)
            year = int(year_raw) if year_raw else _year_for(month, 1, hint_list, reference)
            if year is None:
                return None
            first = date(year, month, 1)
            bound = _month_start(year, month) if after else first
            return Window(_midnight(bound), span=m.span())
    return None
