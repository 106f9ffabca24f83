"""Market -> Facts: what a market settles on, in terms both venues' markets share.

The facts say which question a market asks (kind), about what (teams, players, an asset,
a race), on which day and time, within which scope (full game, regulation, a half), and
for each of the market's contracts exactly what it pays on (:mod:`payout`). Anything
that could not be read with certainty is listed in ``problems``; a market with problems
may still be paired and shown, but never traded.

Venue adapters may pass hints in ``Market.extra`` (all optional, all strings):
``slug``, ``tags`` (comma-separated), ``event_title``, ``event_sub_title`` (Kalshi),
``series_title``, ``game_start_time`` or ``gameStartTime`` (ISO),
``strike_type``/``floor_strike``/``cap_strike`` (Kalshi), ``resolution_source``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from predarb.domain import Market, Venue
from predarb.matching.aliases import Aliases, League, ascii_lower, fold, load_aliases
from predarb.matching.dates import (
    et_day,
    iso_date,
    parse_instant,
    reference_month,
    text_date,
    ticker_date,
)
from predarb.matching.payout import DRAW, Outcomes, Payout, Range
from predarb.matching.proposition import Proposition, read_proposition
from predarb.matching.text import (
    election_race,
    game_scope,
    resolution_sources,
    split_sides,
    stations,
    threshold,
)


class Kind(StrEnum):
    WINNER = "winner"  # who wins a game / match
    TOTAL = "total"  # game total over/under a line
    SPREAD = "spread"  # winning margin over/under a line
    THRESHOLD = "threshold"  # a price or reading above/below a level at a time
    PROP = "prop"  # a player's stat over a line
    ELECTION = "election"  # a candidate wins a race
    PROPOSITION = "proposition"  # a claim with a deadline ("Will X visit Y before D?")
    UNKNOWN = "unknown"


GAME_KINDS = frozenset({Kind.WINNER, Kind.TOTAL, Kind.SPREAD, Kind.PROP})
_INTEGRAL_CATEGORIES = frozenset({"weather"})
_STATION_CATEGORIES = frozenset({"weather"})  # read at one station, which must be named
_PATH_WORDS = re.compile(r"\b(reach|reaches|hit|hits|touch|dip to|fall to|all time high)\b")
_FUTURES = re.compile(
    r"\b(championship|champion|finals|title|mvp|super bowl|stanley cup|world series|"
    r"pennant|conference|division|playoffs?|make the|top \d|relegat|promot|season)\b"
)
_TOTAL = re.compile(r"\b(o u|over under|total|points scored|goals scored|runs scored)\b")
_SPREAD = re.compile(r"\b(spread|handicap|wins? by)\b")
_PROP = re.compile(r"^(?P<who>[^:?]+):\s*(?P<n>\d+)\+\s*(?P<stat>[a-z +]+)\??$")
_ELECTION = re.compile(r"\b(elect|election|nominee|nomination|primary|president|senate|governor)")
# What makes it a race: winning one. "A presidential pardon" names an office, no race.
_RACE_WORDS = re.compile(r"\b(win|wins|won|elect|elected|election|nominee|nomination|primary)\b")
_YES_NO = frozenset({"yes", "no"})
_OVER_UNDER = frozenset({"over", "under"})
_DRAW_WORDS = frozenset({"draw", "tie", "a draw", "a tie"})


@dataclass(frozen=True, slots=True)
class Facts:
    market: Market
    kind: Kind
    category: str
    league: str = ""
    participants: frozenset[str] = frozenset()  # entity ids of the game's sides
    subject: str = ""  # the entity the market's YES is about, when there is one
    variable: str = ""  # what a Range payout measures ("total", "margin:nba:BOS", "BTC")
    payouts: tuple[Payout | None, ...] = ()  # one per market.contracts entry
    day: date | None = None
    day_explicit: bool = False  # from a ticker, slug, title or start time, not a close time
    start: datetime | None = None
    resolve: datetime | None = None
    scope: str = ""
    draw_possible: bool = False
    sources: frozenset[str] = frozenset()
    race: str = ""
    text: str = ""
    keys: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    claim: Proposition | None = None

    @property
    def universe(self) -> frozenset[str] | None:
        """Every way the game can end, when that is known."""
        if len(self.participants) != 2 or DRAW in self.participants:
            return None
        return self.participants | {DRAW} if self.draw_possible else self.participants


def _lossy(text: str) -> bool:
    """True when folding to ASCII drops letters (not just accents): the name is unreadable."""
    if text.isascii():
        return False
    for ch in unicodedata.normalize("NFKD", text):
        if ord(ch) > 127 and unicodedata.category(ch)[0] == "L":
            return True
    return False


def _decimal(value: str) -> Decimal | None:
    try:
        d = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


class _Reader:
    """Reads one market; small helpers share its state."""

    def __init__(self, m: Market, aliases: Aliases) -> None:
        self.m = m
        self.a = aliases
        self.problems: list[str] = []
        self.lower = ascii_lower(m.title).strip()
        self.words = fold(m.title)
        self.sub = fold(m.subtitle)
        self.series = (m.series or m.event_id or m.market_id).split("-")[0].upper()
        if self.series.startswith("KX"):
            self.series = self.series[2:]
        self.slug = (m.slug or m.extra.get("slug") or m.series or "").lower()
        self.league: League | None = None
        self.category = ""

    # ---- where: league and category

    def classify(self) -> None:
        m, a = self.m, self.a
        if m.venue is Venue.KALSHI:
            self.league = a.league_for_kalshi_series(self.series)
            self.category = self.league.category if self.league else ""
            self.category = self.category or a.measure_category_for_kalshi_series(self.series)
        else:
            tags = [fold(t) for t in (m.category, *m.extra.get("tags", "").split(","))]
            # A Polymarket US slug may lead with a market-type code ("aec-nfl-kc-phi-…").
            heads = self.slug.split("-")[: 2 if m.venue is Venue.POLYMARKET_US else 1]
            key = next((a.league_by_slug[h] for h in heads if h in a.league_by_slug), None)
            key = key or next((a.league_by_tag[t] for t in tags if t in a.league_by_tag), None)
            self.league = a.leagues[key] if key else None
            if self.league:
                self.category = self.league.category
            else:
                self.category = next(
                    (a.category_by_tag[t] for t in tags if t in a.category_by_tag), ""
                )
        if not self.category:
            cat = fold(m.category)
            if any(w in cat for w in ("sport", "soccer", "football", "basketball", "tennis")):
                self.category = "sports"
            elif any(w in cat for w in ("politic", "election")):
                self.category = "politics"
            else:
                self.category = cat.split(" ")[0] if cat else ""

    # ---- when

    def when(self) -> tuple[date | None, bool, datetime | None, datetime | None]:
        m = self.m
        resolve = m.resolve_time or m.close_time
        raw_start = m.extra.get("game_start_time") or m.extra.get("gameStartTime") or ""
        start = parse_instant(raw_start) if raw_start else None
        day: date | None = None
        if m.venue is Venue.KALSHI:
            day, ticker_start = ticker_date(m.event_id or m.market_id)
            if self.league is not None:
                start = start or ticker_start
        if day is None:
            day = iso_date(self.slug) or text_date(self.lower, resolve)
        if day is None and start is not None:
            day = et_day(start)
        if day is not None:
            return day, True, start, resolve
        if resolve is not None:
            return et_day(resolve), False, start, resolve
        return None, False, start, resolve

    # ---- who

    def entity(self, text: str) -> str:
        """One side's entity id: from the alias table, else a surname key ("p:smith")."""
        folded = fold(text)
        if not folded:
            return ""
        if folded in _DRAW_WORDS:
            return DRAW
        if self.league is not None:
            found = self.league.table.find(folded)
            if found:
                return found[0]
        else:
            found = self.a.any_league.find(folded)
            if found:
                return found[0]
        words = [w for w in folded.split(" ") if w not in {"jr", "sr", "ii", "iii"}]
        return f"p:{words[-1]}" if words else ""

    def sides(self) -> list[str]:
        event_title = ascii_lower(self.m.extra.get("event_title", ""))
        for text in (self.lower, event_title):
            pair = split_sides(text) if text else None
            if pair is not None:
                return [e for e in (self.entity(pair[0]), self.entity(pair[1])) if e]
        # "Away at Home" is a game only when both sides are teams we know.
        pair = split_sides(self.lower, at=True)
        if pair is not None:
            ids = [self.entity(pair[0]), self.entity(pair[1])]
            if all(i and not i.startswith("p:") and i != DRAW for i in ids):
                return ids
        return self.slug_teams()

    def slug_teams(self) -> list[str]:
        """A Polymarket US market slug names its game by league and team codes after a
        market-type code ("aec-nfl-kc-phi-2026-02-09", docs.polymarket.us): the two
        sides of a market whose title names one ("Will Arsenal win?"), when both are
        teams of its league."""
        if self.m.venue is not Venue.POLYMARKET_US or self.league is None:
            return []
        parts = self.slug.split("-")
        at = next((i for i, p in enumerate(parts[:2]) if p in self.league.slug_prefixes), None)
        if at is None:
            return []
        ids = [f"{self.league.key}:{code.upper()}" for code in parts[at + 1 : at + 3]]
        known = len(ids) == 2 and all(self.a.entity_league.get(e) for e in ids)
        return ids if known else []

    def infer_league(self, ids: list[str]) -> None:
        """Unknown league: accept one only if every named team belongs to it."""
        leagues = {self.a.entity_league.get(e) for e in ids if not e.startswith("p:")}
        if self.league is None and len(leagues) == 1 and None not in leagues:
            key = next(iter(leagues))
            assert key is not None
            self.league = self.a.leagues[key]
            self.category = self.league.category

    def yes_subject(self) -> str:
        """Polymarket "Will X win/beat ..." or Kalshi yes_sub_title: the YES entity."""
        if self.m.venue is Venue.KALSHI and self.sub:
            return self.entity(self.sub)
        if re.search(r"\b(draw|tie|tied)\b", self.words):
            return DRAW
        m = re.match(r"will (?:the )?(.+?) (?:win|beat|defeat)\b", self.words)
        if m:
            return self.entity(m.group(1))
        return self.entity(self.m.subtitle) if self.sub else ""


