"""Overrides file: forced pairs and groups win, forbidden markets never pair."""

from __future__ import annotations

from pathlib import Path

import pytest

from predarb.domain import Venue
from predarb.matching.matcher import Matcher
from predarb.matching.overrides import Overrides, OverridesError
from tests.matching.builders import kalshi, poly

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


@pytest.mark.parametrize(
    "text",
    [
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
