"""Overrides file: forced pairs and groups win, forbidden markets never pair."""

from __future__ import annotations

from pathlib import Path

import pytest

from predarb.domain import Venue
from predarb.matching.matcher import Matcher
from predarb.matching.overrides import Overrides, OverridesError
from tests.matching.builders import kalshi, poly, polymarket_us, us_side

K_LAL = kalshi(
    "KXNBAGAME-26NOV22LALBOS-LAL",
    "Will the Lakers win the Lakers vs Celtics game?",
    "Los Angeles Lakers",
)
K_BOS = kalshi(
    "KXNBAGAME-26NOV22LALBOS-BOS",
    "Will the Celtics win the Lakers vs Celtics game?",
    "Boston Celtics",
)
P_GAME = poly("700", "Lakers vs. Celtics", ("Lakers", "Celtics"), slug="nba-lal-bos-2026-11-22")
P_ODD = poly("701", "Something hard to read", ("Yes", "No"))
MARKETS = ([K_LAL, K_BOS], [P_GAME, P_ODD])


def write(tmp_path: Path, text: str) -> Overrides:
    path = tmp_path / "overrides.toml"
    path.write_text(text)
    return Overrides.load(path)


def test_forbid_a_market(tmp_path: Path) -> None:
    assert Matcher().match(*MARKETS)
    o = write(tmp_path, '[[forbid]]\npolymarket = "700"\n')
    assert Matcher(o).match(*MARKETS) == []


def test_forbid_one_pair_only(tmp_path: Path) -> None:
    o = write(tmp_path, '[[forbid]]\nkalshi = "KXOTHER"\npolymarket = "700"\n')
    assert Matcher(o).match(*MARKETS)


def test_forced_binary_wins_with_its_mapping(tmp_path: Path) -> None:
    o = write(
        tmp_path,
        '[[force]]\nkalshi = "KXNBAGAME-26NOV22LALBOS-LAL"\npolymarket = "701"\n'
        'yes = "No"\nno = "Yes"\nnote = "read by hand"\n',
    )
    pairs = Matcher(o).match(*MARKETS)
    forced = [p for p in pairs if "override" in p.flags]
    assert len(forced) == 1
    (p,) = forced
    assert p.tradable and p.confidence == 1.0 and "read by hand" in p.evidence
    assert [(w.label, [c.side for c in w.contracts]) for w in p.worlds] == [
        ("yes", ["yes", "No"]),
        ("no", ["no", "Yes"]),
    ]
    # The automatic group used the forced Kalshi market: the override replaces it.
    assert all(
        "KXNBAGAME-26NOV22LALBOS-LAL" not in q.markets(Venue.KALSHI) for q in pairs if q is not p
    )


def test_forced_group(tmp_path: Path) -> None:
    o = write(
        tmp_path,
        '[[force_group]]\nevent = "game"\nexhaustive = true\nworlds = [\n'
        ' { label = "LAL", contracts = ["kalshi:KXNBAGAME-26NOV22LALBOS-LAL:yes",'
        ' "polymarket:700:Lakers"] },\n'
        ' { label = "BOS", contracts = ["kalshi:KXNBAGAME-26NOV22LALBOS-BOS:yes",'
        ' "polymarket:700:Celtics"] },\n'
        "]\n",
    )
    (p,) = Matcher(o).match(*MARKETS)
    assert p.flags == ("override",) and p.exhaustive and p.tradable
    assert p.worlds[0].contracts[1].token_id == "70000"


def test_override_naming_an_unlisted_market_is_skipped(tmp_path: Path) -> None:
    o = write(
        tmp_path, '[[force]]\nkalshi = "NOPE"\npolymarket = "700"\nyes = "Lakers"\nno = "Celtics"\n'
    )
    assert all("override" not in p.flags for p in Matcher(o).match(*MARKETS))


US_SLUG = "aec-nba-lal-bos-2026-11-22"
US_GAME = polymarket_us(
    US_SLUG,
    "Lakers vs. Celtics",
    [us_side("Lakers", True), us_side("Celtics", False)],
    event_slug="lakers-vs-celtics-nov-22",
    game_start="2026-11-23T00:30:00Z",
)
US_ODD = polymarket_us(
    "lakers-celtics-special",
    "Something hard to read",
    [us_side("Yes", True), us_side("No", False)],
    event_slug="special",
    game_start="2026-11-23T00:30:00Z",
)
US_MARKETS = ([K_LAL, K_BOS], [US_GAME, US_ODD])


def test_force_names_a_polymarket_us_market_with_venue(tmp_path: Path) -> None:
    o = write(
        tmp_path,
        '[[force]]\nvenue = "polymarket_us"\nkalshi = "KXNBAGAME-26NOV22LALBOS-LAL"\n'
        'polymarket = "lakers-celtics-special"\nyes = "Yes"\nno = "No"\n',
    )
    [forced] = [p for p in Matcher(o).match(*US_MARKETS) if "override" in p.flags]
    assert forced.tradable
    assert [(w.label, [c.key for c in w.contracts]) for w in forced.worlds] == [
        ("yes", ["kalshi:KXNBAGAME-26NOV22LALBOS-LAL:yes",
                 "polymarket_us:lakers-celtics-special:long"]),
        ("no", ["kalshi:KXNBAGAME-26NOV22LALBOS-LAL:no",
                "polymarket_us:lakers-celtics-special:short"]),
    ]  # fmt: skip
    # Without the venue the same entry looks for an international market: none listed.
    intl = write(
        tmp_path,
        '[[force]]\nkalshi = "KXNBAGAME-26NOV22LALBOS-LAL"\n'
        'polymarket = "lakers-celtics-special"\nyes = "Yes"\nno = "No"\n',
    )
    assert all("override" not in p.flags for p in Matcher(intl).match(*US_MARKETS))


def test_forbid_names_a_polymarket_us_market_with_venue(tmp_path: Path) -> None:
    assert any(US_SLUG in p.markets(Venue.POLYMARKET_US) for p in Matcher().match(*US_MARKETS))
    intl = write(tmp_path, f'[[forbid]]\npolymarket = "{US_SLUG}"\n')
    assert Matcher(intl).match(*US_MARKETS)  # an international market of that id: not ours
    us = write(tmp_path, f'[[forbid]]\nvenue = "polymarket_us"\npolymarket = "{US_SLUG}"\n')
    assert Matcher(us).match(*US_MARKETS) == []


@pytest.mark.parametrize(
    "text",
    [
        "[[force]]\nvenue = 'kalshi'\nkalshi = 'K'\npolymarket = 'p'\nyes = 'a'\nno = 'b'\n",
        "[[forbid]]\nvenue = 'polymarket-us'\npolymarket = 'p'\n",
        "not toml [",
        "[[force]]\nkalshi = 'K'\n",
        "[[forbid]]\n",
        "[[force_group]]\nworlds = [{ label = 'a', contracts = ['x:y'] }, { contracts = [] }]\n",
        "force = 3\n",
    ],
)
def test_bad_files_say_where(tmp_path: Path, text: str) -> None:
    with pytest.raises(OverridesError, match=r"overrides\.toml"):
        write(tmp_path, text)