def _with(base: dict[str, Any], **fields: Any) -> Facts:
    return Facts(**{**base, **fields})


_CLAIM = Outcomes(frozenset({"yes"}))  # a proposition's YES (one object for every market)
_NOT_CLAIM = _CLAIM.negate()


def _yes_no_payouts(m: Market, yes: Payout) -> tuple[Payout | None, ...]:
    no = _NOT_CLAIM if yes is _CLAIM else yes.negate()
    out: list[Payout | None] = []
    for c in m.contracts:
        side = c.side.strip().lower()
        out.append(yes if side == "yes" else no if side == "no" else None)
    return tuple(out)


def normalize(m: Market, aliases: Aliases | None = None) -> Facts:
    """Read ``m`` once; never raises on bad input (it becomes ``problems``)."""
    r = _Reader(m, aliases or load_aliases())
    if not r.words:
        return Facts(m, Kind.UNKNOWN, "", problems=("empty_title",))
    r.classify()
    if _lossy(m.title) or _lossy(m.subtitle):
        r.problems.append("unreadable_name")
    if r.series.startswith("MVE") or ("," in m.subtitle and m.title.startswith("yes ")):
        return Facts(m, Kind.UNKNOWN, r.category, text=r.words, problems=("combo",))
    day, explicit, start, resolve = r.when()
    if day is None:
        r.problems.append("no_date")
    elif not explicit:
        r.problems.append("date_unverified")
    base: dict[str, Any] = {
        "market": m, "kind": Kind.UNKNOWN, "category": r.category, "day": day,
        "day_explicit": explicit, "start": start, "resolve": resolve, "text": r.words,
    }  # fmt: skip
    unparsed = (*r.problems, "unparsed")
    if "up or down" in r.words or _PATH_WORDS.search(r.words):
        return Facts(**{**base, "problems": unparsed})
    if r.league is not None or r.category == "sports":
        facts = _sports(r, base)
        if facts is not None:
            return facts
    facts = _threshold(r, base) or _election(r, base) or _proposition(r, base)
    return facts or Facts(**{**base, "category": r.category, "problems": unparsed})


