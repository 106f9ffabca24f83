"""Propositions: "Will X do Y before D?" markets, read as words plus a time window.

Most political and world-event markets are not games or prices but one claim with a
deadline. Two venues word the same claim differently ("Will Donald Trump meet in person
Xi Jinping before Jan 1, 2027?" / "Will Trump meet with Xi Jinping in 2026?"), so a
claim is read as a set of canonical words (accents folded, initials joined, inflections
stemmed, a few verbs and abbreviations mapped: "enter" is "visit", "DHS" is "homeland
security") with its names kept as runs ("donald trump"), and a :class:`Window`.

Two claims are the same when their words agree and their windows end at the same
instant. A word only one side has is accepted only when it is a name that the other
side's own fields verify: a first or middle name of a person both name ("Donald" of
"Trump"), or a name found in the other market's rules, sub-title, event or series title
("Trump" of a Kalshi pardon whose rules say "during Trump's second term"). Two runs that
share a name but not their other names ("Eric Adams" / "John Adams"), or differ in a
suffix ("Jr."), are different people. Anything else is refused, or at most shown for a
human to review with a flag that says why.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from predarb.domain import Market, Venue
from predarb.matching.aliases import PhraseTable, ascii_lower, fold
from predarb.matching.text import resolution_sources, sources_differ
from predarb.matching.windows import Window, dated, read_window

_STOP = frozenset(
    {
        "will", "the", "a", "an", "be", "been", "being", "is", "are", "was", "of", "in", "on",
        "at", "to", "for", "by", "before", "after", "as", "with", "its", "it", "their", "his",
        "her", "and", "this", "that", "who", "which", "what", "whom", "does", "do", "did",
        "receive", "any", "s", "how", "many", "much",
    }
)  # fmt: skip
# "Another candidate", "Other": a bucket defined by what else each venue lists.
_OTHER = re.compile(r"\b(another|other|others|anyone else|someone else)\b")
# A question whose answer is the market's sub-title: "Who will win Best Picture?" with
# "One Battle After Another", "How many seats will Democrats win?" with "220 to 229".
_WH = re.compile(r"^\s*(who|which|what|how many|how much)\b", re.I)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
# Verbs and abbreviations two venues use for the same thing (after lowercasing).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "enter": ("visit",), "enters": ("visit",), "entered": ("visit",), "travel": ("visit",),
    "travels": ("visit",), "out": ("leave",), "leaves": ("leave",), "left": ("leave",),
    "met": ("meet",), "meets": ("meet",), "meeting": ("meet",),
    "dhs": ("homeland", "security"), "potus": ("president",), "gop": ("republican",),
    "democrats": ("democrat",), "democratic": ("democrat",), "dem": ("democrat",),
    "dems": ("democrat",), "republicans": ("republican",), "uk": ("united", "kingdom"),
    "britain": ("united", "kingdom"), "oscars": ("oscar",), "grammys": ("grammy",),
    "emmys": ("emmy",), "globes": ("globe",),
}  # fmt: skip
_PHRASES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"\bin person\b", re.I), " ", "person"),
    (re.compile(r"\b(presidential )(pardon)", re.I), r"\2", "pardon"),
    (re.compile(r"\bacademy awards?\b", re.I), "Oscar", "academy"),
)
_DIGIT = re.compile(r"\d")
# A word that turns the claim around: never a wording difference to review.
_NEGATIONS = frozenset({"not", "no", "never", "without", "fail", "los"})  # "lose" stems to "los"
_WORD = re.compile(r"n_[a-z0-9._]+|[A-Za-z0-9]+")
_INITIALS = re.compile(r"\b([A-Z])\.\s?([A-Z])\.(?:\s?([A-Z])\.)?")
_US = re.compile(r"\b(?:U\.S\.A?\.?|United States(?: of America)?|USA)(?![A-Za-z])")
_BETWEEN_N = re.compile(r"\bbetween\s+(\d+(?:\.\d+)?)\s+and\s+(\d+(?:\.\d+)?)", re.I)
_RANGE_N = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:-|to)\s*(\d+(?:\.\d+)?)\b")
_PLUS_N = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:\+|or more\b|or above\b|or higher\b)", re.I)
_ABOVE_N = re.compile(r"\b(?:above|more than|over|greater than)\s+(\d+(?:\.\d+)?)\b", re.I)
_BELOW_N = re.compile(r"\b(?:below|fewer than|less than|under)\s+(\d+(?:\.\d+)?)\b", re.I)
_YEAR = re.compile(r"20\d{2}")
# Completion stages a rules text may require beyond the event itself: an announced
# agreement is not a ratified one.
_STAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bratif"), "ratified"),
    (re.compile(r"\benact"), "enacted"),
)


@dataclass(frozen=True, slots=True)
class Proposition:
    words: tuple[str, ...]  # sorted; a tuple holds a listing's claims in a third the memory
    runs: tuple[tuple[str, ...], ...]  # the names, each a run of canonical words
    window: Window | None
    # Every other field the venue sent (rules, sub-title, event and series titles, slug):
    # read only when a comparison needs them, so a listing is not tokenized twice.
    texts: tuple[str, ...] = ()
    rules: str = ""
    source: str = ""  # the venue's resolution source field

    @property
    def names(self) -> frozenset[str]:
        return frozenset(w for r in self.runs for w in r)

    @property
    def context(self) -> frozenset[str]:
        return _context(self.texts)

    @property
    def stages(self) -> frozenset[str]:
        return _stages(self.rules)

    @property
    def sources(self) -> frozenset[str]:
        return _sources(self.rules) | _sources(self.source)

    @property
    def counted(self) -> bool:
        """A count over a window (posts, mentions): its start matters too."""
        return any(w.startswith("n_") for w in self.words)


@lru_cache(maxsize=4096)
def _context(texts: tuple[str, ...]) -> frozenset[str]:
    return frozenset(w for w, _ in tokens(" ".join(texts)) if w)


@lru_cache(maxsize=4096)
def _stages(rules: str) -> frozenset[str]:
    lower = _plain(rules).lower()
    return frozenset(name for pattern, name in _STAGES if pattern.search(lower))


@lru_cache(maxsize=4096)
def _sources(rules: str) -> frozenset[str]:
    return resolution_sources(rules)


def _plain(text: str) -> str:
    """Accents folded, case kept."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


