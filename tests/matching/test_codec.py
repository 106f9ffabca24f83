"""pairs --json shape, exact round trip through JSON text, the one-line listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from predarb.domain import Contract, Pair, PairKind, Venue, World
from predarb.matching.codec import format_pair_line, pair_from_json, pair_to_json
from predarb.matching.matcher import Matcher
from tests.matching.labelled import load

INTERFACE_KEYS = {
    "kind",
    "kalshi",
    "polymarket",
    "mapping",
    "confidence",
    "tradable",
    "flags",
    "evidence",
}

texts = st.text(min_size=1, max_size=20)
contracts = st.one_of(
    st.builds(Contract, st.just(Venue.KALSHI), texts, st.sampled_from(["yes", "no"])),
    st.builds(
        Contract,
        st.just(Venue.POLYMARKET),
        texts,
        texts,
        st.from_regex(r"\d{1,77}", fullmatch=True),
    ),
)
pairs = st.builds(
    Pair,
    pair_id=texts,
    kind=st.sampled_from(PairKind),
    event=st.text(max_size=60),
    worlds=st.lists(
        st.builds(World, texts, st.lists(contracts, max_size=4).map(tuple)), max_size=3
    ).map(tuple),
    confidence=st.floats(0, 1),
    tradable=st.booleans(),
    exhaustive=st.booleans(),
    flags=st.lists(texts, max_size=3).map(tuple),
    evidence=st.text(max_size=80),
    category=st.text(max_size=10),
    series=st.lists(texts, max_size=2).map(tuple),
    live=st.booleans(),
    resolve_time=st.none() | st.datetimes(timezones=st.just(UTC)),
)


@settings(max_examples=150, deadline=None)
@given(pairs)
def test_round_trip_through_json_text_is_exact(pair: Pair) -> None:
    stored = json.dumps(pair_to_json(pair))
    assert pair_from_json(json.loads(stored)) == pair


def test_matched_pairs_round_trip_and_follow_the_interface() -> None:
    data = load()
    for pair in Matcher().match(data.kalshi, data.poly):
        d = pair_to_json(pair)
        assert d.keys() >= INTERFACE_KEYS
        assert d["kind"] in {"binary", "group"}
        assert 0.0 <= d["confidence"] <= 1.0
        for entry in d["mapping"]:
            assert set(entry) == {"kalshi", "kalshi_side", "polymarket", "outcome", "token_id"}
            assert entry["kalshi_side"] in {"yes", "no"}
        assert pair_from_json(json.loads(json.dumps(d))) == pair
        line = format_pair_line(pair)
        assert "\n" not in line and pair.pair_id in line


def test_binary_mapping_and_line() -> None:
    k_yes, k_no = Contract(Venue.KALSHI, "T", "yes"), Contract(Venue.KALSHI, "T", "no")
    p_yes = Contract(Venue.POLYMARKET, "1", "Yes", "11")
    p_no = Contract(Venue.POLYMARKET, "1", "No", "22")
    pair = Pair(
        "pr_x",
        PairKind.BINARY,
        "Lakers\nvs Celtics",
        (World("yes", (k_yes, p_no)), World("no", (k_no, p_yes))),
        0.9,
        True,
        evidence="inverted",
        resolve_time=datetime(2026, 11, 23, tzinfo=UTC),
    )
    d = pair_to_json(pair)
    assert d["kalshi"] == ["T"] and d["polymarket"] == ["1"]
    assert d["mapping"] == [
        {"kalshi": "T", "kalshi_side": "yes", "polymarket": "1", "outcome": "No", "token_id": "22"},
        {"kalshi": "T", "kalshi_side": "no", "polymarket": "1", "outcome": "Yes", "token_id": "11"},
    ]
    line = format_pair_line(pair)
    assert line.startswith("pr_x binary TRADE 0.90 Lakers vs Celtics | T yes=1:No; T no=1:Yes")