def _sports(r: _Reader, base: dict[str, Any]) -> Facts | None:
    m = r.m
    prop = _PROP.match(r.lower)
    if prop:
        who = r.entity(prop.group("who"))
        stat = fold(prop.group("stat"))
        n = _decimal(prop.group("n"))
        if not who or n is None:
            return None
        yes = Range(n, True, None, False)
        return _with(
            base, kind=Kind.PROP, category=r.category, league=r.league.key if r.league else "",
            subject=who, variable=f"prop:{who}:{stat}", payouts=_yes_no_payouts(m, yes),
            keys=(f"prop:{who}",), problems=tuple(r.problems),
        )  # fmt: skip
    sides = r.sides()
    sub_entity = r.yes_subject()
    r.infer_league([*sides, sub_entity])
    if r.league is None:
        r.problems.append("unknown_league")
    participants = {s for s in sides if s != DRAW}
    if len(participants) < 2 and _FUTURES.search(r.words):
        return None
    labels = [c.side.strip().lower() for c in m.contracts]
    draw_possible = bool(r.league.draw) if r.league else True
    scope = game_scope(r.words)
    is_total = bool(_TOTAL.search(r.words)) or set(labels) == _OVER_UNDER
    is_spread = not is_total and (
        bool(_SPREAD.search(r.words)) or re.search(r"\([+-]\d", r.lower) is not None
    )
    payouts: tuple[Payout | None, ...]
    variable = ""
    subject = ""
    if is_total or is_spread:
        kind = Kind.TOTAL if is_total else Kind.SPREAD
        line_text = r.lower if m.venue.is_polymarket else f"{r.lower} {m.subtitle.lower()}"
        parsed = threshold(line_text, over_under=True)
        if parsed is None:
            return None
        rng = parsed.integral()
        if kind is Kind.TOTAL:
            variable = "total"
            if set(labels) == _OVER_UNDER:
                payouts = tuple(rng if lbl == "over" else rng.negate() for lbl in labels)
            else:
                payouts = _yes_no_payouts(m, rng)
        else:
            favourite = sub_entity or (r.entity(m.contracts[0].side) if m.contracts else "")
            if favourite in {"", DRAW}:
                return None
            participants.add(favourite)
            if not set(labels) <= _YES_NO:
                participants.update(e for c in m.contracts if (e := r.entity(c.side)) != DRAW)
            anchor = min(participants)
            fav_rng = rng if favourite == anchor else rng.mirrored()
            variable = f"margin:{anchor}"
            if set(labels) <= _YES_NO:
                payouts = _yes_no_payouts(m, fav_rng)
            else:
                payouts = tuple(
                    fav_rng if r.entity(c.side) == favourite else fav_rng.negate()
                    for c in m.contracts
                )
    else:
        kind = Kind.WINNER
        if set(labels) <= _YES_NO:
            subject = sub_entity
            if not subject:
                return None
            if subject != DRAW:
                participants.add(subject)
            payouts = _yes_no_payouts(m, Outcomes(frozenset({subject})))
        else:
            ids = [r.entity(c.side) for c in m.contracts]
            if any(not i for i in ids):
                return None
            participants.update(i for i in ids if i != DRAW)
            payouts = tuple(Outcomes(frozenset({i})) for i in ids)
    if len(participants) > 2:
        r.problems.append("too_many_sides")
    keys = tuple(f"{kind.value}:{p}" for p in sorted(participants))
    return _with(
        base, kind=kind, category=r.category or "sports", league=r.league.key if r.league else "",
        participants=frozenset(participants), subject=subject, variable=variable,
        payouts=payouts, scope=scope, draw_possible=draw_possible, keys=keys,
        problems=tuple(r.problems),
    )  # fmt: skip


