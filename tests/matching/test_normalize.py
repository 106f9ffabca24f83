"""Normalizer: what facts it reads, and that bad input never makes a tradable pair."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predarb.domain import Venue
from predarb.matching.matcher import Matcher
from predarb.matching.normalize import Kind, normalize
from predarb.matching.payout import Range
from predarb.matching.text import threshold
from tests.matching.builders import kalshi, poly


def test_threshold_wordings() -> None:
    assert threshold("will bitcoin be above $100,000 on nov 30?") == Range(
        Decimal(100000), False, None, False
    )
    assert threshold("$100k or above") == Range(Decimal(100000), True, None, False)
    assert threshold("be 86f or higher") == Range(Decimal(86), True, None, False)
    assert threshold("below 3.5%") == Range(None, False, Decimal("3.5"), False)
    assert threshold("lakers vs. celtics: o/u 220.5") == Range(Decimal("220.5"), False, None, False)
    assert threshold("no number here") is None


def test_team_aliases_need_the_league() -> None:
    nba = normalize(poly("1", "Kings vs. Suns", ("Kings", "Suns"), slug="nba-sac-phx-2026-11-22"))
    nhl = normalize(poly("2", "Kings vs. Ducks", ("Kings", "Ducks"), slug="nhl-lak-ana-2026-11-22"))
    assert nba.participants == {"nba:SAC", "nba:PHX"}
    assert nhl.participants == {"nhl:LAK", "nhl:ANA"}


def test_accents_fold_to_the_same_team() -> None:
    a = normalize(
        poly(
            "1",
            "Montréal Canadiens vs. Toronto",
            ("Canadiens", "Maple Leafs"),
            slug="nhl-mtl-tor-2026-11-22",
        )
    )
    assert a.participants == {"nhl:MTL", "nhl:TOR"} and not a.problems


def test_kalshi_ticker_date_and_start() -> None:
    f = normalize(
        kalshi("KXMLBGAME-26JUN111310NYYBOS-NYY", "New York Y at Boston Winner?", "New York Y")
    )
    assert f.kind is Kind.WINNER and f.day_explicit
    assert f.start == datetime(2026, 6, 11, 17, 10, tzinfo=UTC)


bad_text = st.one_of(
    st.just(""),
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF), max_size=12),
    st.text(max_size=60),
)


@settings(max_examples=150, deadline=None)
@given(bad_text, bad_text, st.sampled_from(["", "nba-a-b-2026-11-22", "zzz"]))
def test_normalize_never_raises(title: str, sub: str, slug: str) -> None:
    normalize(kalshi("KXNBAGAME-26NOV22AB-A", title, sub))
    normalize(poly("9", title, (sub or "A", "B"), slug=slug))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_threshold_never_raises(text: str) -> None:
    threshold(text.lower())
    threshold(text.lower(), over_under=True)


NON_ASCII = st.text(
    alphabet=st.characters(min_codepoint=0x0400, max_codepoint=0x04FF), min_size=2, max_size=10
)


@settings(max_examples=60, deadline=None)
@given(NON_ASCII, NON_ASCII)
def test_unreadable_names_never_trade(a: str, b: str) -> None:
    k = [
        kalshi(f"KXNBAGAME-26NOV22XY-{i}", f"{a} vs {b} Winner?", side)
        for i, side in (("X", a), ("Y", b))
    ]
    p = [poly("1", f"{a} vs. {b}", (a, b), slug="nba-x-y-2026-11-22")]
    assert not any(pair.tradable for pair in Matcher().match(k, p))


def test_missing_dates_and_unknown_leagues_never_trade() -> None:
    k = [
        kalshi("KXZZZGAME-26NOV22FOOBAR-FOO", "Will Foo win the Foo vs Bar game?", "Foo"),
        kalshi("KXZZZGAME-26NOV22FOOBAR-BAR", "Will Bar win the Foo vs Bar game?", "Bar"),
    ]
    p = [
        poly("1", "Foo vs. Bar", ("Foo", "Bar"), slug="zzz-foo-bar-2026-11-22"),
        poly("2", "Lakers vs. Celtics", ("Lakers", "Celtics")),
    ]
    pairs = Matcher().match(k, p)
    assert not any(x.tradable for x in pairs)
    assert all("unknown_league" in x.flags for x in pairs)
    assert normalize(p[1]).day is None


def test_neg_risk_other_bucket_is_not_a_candidate() -> None:
    other = poly(
        "3",
        "Will another candidate win the 2028 Democratic presidential nomination?",
        sub="Other",
        neg_risk=True,
        category="Politics",
    )
    assert normalize(other).kind is Kind.UNKNOWN


def test_only_kalshi_and_polymarket_sides() -> None:
    k = kalshi(
        "KXNBAGAME-26NOV22LALBOS-LAL", "Will the Lakers win the Lakers vs Celtics game?", "Lakers"
    )
    assert Matcher().match([k], [k]) == [] and k.venue is Venue.KALSHI


@pytest.mark.parametrize("kalshi_name", ["J.D. Vance", "J. D. Vance", "JD Vance"])
def test_initials_name_one_candidate(kalshi_name: str) -> None:
    k = kalshi(
        "KXPRESPERSON-28-JVAN",
        "Who will win the next presidential election?",
        kalshi_name,
        extra={"event_title": "2028 U.S. Presidential Election winner?"},
    )
    p = poly("561974", "Will JD Vance win the 2028 US Presidential Election?", sub="JD Vance")
    assert normalize(k).subject == normalize(p).subject == "person:jd vance"
    (pair,) = Matcher().match([k], [p])
    assert pair.tradable
    # A middle initial is no first name: "Donald J. Trump" is Donald Trump.
    trump = kalshi("KXPRESPERSON-28-DTRU", k.title, "Donald J. Trump", extra=dict(k.extra))
    assert normalize(trump).subject == "person:donald trump"
    other = poly("561975", "Will Vance Boelter win the 2028 US Presidential Election?")
    assert not any(x.tradable for x in Matcher().match([k], [other]))
