"""Small readers of market wording: sides of a game, scope, thresholds, sources, races.

All take lowercase ASCII text (:func:`aliases.ascii_lower`, punctuation kept) or folded
words where said, and return ``None``/empty when the wording is not recognised.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from predarb.matching.aliases import fold, load_stations
from predarb.matching.payout import Range

_PARENS = re.compile(r"\([^)]*\)")
_VERSUS = re.compile(r"\s(?:vs\.?|v\.?|versus|@)\s")
_AT = re.compile(r"\sat\s")
_BEAT = re.compile(r"will (?:the )?(.+?) (?:beat|defeat) (?:the )?(.+?)(?:\?| on | in |$)")
_LEFT_CUT = re.compile(r":|\bthe\b|\bwill\b| - |\?")
_RIGHT_CUT = re.compile(r":|\?|,| - | game\b| match\b| on | in | end | to | winner\b")


def split_sides(lower: str, *, at: bool = False) -> tuple[str, str] | None:
    """The two sides of "A vs B" (or "will A beat B"; "A at B" only when ``at``)."""
    text = _PARENS.sub(" ", lower)
    m = _VERSUS.search(text) or (_AT.search(text) if at else None)
    if m is None:
        beat = _BEAT.search(text)
        return (beat.group(1), beat.group(2)) if beat else None
    left = _LEFT_CUT.split(text[: m.start()])[-1].strip()
    right = _RIGHT_CUT.split(text[m.end() :])[0].strip()
    return (left, right) if left and right else None


_SCOPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(1st|first) half\b|\b1h\b"), "1h"),
    (re.compile(r"\b(2nd|second) half\b|\b2h\b"), "2h"),
    (re.compile(r"\b(1st|first) (quarter|period)\b|\bq1\b"), "q1"),
    (re.compile(r"\b(first 5 innings|1st 5 innings|f5)\b"), "f5"),
    (re.compile(r"\b(1st|first) inning\b"), "i1"),
    (re.compile(r"\b(regulation|regular time|90 minutes)\b"), "reg"),
    (re.compile(r"\bmap (\d)\b"), "map"),
    (re.compile(r"\b(1st|first) set\b|\bset (\d)\b"), "set"),
    (re.compile(r"\b(advance|qualify|to progress)\b"), "advance"),
)


def game_scope(words: str) -> str:
    """Which part of a game the market settles on; "" is the whole game with overtime."""
    for pattern, name in _SCOPES:
        m = pattern.search(words)
        if m:
            digits = [g for g in m.groups() if g and g.isdigit()]
            return name + (digits[0] if digits else "")
    return ""


_NUM = r"\$?\s?(-?\d+(?:\.\d+)?)(?!\d)(?:\s?(k|m|b|bn|thousand|million|billion)\b)?"
_UNIT = r"(?:\s|°|f\b|%|usd|points?|goals?|runs?)*"
_SCALE = {"k": 3, "thousand": 3, "m": 6, "million": 6, "b": 9, "bn": 9, "billion": 9}
_SUFFIX_GE = re.compile(_NUM + _UNIT + r"(?:or above|or more|or higher|or greater|\+)")
_SUFFIX_LE = re.compile(_NUM + _UNIT + r"(?:or below|or less|or lower|or fewer)")
_BETWEEN = re.compile(r"between\s*" + _NUM + _UNIT + r"and\s*" + _NUM)
_PREFIX: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:at least|>=|≥|no less than)\s*" + _NUM), "ge"),
    (re.compile(r"(?:at most|no more than|<=|≤)\s*" + _NUM), "le"),
    (re.compile(r"(?:o/u|over/under)\s*" + _NUM), "gt"),
    (re.compile(r"(?:above|over|more than|greater than|higher than|exceeds?|>)\s*" + _NUM), "gt"),
    (re.compile(r"(?:below|under|less than|lower than|fewer than|<)\s*" + _NUM), "lt"),
)
_SPREAD_LINE = re.compile(r"\(([+-]\d+(?:\.\d+)?)\)")


def _number(digits: str, scale: str | None) -> Decimal | None:
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return None
    if scale:
        value = value.scaleb(_SCALE[scale])
    return value if value.is_finite() else None


def threshold(lower: str, *, over_under: bool = False) -> Range | None:
    """The range a market's YES (or first outcome) pays on, from its wording."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", lower)
    if over_under:
        spread = _SPREAD_LINE.search(text)
        if spread:
            line = _number(spread.group(1), None)
            return None if line is None else Range(-line, False, None, False)
    if m := _BETWEEN.search(text):
        lo, hi = _number(m.group(1), m.group(2)), _number(m.group(3), m.group(4))
        return None if lo is None or hi is None else Range(lo, True, hi, True)
    if m := _SUFFIX_GE.search(text):
        n = _number(m.group(1), m.group(2))
        return None if n is None else Range(n, True, None, False)
    if m := _SUFFIX_LE.search(text):
        n = _number(m.group(1), m.group(2))
        return None if n is None else Range(None, False, n, True)
    for pattern, cmp in _PREFIX:
        if m := pattern.search(text):
            n = _number(m.group(1), m.group(2))
            if n is None:
                return None
            return {
                "ge": Range(n, True, None, False),
                "le": Range(None, False, n, True),
                "gt": Range(n, False, None, False),
                "lt": Range(None, False, n, False),
            }[cmp]
    return None