def _threshold(r: _Reader, base: dict[str, Any]) -> Facts | None:
    m = r.m
    text = r.words if not r.sub else f"{r.words} {r.sub}"
    # A Kalshi series settles on one figure whatever its titles say ("CPI" of KXCPI is
    # the monthly change); elsewhere the wording names it, or names none for certain.
    measure = r.a.measure_by_kalshi_series.get(r.series, "") if m.venue is Venue.KALSHI else ""
    if not measure:
        measures = r.a.measures.find(text)
        if not measures or measures[0] in r.a.ambiguous_measures:
            return None
        measure = measures[0]
    rng = _kalshi_strike(m) if m.venue is Venue.KALSHI else None
    if rng is None:
        rng = threshold(f"{r.lower} {m.subtitle.lower()}")
    if rng is None:
        return None
    category = r.a.measure_category.get(measure, r.category)
    if category in _INTEGRAL_CATEGORIES:
        rng = rng.integral()
    problems = list(r.problems)
    sources = resolution_sources(f"{m.rules} {m.extra.get('resolution_source', '')}")
    if not sources:
        problems.append("source_unknown")
    elif category in _STATION_CATEGORIES and not stations(sources):
        problems.append("station_unknown")  # a city's reading, at a station never named
    variable = measure
    if measure in r.a.periodic_measures:
        # A month's figure: the month is the window, whenever each venue closes.
        base = {**base, "day": None, "day_explicit": False}
        problems = [p for p in problems if p not in {"date_unverified", "no_date"}]
        period = _period(r)
        if period:
            variable = f"{measure}@{period}"
        else:
            problems.append("period_unknown")
    elif base["resolve"] is None:
        problems.append("no_time")
    return _with(
        base, kind=Kind.THRESHOLD, category=category, subject=measure, variable=variable,
        payouts=_yes_no_payouts(m, rng), sources=sources, keys=(f"threshold:{variable}",),
        problems=tuple(problems),
    )  # fmt: skip


