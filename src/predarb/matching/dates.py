"""Dates and times named by a market: in its ticker, its slug, its title, its fields.

Event days are US Eastern calendar days: Kalshi tickers and Polymarket slugs both name
the local (ET) day of the game, and a UTC timestamp is converted before it is compared.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")

MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip

# KXNBAGAME-26NOV22LALBOS, KXMLBHIT-26JUN111310AZMIA (13:10 ET), KXBTCD-25NOV3017 (17h)
_TICKER_DATE = re.compile(r"-(\d{2})([A-Z]{3})(\d{2})(\d{2})?(\d{2})?")
_ISO_DATE = re.compile(r"(?<!\d)(20\d{2})-(\d{2})-(\d{2})(?!\d)")
_TEXT_DATE = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b"
    r"(?:,?\s+(20\d{2}))?"
)


def et_day(moment: datetime) -> date:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(ET).date()


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def ticker_date(ticker: str) -> tuple[date | None, datetime | None]:
    """The day a Kalshi event ticker names and, when it carries HHMM, the start time."""
    m = _TICKER_DATE.search(ticker)
    if not m or m.group(2) not in {k.upper() for k in MONTHS}:
        return None, None
    day = _safe_date(2000 + int(m.group(1)), MONTHS[m.group(2).lower()], int(m.group(3)))
    if day is None or m.group(5) is None:
        return day, None
    hour, minute = int(m.group(4)), int(m.group(5))
    if hour > 23 or minute > 59:
        return day, None
    start = datetime.combine(day, time(hour, minute), tzinfo=ET).astimezone(UTC)
    return day, start


def iso_date(text: str) -> date | None:
    m = _ISO_DATE.search(text)
    return _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def text_date(lowered: str, reference: datetime | None) -> date | None:
    """A "Nov 22" / "November 22, 2026" day in lowercase text. Without a year, the year
    that puts it closest to ``reference`` (the market's own close); none without one."""
    m = _TEXT_DATE.search(lowered)
    if not m:
        return iso_date(lowered)
    month, day_no = MONTHS[m.group(1)], int(m.group(2))
    if m.group(3):
        return _safe_date(int(m.group(3)), month, day_no)
    if reference is None:
        return None
    ref = et_day(reference)
    options = [
        d for y in (ref.year - 1, ref.year, ref.year + 1) if (d := _safe_date(y, month, day_no))
    ]
    return min(options, key=lambda d: abs(d - ref)) if options else None


def parse_instant(value: str) -> datetime | None:
    """An ISO timestamp, or Gamma's ``2026-04-05 15:10:00+00``; naive means UTC."""
    text = value.strip().replace(" ", "T", 1)
    if text.endswith(("+00", "-00")):
        text += ":00"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def days_apart(a: date, b: date) -> int:
    return abs((a - b) // timedelta(days=1))


_M = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
# "April 2026", "Apr. 2026": a month and its year, never a day between them.
_MONTH_YEAR = re.compile(r"\b" + _M + r",?\s+(20\d{2})\b")
# A month named as the period of a figure: "in September", "for April", "April CPI",
# "the Fed's June meeting" ("may" alone is a verb: only in these places is it a month).
_MONTH_AS_PERIOD = re.compile(
    r"\b(?:in|for|of|ending|during|fed s)\s+" + _M + r"(?!\s*\d)"
    r"|\b" + _M + r"\s+(?:cpi|core|inflation|jobs|payrolls|unemployment|fomc|fed|meeting)\b"
)


# A meeting named by its day: "the Fed's Jun 17, 2026 meeting" is the June meeting.
_MEETING_DAY = re.compile(
    r"\b" + _M + r"\s+\d{1,2}(?:st|nd|rd|th)?\s+(20\d{2})\s+(?:fomc\s+)?meeting\b"
)


def reference_month(texts: Sequence[str], rules: str, close: datetime | None) -> str:
    """``YYYY-MM``, the month an economic figure is for ("in April 2026", "for the year
    ending in April 2026", "the Fed's June meeting"), read from the market's title and
    other short fields; a month without a year takes it from the rules ("in September
    2025"), else the latest one begun by the close (a month's figure is never known
    before it starts). "" when no field names one."""
    for text in texts:
        if m := _MONTH_YEAR.search(text) or _MEETING_DAY.search(text):
            return f"{m.group(2)}-{MONTHS[m.group(1)]:02d}"
    for text in texts:
        if m := _MONTH_AS_PERIOD.search(text):
            name = m.group(1) or m.group(2)
            month = MONTHS[name]
            for found in _MONTH_YEAR.finditer(rules):
                if MONTHS[found.group(1)] == month:
                    return f"{found.group(2)}-{month:02d}"
            if close is None:
                return ""
            last = et_day(close)
            year = last.year if month <= last.month else last.year - 1
            return f"{year}-{month:02d}"
    return ""
