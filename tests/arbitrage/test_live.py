from datetime import timedelta

from predarb.arbitrage.calculator import CalcParams, find_opportunities
from predarb.arbitrage.fees import kalshi_schedule, polymarket_schedule
from predarb.arbitrage.live import LiveConfirmation
from predarb.domain import Opportunity, Pair
from tests.arbitrage.builders import BINARY, K_NO, K_YES, NOW, P_NO, P_YES, D, book, pair

LIVE = pair([("yes", (K_YES, P_YES)), ("no", (K_NO, P_NO))], live=True)
FEES = {K_YES: kalshi_schedule(), P_NO: polymarket_schedule(D("0.05"))}
BOOKS = {
    K_YES: book(K_YES, [("0.40", "10")]),
    P_NO: book(P_NO, [("0.50", "10")], min_size="5"),
}
PARAMS = CalcParams(max_cost=D(100))


def scan(p: Pair, seconds: int = 0) -> list[Opportunity]:
    return find_opportunities(p, BOOKS, FEES, PARAMS, NOW + timedelta(seconds=seconds))


def test_second_consecutive_sighting_is_executable() -> None:
    confirm = LiveConfirmation()
    first = confirm.observe(LIVE.pair_id, scan(LIVE))
    assert len(first) == 1 and not first[0].executable
    second = confirm.observe(LIVE.pair_id, scan(LIVE))
    assert second[0].executable and second[0].reason == ""
    assert second[0].profit == first[0].profit


def test_a_vanished_opportunity_resets_the_confirmation() -> None:
    confirm = LiveConfirmation()
    confirm.observe(LIVE.pair_id, scan(LIVE))
    assert confirm.observe(LIVE.pair_id, scan(LIVE, seconds=5)) == []  # stale books: gone
    again = confirm.observe(LIVE.pair_id, scan(LIVE))
    assert not again[0].executable


def test_confirmation_is_per_pair_and_leg_set() -> None:
    confirm = LiveConfirmation()
    confirm.observe("other-pair", scan(LIVE))
    assert not confirm.observe(LIVE.pair_id, scan(LIVE))[0].executable
    confirm.forget(LIVE.pair_id)
    assert not confirm.observe(LIVE.pair_id, scan(LIVE))[0].executable


def test_not_live_passes_through() -> None:
    confirm = LiveConfirmation()
    found = scan(BINARY)
    assert confirm.observe(BINARY.pair_id, found) == found
    assert found[0].executable


def test_a_confirmed_flagged_pair_keeps_its_flag() -> None:
    flagged = pair(
        [("yes", (K_YES, P_YES)), ("no", (K_NO, P_NO))],
        live=True,
        tradable=False,
        flags=("rules differ",),
    )
    confirm = LiveConfirmation()
    confirm.observe(flagged.pair_id, scan(flagged))
    opp = confirm.observe(flagged.pair_id, scan(flagged))[0]
    assert opp.executable and not opp.tradable
    assert opp.reason == "pair flagged: rules differ"