_SOURCES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bbinance\b"), "binance"),
    (re.compile(r"\bcoinbase\b"), "coinbase"),
    (re.compile(r"\bkraken\b"), "kraken"),
    (re.compile(r"\bbitstamp\b"), "bitstamp"),
    (re.compile(r"\bchainlink\b"), "chainlink"),
    (re.compile(r"\bpyth\b"), "pyth"),
    (re.compile(r"\bcf benchmarks\b|\bbrti\b|\breal time index\b"), "cfbenchmarks"),
    (re.compile(r"\bnational weather service\b|\bnws\b"), "nws"),
    (re.compile(r"\bweather underground\b|\bwunderground\b"), "wunderground"),
    (re.compile(r"\baccuweather\b"), "accuweather"),  # another company than Wunderground
    (re.compile(r"\bbureau of labor statistics\b|\bbls\b"), "bls"),
    (re.compile(r"\bbureau of economic analysis\b|\bbea\b"), "bea"),
    (re.compile(r"\bfederal reserve\b|\bfomc\b|\bfederal open market committee\b"), "fed"),
    (re.compile(r"\bassociated press\b"), "ap"),
    (re.compile(r"\bbloomberg\b"), "bloomberg"),
    (re.compile(r"\bcme\b|\bnymex\b"), "cme"),
    (re.compile(r"\bs p dow jones\b"), "spdji"),
)


# A text about a weather reading: only there is a place name a station.
_WEATHER = re.compile(r"\b(weather|temperature|climatolog\w*|noaa|nws|wunderground|accuweather)\b")
STATION = "station:"


def resolution_sources(text: str) -> frozenset[str]:
    """Who publishes the figure ("nws", "binance") and, for a weather reading, at which
    station ("station:KNYC"): two NWS readings at two airports are two sources."""
    words = fold(text)
    found = {name for pattern, name in _SOURCES if pattern.search(words)}
    if _WEATHER.search(words):
        found.update(STATION + code for code in load_stations().find(words))
    return frozenset(found)


def sources_differ(a: frozenset[str], b: frozenset[str]) -> bool:
    """Both markets name who publishes (or where it is read) and none is shared: they
    may settle apart. Unnamed on either side is not a difference (the caller flags an
    unknown source on its own)."""
    a_at = {s for s in a if s.startswith(STATION)}
    b_at = {s for s in b if s.startswith(STATION)}
    a_by, b_by = a - a_at, b - b_at
    return bool(a_by and b_by and not a_by & b_by) or bool(a_at and b_at and not a_at & b_at)


def stations(sources: frozenset[str]) -> frozenset[str]:
    return frozenset(s for s in sources if s.startswith(STATION))


_STATES = (
    "alabama alaska arizona arkansas california colorado connecticut delaware florida georgia "
    "hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts "
    "michigan minnesota mississippi missouri montana nebraska nevada ohio oklahoma oregon "
    "pennsylvania tennessee texas utah vermont virginia washington wisconsin wyoming"
)
_TWO_WORD_STATES = (
    "new hampshire",
    "new jersey",
    "new mexico",
    "new york",
    "north carolina",
    "north dakota",
    "rhode island",
    "south carolina",
    "south dakota",
    "west virginia",
)


def election_race(words: str) -> str:
    """``year:office:party:stage:state`` for an election question, "" if unreadable."""
    year = re.search(r"\b(20\d{2})\b", words)
    office = ""
    for pattern, name in (
        (r"\bpresiden", "pres"),
        (r"\bsenat", "senate"),
        (r"\bgovernor|\bgubernatorial", "gov"),
        (r"\bmayor", "mayor"),
        (r"\bhouse\b|\bcongress", "house"),
    ):
        if re.search(pattern, words):
            office = name
            break
    if not year or not office:
        return ""
    party = ""
    if re.search(r"\bdemocrat", words):
        party = "D"
    elif re.search(r"\brepublican|\bgop\b", words):
        party = "R"
    stage = "nom" if re.search(r"\bnomin|\bprimary\b", words) else "gen"
    if "popular vote" in words:
        stage = "pv"
    state = next((s for s in _TWO_WORD_STATES if s in words), "")
    if not state and office != "pres":
        padded = f" {words} "
        state = next((s for s in _STATES.split() if f" {s} " in padded), "")
        if not state:
            return ""
    return f"{year.group(1)}:{office}:{party}:{stage}:{state}"
