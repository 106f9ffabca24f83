"""Resolution sources: who publishes the figure and, for weather, at which station. Two
markets that may settle on different figures are refused with ``source_differs``: shown,
never traded, never offered for review (no answer makes two thermometers one)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from predarb.domain import Market, Pair
from predarb.matching.matcher import Matcher
from predarb.matching.review import apply_answers, reviewable
from predarb.matching.text import resolution_sources
from tests.matching.builders import kalshi, poly

# Kalshi's rules as in tests/fixtures/kalshi/markets__high_temp.json (KXHIGHNY-26JUN15-T85).
CENTRAL_PARK_NWS = (
    "If the highest temperature recorded in Central Park, New York for June 15, 2026 as "
    "reported by the National Weather Service's Climatological Report (Daily), is greater "
    "than 85°, then the market resolves to Yes."
)
LAGUARDIA_NWS = (
    "Resolves to the highest temperature recorded at LaGuardia Airport (KLGA) as published "
    "by the National Weather Service."
)
# Polymarket's NYC highs read Wunderground's history for KLGA.
LAGUARDIA_WUNDERGROUND = (
    "The resolution source for this market will be information from Wunderground, "
    "specifically the highest temperature recorded for all times on this day for the "
    "LaGuardia Airport Station: https://www.wunderground.com/history/daily/us/ny/"
    "new-york-city/KLGA."
)
CENTRAL_PARK_NWS_POLY = (
    "Resolves to the highest temperature recorded at Central Park as published by the "
    "National Weather Service."
)
NWS_NO_STATION = "Resolves to the highest temperature in New York City published by the NWS."


def _high(rules: str) -> tuple[Market, Market]:
    k = kalshi(
        "KXHIGHNY-26JUN15-T85",
        "Will the **high temp in NYC** be >85° on Jun 15, 2026?",
        "86° or above",
        close=datetime(2026, 6, 16, 4, tzinfo=UTC),
        rules=CENTRAL_PARK_NWS,
        extra={"strike_type": "greater", "floor_strike": "85"},
    )
    p = poly(
        "900020",
        "Will the highest temperature in New York City be 86°F or higher on June 15?",
        slug="highest-temperature-in-nyc-on-june-15-2026",
        category="Weather",
        close=datetime(2026, 6, 16, 4, tzinfo=UTC),
        rules=rules,
    )
    return k, p


def _one(rules: str) -> Pair:
    (pair,) = Matcher().match(*([m] for m in _high(rules)))
    return pair


def test_stations_are_part_of_the_source() -> None:
    assert resolution_sources(CENTRAL_PARK_NWS) == {"nws", "station:KNYC"}
    assert resolution_sources(LAGUARDIA_WUNDERGROUND) == {"wunderground", "station:KLGA"}
    # A place is a station only where a weather reading is the subject.
    assert resolution_sources("Will the mayor speak in Central Park before 2027?") == set()
    # AccuWeather and Weather Underground are two companies.
    assert resolution_sources("per AccuWeather") != resolution_sources("per Wunderground")


def test_the_same_station_and_publisher_trade() -> None:
    pair = _one(CENTRAL_PARK_NWS_POLY)
    assert pair.tradable and pair.flags == ()


@pytest.mark.parametrize("rules", [LAGUARDIA_NWS, LAGUARDIA_WUNDERGROUND])
def test_another_station_is_refused_with_a_flag_no_review_clears(rules: str) -> None:
    pair = _one(rules)
    assert not pair.tradable and "source_differs" in pair.flags
    assert not reviewable(pair)
    # Even an approval on record (given before, or for a pair never asked about) does
    # not make it tradable.
    (still,) = apply_answers([pair], {pair.pair_id: True})
    assert not still.tradable and "approved" not in still.flags
    assert apply_answers([pair], {pair.pair_id: False}) == []


def test_a_station_never_named_is_not_guessed() -> None:
    pair = _one(NWS_NO_STATION)
    assert not pair.tradable and "station_unknown" in pair.flags
    assert reviewable(pair)  # the rules may say it: a human can read them


def test_a_reviewable_flag_is_still_approved() -> None:
    pair = _one(NWS_NO_STATION)
    (approved,) = apply_answers([pair], {pair.pair_id: True})
    assert approved.tradable and "approved" in approved.flags
