"""Shapes beyond games and visits: economic figures (a threshold on one month's figure,
paired only when threshold, month and publisher agree), award winners and brackets (a
Kalshi outcome market against Polymarket's yes/no question on that outcome).

Kalshi titles and rules follow the wording of the venue's series (KXCPIYOY, KXU3, KXFED);
the markets are made here, not recorded."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from predarb.domain import Market, Pair
from predarb.matching.aliases import fold
from predarb.matching.dates import reference_month
from predarb.matching.matcher import Matcher
from predarb.matching.normalize import Kind, normalize
from tests.matching.builders import kalshi, poly

BLS = "The resolution source for this market will be the U.S. Bureau of Labor Statistics (BLS)."
CPI_CLOSE = datetime(2026, 5, 12, 12, 30, tzinfo=UTC)


def _pairs(k: Market, p: Market) -> list[Pair]:
    return Matcher().match([k], [p])


def _cpi_yoy(strike: str = "2.6") -> Market:
    return kalshi(
        f"KXCPIYOY-26APR-T{strike}",
        f"Will the rate of CPI inflation be above {strike}% for the year ending in April 2026?",
        close=CPI_CLOSE,
        rules=f"If the Consumer Price Index (CPI) increases by more than {strike}% in the twelve "
        "months ending April 2026 (as represented by the one-decimal place value reported by "
        "the Bureau of Labor Statistics), then the market resolves to Yes.",
        extra={"strike_type": "greater", "floor_strike": strike},
    )


def _poly(question: str, rules: str = BLS, close: datetime = CPI_CLOSE) -> Market:
    return poly("77", question, close=close, rules=rules, category="Economy")


def test_an_economic_threshold_pairs_on_measure_month_threshold_and_publisher() -> None:
    (pair,) = _pairs(_cpi_yoy(), _poly("Will annual inflation be above 2.6% in April 2026?"))
    assert pair.tradable and pair.flags == ()
    assert "CPI_YOY@2026-04" in pair.evidence


@pytest.mark.parametrize(
    "question",
    [
        "Will annual inflation be above 2.6% in March 2026?",  # another month
        "Will annual inflation be above 2.7% in April 2026?",  # another threshold
        "Will annual inflation be 2.6% or higher in April 2026?",  # >= is not >
        "Will monthly CPI rise more than 2.6% in April 2026?",  # the monthly change
        "Will CPI be above 2.6% in April 2026?",  # which CPI figure: not said
    ],
)
def test_another_month_threshold_or_figure_never_pairs(question: str) -> None:
    assert not any(x.tradable for x in _pairs(_cpi_yoy(), _poly(question)))


def test_another_publisher_is_refused_with_a_flag() -> None:
    cleveland = "Resolves per the nowcast published by the Federal Reserve Bank of Cleveland."
    (pair,) = _pairs(
        _cpi_yoy(), _poly("Will annual inflation be above 2.6% in April 2026?", cleveland)
    )
    assert not pair.tradable and "source_differs" in pair.flags
    unnamed = _poly("Will annual inflation be above 2.6% in April 2026?", rules="")
    (pair,) = _pairs(_cpi_yoy(), unnamed)
    assert not pair.tradable and "source_unknown" in pair.flags


def test_a_month_without_its_year_takes_it_from_the_rules_or_the_close() -> None:
    close = datetime(2025, 10, 3, 12, 30, tzinfo=UTC)
    k = kalshi(
        "KXU3-25SEP-T4.3",
        "Will the unemployment rate (U-3) be above 4.3% in September?",
        close=close,
        rules="If the seasonally adjusted unemployment rate (U-3) reported by the Bureau of "
        "Labor Statistics in the Employment Situation Report is above 4.3% in September 2025, "
        "then the market resolves to Yes.",
        extra={"strike_type": "greater", "floor_strike": "4.3"},
    )
    p = _poly("Will the unemployment rate be above 4.3% in September?", close=close)
    assert normalize(k).variable == normalize(p).variable == "UNRATE@2025-09"
    (pair,) = _pairs(k, p)
    assert pair.tradable


def test_the_fed_upper_bound_after_a_meeting() -> None:
    k = kalshi(
        "KXFED-26JUN-T4.25",
        "Will the upper bound of the federal funds rate be above 4.25% following the Fed's "
        "June 2026 meeting?",
        close=datetime(2026, 6, 17, 18, tzinfo=UTC),
        rules="If the upper bound of the federal funds rate set by the Federal Reserve (FOMC) "
        "is above 4.25% following its June 2026 meeting, then the market resolves to Yes.",
        extra={"strike_type": "greater", "floor_strike": "4.25"},
    )
    p = _poly(
        "Will the upper bound of the fed funds rate be above 4.25% after the June 2026 meeting?",
        rules="Resolves per the Federal Reserve's FOMC statement.",
        close=datetime(2026, 6, 17, 18, tzinfo=UTC),
    )
    (pair,) = _pairs(k, p)
    assert pair.tradable
    by_day = replace(k, title=k.title.replace("June 2026", "Jun 17, 2026"))
    assert normalize(by_day).variable == "FED_UPPER@2026-06"
    # "The fed funds rate" without a bound names no single figure: not a threshold.
    vague = _poly("Will the fed funds rate be above 4.25% after the June 2026 meeting?")
    assert normalize(vague).kind is not Kind.THRESHOLD
    assert not any(x.tradable for x in _pairs(k, vague))


def test_an_award_winner_whose_name_has_another_in_it() -> None:
    k = kalshi(
        "KXOSCARPIC-26-OBAA",
        "Who will win Best Picture at the 2026 Oscars?",
        "One Battle After Another",
        close=datetime(2026, 3, 16, 3, tzinfo=UTC),
    )
    p = poly(
        "2",
        "Will One Battle After Another win Best Picture at the 2026 Academy Awards?",
        sub="One Battle After Another",
    )
    (pair,) = _pairs(k, p)
    assert pair.tradable
    sinners = poly("3", "Will Sinners win Best Picture at the 2026 Oscars?", sub="Sinners")
    assert _pairs(k, sinners) == []
    # "Another" as a bucket is still no claim.
    other = poly("4", "Will another film win Best Picture at the 2026 Oscars?")
    assert normalize(other).kind is Kind.UNKNOWN


def test_a_bracket_pairs_only_with_the_same_range() -> None:
    k = kalshi(
        "KXHOUSESEATS-26-D220",
        "How many House seats will Democrats win in 2026?",
        "220 to 229",
        close=datetime(2026, 11, 4, tzinfo=UTC),
    )
    (pair,) = _pairs(k, poly("5", "Will Democrats win 220-229 House seats in 2026?"))
    assert pair.tradable
    assert _pairs(k, poly("6", "Will Democrats win 230-239 House seats in 2026?")) == []
    assert _pairs(k, poly("7", "Will Republicans win 220-229 House seats in 2026?")) == []


@given(st.text(max_size=80), st.text(max_size=120))
def test_reading_a_month_never_raises(title: str, rules: str) -> None:
    month = reference_month([fold(title)], fold(rules), CPI_CLOSE)
    assert month == "" or re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", month)
