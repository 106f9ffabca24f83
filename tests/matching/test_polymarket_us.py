"""The matcher on Polymarket US markets as the exchange lists them (read by the
adapter's wire module): market slugs unlike their event slugs and led by a market-type
code, Yes/No sides carrying a team, soccer's three markets with a draw."""

from __future__ import annotations

from datetime import UTC, datetime

from predarb.domain import Pair, PairKind, Venue
from predarb.matching.matcher import Matcher
from tests.matching.builders import kalshi, polymarket_us, us_side

NBA_CLOSE = datetime(2026, 12, 26, 4, tzinfo=UTC)
LAL, BOS = "KXNBAGAME-26DEC25LALBOS-LAL", "KXNBAGAME-26DEC25LALBOS-BOS"
K_NBA = [
    kalshi(t, "Los Angeles L at Boston Winner?", sub, close=NBA_CLOSE,
           extra={"event_title": "Los Angeles L at Boston"})
    for t, sub in ((LAL, "Los Angeles L"), (BOS, "Boston"))
]  # fmt: skip
LAKERS = ("Lakers", "LAL", "nba")
CELTICS = ("Celtics", "BOS", "nba")
TIP_OFF = "2026-12-26T00:30:00Z"


def _worlds(pair: Pair) -> dict[str, set[str]]:
    return {w.label: {c.key for c in w.contracts} for w in pair.worlds}


def test_a_moneyline_pairs_though_its_slug_is_not_its_event_slug() -> None:
    us = polymarket_us(
        "aec-nba-lal-bos-2026-12-25",
        "Lakers vs. Celtics",
        [us_side("Lakers", True, LAKERS), us_side("Celtics", False, CELTICS)],
        event_slug="lakers-vs-celtics-dec-25",
        game_start=TIP_OFF,
    )
    assert us.slug == "aec-nba-lal-bos-2026-12-25" and us.series == "lakers-vs-celtics-dec-25"
    [pair] = Matcher().match(K_NBA, [us])
    assert pair.tradable and pair.flags == () and pair.exhaustive
    worlds = _worlds(pair)
    lakers = next(w for w in worlds.values() if f"kalshi:{LAL}:yes" in w)
    assert "polymarket_us:aec-nba-lal-bos-2026-12-25:long" in lakers


def test_yes_no_sides_with_a_team_pay_with_the_team_named() -> None:
    us = polymarket_us(
        "aec-nba-lal-bos-2026-12-25-lal",
        "Will the Lakers beat the Celtics?",
        [us_side("Yes", True, LAKERS), us_side("No", False)],
        event_slug="lakers-vs-celtics-dec-25",
        game_start=TIP_OFF,
    )
    assert [c.side for c in us.contracts] == ["Yes", "No"]
    [pair] = Matcher().match(K_NBA, [us])
    assert pair.tradable
    lakers = next(w for w in _worlds(pair).values() if f"kalshi:{LAL}:yes" in w)
    assert "polymarket_us:aec-nba-lal-bos-2026-12-25-lal:long" in lakers


def test_soccer_pairs_with_its_draw() -> None:
    close = datetime(2026, 12, 26, 17, tzinfo=UTC)
    ticker = "KXEPLGAME-26DEC26ARSCHE"
    k = [
        kalshi(f"{ticker}-{code}", "Arsenal vs Chelsea Winner?", sub, close=close,
               extra={"event_title": "Arsenal vs Chelsea"})
        for code, sub in (("ARS", "Arsenal"), ("CHE", "Chelsea"), ("TIE", "Tie"))
    ]  # fmt: skip
    event, start = "arsenal-vs-chelsea-dec-26", "2026-12-26T15:00:00Z"
    slug = "aec-epl-ars-che-2026-12-26"
    us = [
        polymarket_us(f"{slug}-ars", "Will Arsenal win?",
                      [us_side("Yes", True, ("Arsenal", "ARS", "epl")), us_side("No", False)],
                      event_slug=event, game_start=start),
        polymarket_us(f"{slug}-che", "Will Chelsea win?",
                      [us_side("Yes", True, ("Chelsea", "CHE", "epl")), us_side("No", False)],
                      event_slug=event, game_start=start),
        polymarket_us(f"{slug}-draw", "Will Arsenal vs. Chelsea end in a draw?",
                      [us_side("Yes", True), us_side("No", False)],
                      event_slug=event, game_start=start),
    ]  # fmt: skip
    pairs = Matcher().match(k, us)
    [group] = [p for p in pairs if p.kind is PairKind.GROUP]
    assert group.tradable and group.exhaustive and group.flags == ()
    assert _worlds(group) == {
        "Arsenal": {f"kalshi:{ticker}-ARS:yes", f"polymarket_us:{slug}-ars:long"},
        "Chelsea": {f"kalshi:{ticker}-CHE:yes", f"polymarket_us:{slug}-che:long"},
        "draw": {f"kalshi:{ticker}-TIE:yes", f"polymarket_us:{slug}-draw:long"},
    }
    draw = next(p for p in pairs if p.kind is PairKind.BINARY and f"{slug}-draw" in str(p.worlds))
    assert draw.tradable and _worlds(draw)["yes"] == {
        f"kalshi:{ticker}-TIE:yes",
        f"polymarket_us:{slug}-draw:long",
    }


def test_a_spread_or_another_days_game_is_not_paired() -> None:
    spread = polymarket_us(
        "asc-nba-lal-bos-2026-12-25",
        "Spread: Lakers (-3.5)",
        [us_side("Lakers", True, LAKERS), us_side("Celtics", False, CELTICS)],
        event_slug="lakers-vs-celtics-dec-25",
        game_start=TIP_OFF,
        sports_market_type="spread",
    )
    later = polymarket_us(
        "aec-nba-lal-bos-2026-12-27",
        "Lakers vs. Celtics",
        [us_side("Lakers", True, LAKERS), us_side("Celtics", False, CELTICS)],
        event_slug="lakers-vs-celtics-dec-27",
        game_start="2026-12-28T00:30:00Z",
    )
    assert Matcher().match(K_NBA, [spread, later]) == []
    assert all(c.venue is Venue.POLYMARKET_US for c in spread.contracts)
