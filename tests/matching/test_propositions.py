"""Propositions ("Will X do Y before D?"): names, windows, wording, review flags.

Records marked "dev set" are real venue records from the matching development set
(shared/matching-dev, which cites schumachero/PolyKalshi@c0302fa and
AreebaFatimaa/kalshi-polymarket-iran@459a84b), shortened to the fields used here.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from predarb.domain import Market, Pair, Venue
from predarb.matching.matcher import Matcher
from predarb.matching.normalize import Kind, normalize
from predarb.matching.review import reviewable
from predarb.matching.windows import read_window
from tests.matching.builders import kalshi, poly

CLOSE_2027 = datetime(2027, 1, 1, 15, tzinfo=UTC)
PARDON_RULES = (
    "If Eric Adams has been given a presidential pardon, commutation, or reprieve during "
    "Trump's second term and before Jan 1, 2027, then the market resolves to Yes."
)


def _pairs(k: Market, p: Market) -> list[Pair]:
    return Matcher().match([k], [p])


def _traded(k: Market, p: Market) -> bool:
    pairs = _pairs(k, p)
    return any(x.tradable for x in pairs)


def _yes_side(pair: Pair) -> str:
    for world in pair.worlds:
        if any(c.venue is Venue.KALSHI and c.side == "yes" for c in world.contracts):
            return next(c.side for c in world.contracts if c.venue is Venue.POLYMARKET)
    raise AssertionError("no Kalshi yes world")


def test_dev_set_visit_pair_trades_yes_with_yes() -> None:
    # dev set D040: KXVISITIRAN-26JUL01-JVAN (full record) / Gamma 1478018 (slim).
    k = kalshi(
        "KXVISITIRAN-26JUL01-JVAN",
        "Will JD Vance visit Iran before Jul 1, 2026?",
        "JD Vance",
        close=datetime(2026, 7, 1, 14, tzinfo=UTC),
        extra={"event_title": "Who will visit Iran before July?"},
    )
    p = poly(
        "1478018",
        "Will JD Vance enter Iran by June 30?",
        sub="JD Vance",
        rules="If the listed person visits Iran between market creation and June 30, 2026, "
        '11:59 PM ET, this market will resolve to "Yes".',
    )
    (pair,) = _pairs(k, p)
    assert pair.tradable and pair.flags == ()
    assert _yes_side(pair) == "Yes"
    assert "window before 2026-07-01 00:00 ET" in pair.evidence


def test_a_name_only_one_title_gives_must_be_verified_by_the_other_market() -> None:
    # dev set D034: the Polymarket title names Trump; the Kalshi rules do too.
    p = poly("687671", "Will Trump pardon Eric Adams before 2027?", sub="Eric Adams")
    title = "Will Eric Adams receive a presidential pardon before Jan 1, 2027?"
    verified = kalshi("KXTRUMPPARDON-27JAN01-EADA", title, close=CLOSE_2027, rules=PARDON_RULES)
    unverified = kalshi("KXTRUMPPARDON-27JAN01-EADA", title, close=CLOSE_2027)
    assert _traded(verified, p)
    assert _pairs(unverified, p) == []


@pytest.mark.parametrize(
    ("k_title", "p_title"),
    [
        (
            "Will J.D. Vance visit Iran before Jul 1, 2026?",
            "Will JD Vance enter Iran by June 30, 2026?",
        ),
        (
            "Will Nicolás Maduro visit Spain before Jul 1, 2026?",
            "Will Nicolas Maduro visit Spain by June 30, 2026?",
        ),
        (
            "Will Volodymyr Zelenskyy visit Russia before Jul 1, 2026?",
            "Will Zelensky visit Russia by June 30, 2026?",
        ),
        (
            "Will Mohammed bin Salman visit Iran before Jul 1, 2026?",
            "Will Muhammad bin Salman visit Iran by June 30, 2026?",
        ),
        (
            "Will Donald J. Trump meet in person Xi Jinping before Jul 1, 2026?",
            "Will Trump meet with Xi Jinping by June 30, 2026?",
        ),
        (
            "Will Edmundo González Urrutia visit Venezuela before Jul 1, 2026?",
            "Will Edmundo Gonzalez visit Venezuela by June 30, 2026?",
        ),
        (
            "Will the United States reopen its embassy in Iran before Jul 1, 2026?",
            "Will the U.S. reopen its embassy in Iran by June 30, 2026?",
        ),
        (
            "Will Mullin be confirmed as Secretary of Homeland Security before Jul 1, 2026?",
            "Mullin confirmed as DHS Secretary by June 30, 2026?",
        ),
    ],
)
def test_name_forms_and_wordings_of_one_claim(k_title: str, p_title: str) -> None:
    assert _traded(kalshi("KXA-26JUL01-X", k_title), poly("1", p_title))


@pytest.mark.parametrize(
    ("k_title", "p_title"),
    [
        (
            "Will Eric Adams visit Iran before Jul 1, 2026?",
            "Will John Adams visit Iran by June 30, 2026?",
        ),
        (
            "Will Donald Trump Jr. visit Iran before Jul 1, 2026?",
            "Will Donald Trump visit Iran by June 30, 2026?",
        ),
        (
            "Will Donald Trump visit Kansas before Jan 1, 2027?",
            "Will Donald Trump visit Virginia in 2026?",
        ),
        (
            "Will Trump buy Greenland before Jan 1, 2027?",
            "Will Trump acquire Greenland before 2027?",
        ),
        (
            "Will Emmanuel Macron leave President of France before Jan 1, 2027?",
            "Will Emmanuel Macron be the next leader out before 2027?",
        ),
        (
            "Will JD Vance visit Venezuela before May 1, 2026?",
            "Will JD Vance visit Venezuela by March 31, 2026?",
        ),
        (
            "Will Donald Trump visit Venezuela before Jan 1, 2027?",
            "Will Donald Trump visit Venezuela by March 31, 2026?",
        ),
        (
            "Will Trump not visit Iran before Jul 1, 2026?",
            "Will Trump visit Iran by June 30, 2026?",
        ),
    ],
)
def test_hard_negatives_never_trade(k_title: str, p_title: str) -> None:
    assert not _traded(kalshi("KXA-26JUL01-X", k_title, close=CLOSE_2027), poly("1", p_title))


@pytest.mark.parametrize(
    "p_title",
    [
        "Will Trump visit Japan in 2026?",
        "Will Trump visit Japan by December 31, 2026?",
        "Will Trump visit Japan before 2027?",
        "Will Trump visit Japan by end of 2026?",
    ],
)
def test_year_wordings_end_at_the_same_instant(p_title: str) -> None:
    k = kalshi("KXTRUMPCOUNTRIES-27JAN01-JAP", "Will Donald Trump visit Japan before Jan 1, 2027?")
    assert _traded(k, poly("665264", p_title))


def test_a_year_left_out_is_read_from_the_markets_other_fields() -> None:
    # dev set D047: the Gamma groupItemTitle carries the year the question leaves out.
    k = kalshi("KXTRUMPCHINA-26-MAY01", "Will Donald Trump visit China before May 1, 2026?")
    p = poly("706279", "Will Trump visit China by April 30?", sub="April 30, 2026")
    later = poly("706280", "Will Trump visit China by April 30?", sub="April 30, 2027")
    assert _traded(k, p)
    assert not _traded(k, later)


def test_a_window_edge_that_differs_is_shown_flagged_never_traded() -> None:
    # dev set D105: Kalshi's edge is 10:00 ET on Feb 1; Polymarket's is the end of Jan 31.
    k = kalshi(
        "KXKHAMENEIOUT-AKHA-26FEB01",
        "Will Ali Khamenei leave office before 2026-02-01T15:00:00.000Z?",
    )
    p = poly("1106713", "Will Ali Khamenei leave office by January 31, 2026?")
    (pair,) = _pairs(k, p)
    assert not pair.tradable and "window_edge_differs" in pair.flags
    midnight = kalshi(
        "KXKHAMENEIOUT-AKHA-26FEB01", "Will Ali Khamenei leave office before 2026-02-01T05:00:00Z?"
    )
    assert _traded(midnight, p)


def test_counts_over_different_weeks_never_pair() -> None:
    # dev set D083: the same bucket over different weeks.
    k = kalshi(
        "KXTRUTHSOCIAL-26MAR21-B189",
        "Will Donald Trump make between 180 and 199 Truth Social posts the week of Mar 15, 2026?",
    )
    other_week = poly(
        "1543001",
        "Will Donald Trump make 180-199 Truth Social posts from March 17 to March 24, 2026?",
    )
    same_week = poly(
        "2", "Will Donald Trump make 180-199 Truth Social posts from March 15 to March 21, 2026?"
    )
    other_bucket = poly(
        "3", "Will Donald Trump make 160-179 Truth Social posts from March 15 to March 21, 2026?"
    )
    assert _pairs(k, other_week) == [] and _pairs(k, other_bucket) == []
    assert _traded(k, same_week)


def test_rules_requiring_ratification_are_not_an_announcement() -> None:
    # dev set D100: same titles; Kalshi requires ratification, Polymarket an announcement.
    k = kalshi(
        "KXABRAHAMSA-27-JAN01",
        "Will Israel and Saudi Arabia normalize relations before Jan 1, 2027?",
        rules="The agreement must be ratified before Jan 1, 2027 to be included.",
    )
    p = poly(
        "665218",
        "Israel and Saudi Arabia normalize relations before 2027?",
        rules='This market will resolve to "Yes" if both officially announce relations.',
    )
    (pair,) = _pairs(k, p)
    assert not pair.tradable and pair.flags == ("terms_differ",)


def test_a_kalshi_outcome_market_pairs_with_the_polymarket_yes_no_question() -> None:
    # One Kalshi market per outcome: the question is the title, the outcome the sub-title.
    k = [
        kalshi(
            "KXPRESPARTY-28-D", "Which party will win the 2028 presidential election?", "Democratic"
        ),
        kalshi(
            "KXPRESPARTY-28-R", "Which party will win the 2028 presidential election?", "Republican"
        ),
    ]
    p = [
        poly("10", "Will the Democratic Party win the 2028 presidential election?"),
        poly("11", "Will the Republican Party win the 2028 presidential election?"),
    ]
    tradable = {
        (x.markets(Venue.KALSHI), x.markets(Venue.POLYMARKET))
        for x in Matcher().match(k, p)
        if x.tradable
    }
    assert tradable == {(("KXPRESPARTY-28-D",), ("10",)), (("KXPRESPARTY-28-R",), ("11",))}


def test_one_claim_listed_twice_is_not_ambiguous() -> None:
    # dev set D060/D063: two Polymarket markets on the one Kalshi pardon claim.
    k = kalshi(
        "KXTRUMPPARDON-27JAN01-GMAX",
        "Will Ghislaine Maxwell receive a presidential pardon before Jan 1, 2027?",
        rules="If Ghislaine Maxwell has been given a presidential pardon during Trump's term",
    )
    p = [
        poly("687689", "Will Trump pardon Ghislaine Maxwell before 2027?"),
        poly("566760", "Will Trump pardon Ghislaine Maxwell by end of 2026?"),
    ]
    pairs = Matcher().match([k], p)
    assert len(pairs) == 2 and all(x.tradable for x in pairs)


def test_other_buckets_are_never_claims() -> None:
    k = kalshi("KXA-26JUL01-X", "Will someone else visit Iran before Jul 1, 2026?")
    assert _pairs(k, poly("1", "Will someone else visit Iran by June 30, 2026?")) == []


def test_a_game_market_learns_its_opponent_from_the_sibling_market() -> None:
    # Kalshi game event without its title: each market names one team.
    k = [
        kalshi("KXNBAGAME-26NOV22LALBOS-LAL", "Will Los Angeles L win?", "Los Angeles L"),
        kalshi("KXNBAGAME-26NOV22LALBOS-BOS", "Will Boston win?", "Boston"),
    ]
    p = poly("9", "Lakers vs. Celtics", ("Lakers", "Celtics"), slug="nba-lal-bos-2026-11-22")
    (pair,) = Matcher().match(k, [p])
    assert pair.tradable and "opponent_unverified" not in pair.flags
    (alone,) = Matcher().match(k[:1], [p])
    assert not alone.tradable and "opponent_unverified" in alone.flags


@pytest.mark.parametrize(
    ("text", "end", "start"),
    [
        ("before jan 1, 2027", "2027-01-01T00:00:00-05:00", None),
        ("in 2026", "2027-01-01T00:00:00-05:00", "2026-01-01"),
        ("by june 30, 2026, 11:59 pm et", "2026-07-01T00:00:00-04:00", None),
        ("before may 2026", "2026-05-01T00:00:00-04:00", None),
        ("before 2026-02-01t15:00:00.000z", "2026-02-01T15:00:00+00:00", None),
        ("the week of mar 15, 2026", "2026-03-22T00:00:00-04:00", "2026-03-15"),
        ("from march 17 to march 24, 2026", "2026-03-25T00:00:00-04:00", "2026-03-17"),
    ],
)
def test_windows(text: str, end: str, start: str | None) -> None:
    window = read_window(text)
    assert window is not None
    assert window.end == datetime.fromisoformat(end)
    assert (window.start.isoformat() if window.start else None) == start


@given(st.text(max_size=120), st.text(max_size=40), st.text(max_size=80))
def test_reading_a_claim_never_raises(title: str, sub: str, rules: str) -> None:
    facts = normalize(kalshi("KXA-26JUL01-X", title, sub, rules=rules))
    assert facts.kind in set(Kind)
    read_window(title.lower(), [sub, rules], CLOSE_2027)


def test_an_events_year_is_the_same_as_its_calendar_year_window() -> None:
    k = kalshi(
        "KXPRESNOMD-28-GN", "Who will win the Democratic nomination for president in 2028?",
        "Gavin Newsom",
    )  # fmt: skip
    p = poly("5", "Will Gavin Newsom win the 2028 Democratic nomination for president?")
    assert _traded(k, p)
    other_year = poly("6", "Will Gavin Newsom win the 2032 Democratic nomination for president?")
    assert not _traded(k, other_year)


def test_team_nicknames_and_cities_are_one_team() -> None:
    k = kalshi("KXNBA-26-LAL", "Who will win the 2026 NBA Finals?", "Los Angeles L")
    p = poly("8", "Will the Lakers win the 2026 NBA Finals?", extra={"tags": "NBA"})
    assert _traded(k, p)
    assert not _traded(
        k, poly("9", "Will the Celtics win the 2026 NBA Finals?", extra={"tags": "NBA"})
    )


@pytest.mark.parametrize(
    ("k_title", "p_title"),
    [
        (
            "Will Trump not visit Iran before Jul 1, 2026?",
            "Will Trump visit Iran by June 30, 2026?",
        ),
        (
            "Will the Fed cut rates by 50bps at the June 2026 meeting?",
            "Will the Fed cut rates by 25bps at the June 2026 meeting?",
        ),
        # dev set: KXTRUMPMEETING-27JAN01-NNMAD / Gamma 1106424 (a hard negative that
        # was offered for review): another verb is another claim.
        (
            "Will Donald Trump meet in person Nicolás Maduro before Jan 1, 2027?",
            "Will Trump pardon Nicolas Maduro before 2027?",
        ),
        (
            "Will Donald Trump meet Nicolás Maduro before Jan 1, 2027?",
            "Will Donald Trump pardon Nicolás Maduro in 2026?",
        ),
    ],
)
def test_a_negation_or_another_number_is_not_even_a_question(k_title: str, p_title: str) -> None:
    assert _pairs(kalshi("KXA-26JUL01-X", k_title), poly("1", p_title)) == []


def test_a_word_only_one_side_has_is_a_question_for_a_human() -> None:
    # One market adds a word the other lacks: likely the same claim, asked about.
    k = kalshi("KXA-27JAN01-X", "Will Donald Trump officially visit Japan before Jan 1, 2027?")
    (pair,) = _pairs(k, poly("1", "Will Donald Trump visit Japan in 2026?"))
    assert not pair.tradable and pair.flags == ("wording_differs",)
    assert reviewable(pair)
    # Each side has a word the other lacks: another claim, not even shown.
    meet = kalshi("KXA-27JAN01-X", "Will Donald Trump meet Xi Jinping before Jan 1, 2027?")
    assert _pairs(meet, poly("2", "Will Donald Trump call Xi Jinping in 2026?")) == []