@lru_cache(maxsize=1 << 15)
def _stem(word: str) -> str:
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("e", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)] + keep
            break
    return _squeeze(word)


@lru_cache(maxsize=1 << 15)
def _squeeze(word: str) -> str:
    """Transliteration-tolerant form of a name: doubled letters and a final "iy"/"yy"
    folded ("Zelenskyy", "Zelenskiy", "Zelensky"), inner vowels of long names dropped
    ("Mohammed", "Muhammad")."""
    word = re.sub(r"(.)\1+", r"\1", word)
    word = re.sub(r"(iy|yi|ij)$", "y", word)
    if len(word) >= 7 and not word.isdigit():
        word = word[0] + re.sub(r"[aeiouy]", "", word[1:-1]) + word[-1]
    return word


def _numbers(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = _BETWEEN_N.sub(r" n_\1_\2 ", text)
    text = _RANGE_N.sub(r" n_\1_\2 ", text)
    text = _PLUS_N.sub(r" n_ge\1 ", text)
    text = _ABOVE_N.sub(r" n_gt\1 ", text)
    return _BELOW_N.sub(r" n_lt\1 ", text)


def tokens(text: str) -> list[tuple[str, bool]]:
    """Canonical words of ``text``, each with whether it was written as a name."""
    text = _plain(text)
    # Each rewrite only where it can apply: most titles have no initials or numbers.
    if "." in text:
        text = _INITIALS.sub(lambda m: "".join(g for g in m.groups() if g), text)
    if "U" in text:
        text = _US.sub("US", text)
    if _DIGIT.search(text):
        text = _numbers(text)
    lower = text.lower()
    for pattern, replacement, marker in _PHRASES:
        if marker in lower:
            text = pattern.sub(replacement, text)
    raw: list[tuple[str, bool]] = []
    for n, m in enumerate(_WORD.finditer(text)):
        word = m.group(0)
        lower = word.lower()
        name = word[0].isupper() and not (n == 0 and lower in _STOP) and lower not in _STOP
        for part in _SYNONYMS.get(lower, (lower,)):
            raw.append((part, name))
    out: list[tuple[str, bool]] = []
    for word, name in raw:
        if word in _STOP:
            out.append(("", False))  # a stop word ends a run of names
            continue
        canon = word if word.startswith("n_") else (_squeeze(word) if name else _stem(word))
        out.append((canon, name))
    return out


def _runs(toks: Iterable[tuple[str, bool]]) -> tuple[tuple[str, ...], ...]:
    """Tuples, not sets: a Kalshi listing keeps a hundred thousand of them."""
    runs: list[tuple[str, ...]] = []
    current: list[str] = []
    for word, name in (*toks, ("", False)):
        if name and word:
            current.append(word)
        elif current:
            runs.append(tuple(dict.fromkeys(current)))
            current = []
    return tuple(runs)


def _other_bucket(title: str) -> bool:
    """ "Will another candidate win ...?", "Will Someone Else ...": a bucket defined by
    what else each venue lists. "Another" inside a capitalised name ("One Battle After
    Another") is part of the name: the word before it is capitalised too and is not the
    title's first word ("Will Another ...")."""
    for m in _OTHER.finditer(title.lower()):
        word = title[m.start() : m.end()]
        before = title[: m.start()].split()
        in_name = word[0].isupper() and len(before) > 1 and before[-1][:1].isupper()
        if not in_name:
            return True
    return False


def _dated(text: str) -> bool:
    return read_window(text.lower()) is not None


_WINDOWS: dict[Window, Window] = {}


def _shared_window(window: Window) -> Window:
    """One object per distinct window: a listing has a few hundred deadlines."""
    plain = replace(window, span=(0, 0))
    if len(_WINDOWS) > 4096:
        _WINDOWS.clear()
    return _WINDOWS.setdefault(plain, plain)


def _team_word(entity: str) -> str:
    """One name-like word for a team id ("nba:BOS" -> "Teamnbabos")."""
    return "Team" + re.sub(r"[^a-z0-9]", "", entity.lower())


def read_proposition(m: Market, teams: PhraseTable | None = None) -> Proposition | None:
    """The claim a Yes/No market makes, or None when it has no Yes/No pair. ``teams``
    (the market's league) names each team one way: "Boston Celtics", "Celtics" and
    Kalshi's "Boston" are one word."""
    sides = sorted(c.side.strip().lower() for c in m.contracts)
    if sides != ["no", "yes"]:
        return None
    title = _plain(m.title)
    subtitle = m.subtitle
    if teams is not None:
        title, subtitle = teams.rename(title, _team_word), teams.rename(subtitle, _team_word)
    extra = m.extra
    # Fields that may name the window the title leaves out: the sub-title, the event's
    # title and sub-title (Kalshi's "Before Jul 1, 2026"), last the rules.
    hints = [
        _plain(x).lower()
        for x in (
            m.subtitle,
            extra.get("event_title", ""),
            extra.get("event_sub_title", ""),
            m.rules,
        )
        if x
    ]
    lower = title.lower()
    if _other_bucket(title) or _OTHER.fullmatch(_plain(subtitle).strip().lower()):
        return None
    window = read_window(lower, hints, m.close_time or m.resolve_time)
    claim_text = title
    spans = window
    if window is None:
        for hint in hints:
            window = read_window(hint, hints, m.close_time or m.resolve_time)
            if window is not None:
                break
    elif spans is not None:
        a, b = spans.span
        claim_text = title[:a] + " " + title[b:]
    if m.venue is Venue.KALSHI and _WH.match(title) and subtitle and not _dated(subtitle):
        claim_text = f"{claim_text} {subtitle}"
    toks = tokens(claim_text)
    texts = (
        m.subtitle,
        m.rules,
        extra.get("event_title", ""),
        extra.get("event_sub_title", ""),
        extra.get("series_title", ""),
        m.slug or extra.get("slug", ""),
    )
    runs = _runs(toks)
    if window is not None:
        window = _shared_window(window)
    return Proposition(
        words=tuple(sorted({w for w, _ in toks if w})),
        runs=runs,
        window=window,
        texts=tuple(t for t in texts if t),
        rules=m.rules,
        source=extra.get("resolution_source", ""),
    )


def clear_text_caches() -> None:
    """Forget the memoized readings (they hold the last listing's text)."""
    for cached in (_context, _stages, _sources, _stem, _squeeze, ascii_lower, fold, dated):
        cached.cache_clear()
    _WINDOWS.clear()


def same_claim_key(c: Proposition) -> tuple[tuple[str, ...], object]:
    """Two markets with this key on one venue are one claim listed twice."""
    return c.words, (c.window.end, c.window.start) if c.window else None


@dataclass(frozen=True, slots=True)
class Verdict:
    flags: tuple[str, ...]
    evidence: str
    confidence: float


def _conflicting_runs(a: Proposition, b: Proposition) -> bool:
    for run_a in a.runs:
        ra = frozenset(run_a)
        for run_b in b.runs:
            rb = frozenset(run_b)
            if ra & rb and not (ra <= rb or rb <= ra):
                return True
            if ra & rb and (ra & _SUFFIXES) != (rb & _SUFFIXES):
                return True
    return False


def _unverified(
    own: Proposition,
    names: frozenset[str],
    other_words: frozenset[str],
    other: Proposition,
    extra: frozenset[str],
    *,
    context: bool,
) -> set[str]:
    """Words of ``own`` the other side lacks and nothing of the other side verifies: a
    first or middle name of a person both name, or (``context``) a name the other
    market's own fields give."""
    left: set[str] = set()
    for word in extra:
        if word in names:
            if any(word in r and not other_words.isdisjoint(r) for r in own.runs):
                continue
            if context and word in other.context:
                continue
        left.add(word)
    return left


def _wording(
    k: Proposition, p: Proposition, ks: frozenset[str], ps: frozenset[str]
) -> set[str] | None:
    """Words left unverified on either side, or None when they make it another claim."""
    shared = ks & ps
    k_only, p_only = ks - shared, ps - shared
    if any(_DIGIT.search(w) or w in _NEGATIONS for w in (*k_only, *p_only)):
        return None  # another count, bucket, threshold or year; or the claim negated
    kn, pn = k.names, p.names
    loose_k = _unverified(k, kn, ps, p, k_only, context=False)
    loose_p = _unverified(p, pn, ks, k, p_only, context=False)
    if loose_k & kn and loose_p & pn:
        return None  # each names someone the other does not: other entities
    if not (kn & pn) or _conflicting_runs(k, p):
        return None
    # Only now read the other market's fields (rules text is long; most candidates
    # were refused above without it).
    if loose_k & kn:
        loose_k = _unverified(k, kn, ps, p, frozenset(loose_k), context=True)
    if loose_p & pn:
        loose_p = _unverified(p, pn, ks, k, frozenset(loose_p), context=True)
    loose = loose_k | loose_p
    # A name only one side gives, unverified, is another entity: never a review.
    if loose & (kn | pn) or len(loose) > 2:
        return None
    # A word each side has and the other lacks ("meet" / "pardon") is another verb or
    # object: another claim, never a wording to review.
    if loose_k - kn and loose_p - pn:
        return None
    return loose


def _year_named(window: Window | None, other: Proposition) -> str:
    """The year of a calendar-year window ("in 2028") that the other claim names as a
    word ("the 2028 election"): the same event either way."""
    if window is None or window.start is None or other.window is not None:
        return ""
    year = window.start.year
    if (window.start.month, window.start.day) != (1, 1) or window.end.year != year + 1:
        return ""
    return str(year) if str(year) in other.words else ""


def compare_propositions(k: Proposition, p: Proposition) -> Verdict | None:
    """Same claim over the same window: a verdict (flags empty when tradable), or None."""
    ks, ps = frozenset(k.words), frozenset(p.words)
    if year := _year_named(k.window, p):
        ks, k = ks | {year}, replace(k, window=None)
    elif year := _year_named(p.window, k):
        ps, p = ps | {year}, replace(p, window=None)
    shared = ks & ps
    if not shared:
        return None
    loose = _wording(k, p, ks, ps)
    if loose is None or (loose and len(shared) < 3):
        return None
    flags: list[str] = ["wording_differs"] if loose else []
    kw, pw = k.window, p.window
    if kw is None or pw is None:
        if kw is not None or pw is not None or loose:
            return None
        # "the 2028 presidential election": a year both name is the event, not a window.
        if not any(_YEAR.fullmatch(w) for w in shared):
            flags.append("deadline_unverified")
    elif not kw.same_end(pw):
        if not (kw.year_known and pw.year_known) or abs(kw.end - pw.end).total_seconds() >= 86400:
            return None
        flags.append("window_edge_differs")
    if (k.counted or p.counted) and (kw is None or pw is None or kw.start != pw.start):
        return None
    if k.rules and p.rules and k.stages != p.stages:
        flags.append("terms_differ")
    if sources_differ(k.sources, p.sources):
        flags.append("source_differs")
    when = kw.describe() if kw else "no deadline"
    if kw is not None and pw is not None and not (kw.year_known and pw.year_known):
        when += ", year read from one venue"
    evidence = f"claim {' '.join(sorted(shared))}; window {when}"
    if loose:
        evidence += f"; unverified words {' '.join(sorted(loose))}"
    confidence = round(max(0.0, 1.0 - 0.15 * len(flags)), 4)
    return Verdict(tuple(flags), evidence, confidence)