def _period(r: _Reader) -> str:
    extra = r.m.extra
    texts = [
        r.words,
        r.sub,
        fold(extra.get("event_title", "")),
        fold(extra.get("event_sub_title", "")),
    ]
    return reference_month(
        [t for t in texts if t], fold(r.m.rules), r.m.close_time or r.m.resolve_time
    )


def _kalshi_strike(m: Market) -> Range | None:
    kind = m.extra.get("strike_type", "")
    floor = _decimal(m.extra.get("floor_strike", ""))
    cap = _decimal(m.extra.get("cap_strike", ""))
    if kind == "greater" and floor is not None:
        return Range(floor, False, None, False)
    if kind == "greater_or_equal" and floor is not None:
        return Range(floor, True, None, False)
    if kind == "less" and cap is not None:
        return Range(None, False, cap, False)
    if kind == "less_or_equal" and cap is not None:
        return Range(None, False, cap, True)
    if kind == "between" and floor is not None and cap is not None:
        return Range(floor, True, cap, True)
    return None


def _joined_initials(folded: str) -> list[str]:
    """Words of a folded name with a run of initials joined, as the venues write both
    "J.D. Vance" and "JD Vance" ("j d vance" -> "jd vance"); a lone middle initial
    ("Donald J. Trump") stays one letter."""
    out: list[str] = []
    run: list[str] = []
    for word in (*folded.split(" "), ""):
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        if len(run) > 1:
            run = ["".join(run)]
        out.extend(run)
        run = []
        if word:
            out.append(word)
    return out


def _election(r: _Reader, base: dict[str, Any]) -> Facts | None:
    m = r.m
    if not _ELECTION.search(r.words) or not _RACE_WORDS.search(r.words):
        return None
    event = " ".join(fold(m.extra.get(k, "")) for k in ("event_title", "event_sub_title"))
    race = election_race(f"{r.words} {event}")
    if not race:
        return None
    if m.venue is Venue.KALSHI and r.sub:
        who = r.sub
    else:
        found = re.match(r"will (.+?) (?:win|be|become)\b", r.words)
        who = found.group(1) if found else r.sub
    words = [w for w in _joined_initials(who) if len(w) > 1 and w not in {"jr", "sr", "ii", "iii"}]
    if len(words) < 2 or {"other", "another", "party"} & set(words):
        return None  # a surname alone, an "Other" bucket or a party is not a candidate
    subject = f"person:{words[0]} {words[-1]}"
    problems = [p for p in r.problems if p not in {"date_unverified", "no_date"}]
    return _with(
        base, kind=Kind.ELECTION, category="politics", subject=subject, race=race,
        payouts=_yes_no_payouts(m, Outcomes(frozenset({subject}))),
        keys=(f"election:{words[-1]}",), problems=tuple(problems), day=None,
    )  # fmt: skip


def _proposition(r: _Reader, base: dict[str, Any]) -> Facts | None:
    claim = read_proposition(r.m, r.league.table if r.league else None)
    if claim is None or not claim.words:
        return None
    problems = [p for p in r.problems if p not in {"date_unverified", "no_date"}]
    return _with(
        base, kind=Kind.PROPOSITION, category=r.category, payouts=_yes_no_payouts(r.m, _CLAIM),
        claim=claim, problems=tuple(problems), text="",
    )  # fmt: skip
