"""Alias tables: league teams, tennis players, and threshold subjects (assets, weather).

Loaded once from ``matching/data/*.toml``. Every name is looked up after :func:`fold`
(lowercase ASCII words), so "Montréal", "MONTREAL" and "Montreal," are the same key.
Entity ids are league-qualified (``nba:LAL``) so a name shared by two leagues ("Kings")
never resolves without knowing the league.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

_NON_WORD = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=1 << 12)  # repeats are near: a listing page
def ascii_lower(text: str) -> str:
    """Lowercase and strip accents, keeping punctuation (numbers need it)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii").lower()


@lru_cache(maxsize=1 << 12)  # repeats are near: a listing page
def fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces."""
    return _NON_WORD.sub(" ", ascii_lower(text)).strip()


@dataclass(frozen=True, slots=True)
class PhraseTable:
    """Whole-word phrase lookup, longest phrase first."""

    phrases: Mapping[str, str]  # folded phrase -> entity id
    longest_from: Mapping[str, int]  # first word -> longest phrase length starting there

    @classmethod
    def build(cls, pairs: Iterable[tuple[str, str]]) -> PhraseTable:
        seen: dict[str, set[str]] = {}
        for phrase, entity in pairs:
            key = fold(phrase)
            if key:
                seen.setdefault(key, set()).add(entity)
        # A phrase naming two entities in the same table says nothing: drop it.
        phrases = {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}
        longest: dict[str, int] = {}
        for key in phrases:
            words = key.split(" ")
            longest[words[0]] = max(longest.get(words[0], 0), len(words))
        return cls(phrases, longest)

    def find(self, folded: str) -> list[str]:
        """Entity ids named in ``folded`` text, in order, without overlaps."""
        words = folded.split(" ")
        found: list[str] = []
        i = 0
        while i < len(words):
            span = self.longest_from.get(words[i], 0)
            hit = 0
            for n in range(min(span, len(words) - i), 0, -1):
                entity = self.phrases.get(" ".join(words[i : i + n]))
                if entity is not None:
                    found.append(entity)
                    hit = n
                    break
            i += hit or 1
        return found

    def rename(self, text: str, label: Callable[[str], str]) -> str:
        """``text`` (any case) with each phrase of the table replaced by ``label(id)``:
        "Boston Celtics" and "Celtics" both become one word for ``nba:BOS``."""
        raw = text.split()
        words = [fold(w) for w in raw]
        out: list[str] = []
        i = 0
        while i < len(raw):
            span = self.longest_from.get(words[i], 0)
            for n in range(min(span, len(raw) - i), 0, -1):
                entity = self.phrases.get(" ".join(w for w in words[i : i + n] if w))
                if entity is not None and all(words[i : i + n]):
                    tail = raw[i + n - 1][len(raw[i + n - 1].rstrip("?.,:;!")) :]
                    out.append(label(entity) + tail)
                    i += n
                    break
            else:
                out.append(raw[i])
                i += 1
        return " ".join(out)

    def exact(self, folded: str) -> str | None:
        return self.phrases.get(folded)


@dataclass(frozen=True, slots=True)
class League:
    key: str
    category: str
    kalshi_prefixes: tuple[str, ...]
    slug_prefixes: tuple[str, ...]
    tags: tuple[str, ...]
    draw: bool
    table: PhraseTable
    names: Mapping[str, str]  # entity id -> canonical name


@dataclass(frozen=True, slots=True)
class MeasureGroup:
    category: str
    kalshi_prefixes: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Aliases:
    leagues: Mapping[str, League]
    any_league: PhraseTable  # names that are unambiguous across every league
    entity_league: Mapping[str, str]  # entity id -> league key
    measures: PhraseTable
    measure_groups: Mapping[str, MeasureGroup]  # group key -> group
    measure_category: Mapping[str, str]  # measure code -> category
    names: Mapping[str, str] = field(default_factory=dict)  # id -> canonical name
    league_by_slug: Mapping[str, str] = field(default_factory=dict)  # slug head -> league
    league_by_tag: Mapping[str, str] = field(default_factory=dict)  # folded tag -> league
    category_by_tag: Mapping[str, str] = field(default_factory=dict)  # folded tag -> category
    # Kalshi series (after "KX", exactly) -> the measure its markets settle on.
    measure_by_kalshi_series: Mapping[str, str] = field(default_factory=dict)
    ambiguous_measures: frozenset[str] = frozenset()  # a name that says no single figure
    periodic_measures: frozenset[str] = frozenset()  # a figure for a month or a meeting

    def league_for_kalshi_series(self, series: str) -> League | None:
        """The league whose Kalshi prefix starts ``series`` (``KX`` already removed)."""
        best: tuple[int, League] | None = None
        for league in self.leagues.values():
            for prefix in league.kalshi_prefixes:
                if series.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), league)
        return best[1] if best else None

    def measure_category_for_kalshi_series(self, series: str) -> str:
        best = ""
        category = ""
        for group in self.measure_groups.values():
            for prefix in group.kalshi_prefixes:
                if series.startswith(prefix) and len(prefix) > len(best):
                    best, category = prefix, group.category
        return category


def _team_rows(raw: Mapping[str, object]) -> list[list[str]]:
    rows = raw.get("teams", [])
    assert isinstance(rows, list)
    return [[str(x) for x in row] for row in rows]


def _strs(raw: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    assert isinstance(value, list)
    return tuple(str(x) for x in value)


@cache
def load_aliases() -> Aliases:
    """Parse the packaged tables (once per process)."""
    data = resources.files("predarb.matching").joinpath("data")
    leagues_raw = tomllib.loads(data.joinpath("leagues.toml").read_text("utf-8"))
    measures_raw = tomllib.loads(data.joinpath("measures.toml").read_text("utf-8"))

    own: dict[str, list[tuple[str, str]]] = {}
    names: dict[str, str] = {}
    entity_league: dict[str, str] = {}
    for key, raw in leagues_raw.items():
        pairs: list[tuple[str, str]] = []
        for code, canonical, *aliases in _team_rows(raw):
            entity = f"{key}:{code}"
            names[entity] = canonical
            entity_league[entity] = key
            pairs.extend((alias, entity) for alias in (canonical, *aliases))
        own[key] = pairs

    leagues: dict[str, League] = {}
    for key, raw in leagues_raw.items():
        pairs = list(own[key])
        for included in _strs(raw, "include"):
            pairs.extend(own[included])
        leagues[key] = League(
            key=key,
            category=str(raw.get("category", "sports")),
            kalshi_prefixes=_strs(raw, "kalshi"),
            slug_prefixes=_strs(raw, "slugs"),
            tags=tuple(fold(t) for t in _strs(raw, "tags")),
            draw=bool(raw.get("draw", False)),
            table=PhraseTable.build(pairs),
            names={e: names[e] for _, e in pairs},
        )
    any_league = PhraseTable.build(p for pairs in own.values() for p in pairs)

    measure_pairs: list[tuple[str, str]] = []
    groups: dict[str, MeasureGroup] = {}
    measure_category: dict[str, str] = {}
    by_series: dict[str, str] = {}
    ambiguous: set[str] = set()
    periodic: set[str] = set()
    for key, raw in measures_raw.items():
        category = str(raw.get("category", key))
        groups[key] = MeasureGroup(category, _strs(raw, "kalshi"), tuple(_strs(raw, "tags")))
        series = raw.get("series", {})
        assert isinstance(series, dict)
        by_series.update({str(k): str(v) for k, v in series.items()})
        ambiguous.update(_strs(raw, "ambiguous"))
        items = raw.get("items", [])
        assert isinstance(items, list)
        for code, canonical, *aliases in ([str(x) for x in row] for row in items):
            measure_category[code] = category
            names[code] = canonical
            measure_pairs.extend((alias, code) for alias in (canonical, *aliases))
            if raw.get("period", False):
                periodic.add(code)
    by_slug = {h: lg.key for lg in leagues.values() for h in lg.slug_prefixes}
    # A generic sport word ("basketball") names no single league.
    by_tag = {t: lg.key for lg in leagues.values() for t in lg.tags if t not in {"basketball"}}
    category_by_tag = {fold(t): g.category for g in groups.values() for t in g.tags}
    return Aliases(
        leagues=leagues,
        any_league=any_league,
        entity_league=entity_league,
        measures=PhraseTable.build(measure_pairs),
        measure_groups=groups,
        measure_category=measure_category,
        names=names,
        league_by_slug=by_slug,
        league_by_tag=by_tag,
        category_by_tag=category_by_tag,
        measure_by_kalshi_series=by_series,
        ambiguous_measures=frozenset(ambiguous),
        periodic_measures=frozenset(periodic),
    )


@cache
def load_stations() -> PhraseTable:
    """Weather station names -> ICAO id (``data/stations.toml``), parsed once."""
    data = resources.files("predarb.matching").joinpath("data")
    raw = tomllib.loads(data.joinpath("stations.toml").read_text("utf-8"))
    rows = raw.get("stations", [])
    assert isinstance(rows, list)
    return PhraseTable.build(
        (str(name), str(row[0])) for row in rows for name in row if isinstance(row, list)
    )
