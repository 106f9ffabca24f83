"""The calculator against hand-computed cases (fees: Kalshi 0.07, Polymarket 0.05)."""

import json
from datetime import timedelta
from decimal import ROUND_DOWN

from predarb.arbitrage.calculator import (
    LIVE_REASON,
    CalcParams,
    evaluate,
    find_opportunities,
    opportunity_to_json,
)
from predarb.arbitrage.fees import kalshi_schedule, polymarket_schedule
from predarb.domain import ArbKind, Contract, FeeSchedule, OrderBook, PairKind
from tests.arbitrage.builders import (
    BINARY,
    K_NO,
    K_YES,
    NOW,
    P_NO,
    P_YES,
    D,
    book,
    kalshi,
    pair,
    poly,
)

KALSHI = kalshi_schedule()
POLY = polymarket_schedule(D("0.05"))
BIG = CalcParams(max_cost=D(1000))


def fees_for(*contracts: Contract) -> dict[Contract, FeeSchedule | None]:
    return {c: KALSHI if c.venue.value == "kalshi" else POLY for c in contracts}


def books_of(*books: OrderBook) -> dict[Contract, OrderBook]:
    return {b.contract: b for b in books}


ALL_FEES = fees_for(K_YES, K_NO, P_YES, P_NO)
DEEP = books_of(
    book(K_YES, [("0.40", "10"), ("0.42", "10"), ("0.50", "50")]),
    book(P_NO, [("0.50", "5"), ("0.52", "20")], min_size="5"),
)


def test_yes_no_walks_three_levels_until_the_marginal_contract_loses() -> None:
    # Marginal cost after fees: 0.9293 (5), 0.94928 (5), 0.969532 (10), then 1.02: stop at 20.
    # Polymarket's leg is a market BUY: 20 × 0.52 = $10.40 buys 5 @ 0.50 and
    # 7.90 / 0.52 = 15.192307 @ 0.52, so 0.192307 shares of surplus.
    opp = evaluate(BINARY, DEEP, ALL_FEES, BIG, NOW)
    assert opp is not None
    assert opp.kind is ArbKind.YES_NO
    assert opp.contracts == 20
    k, p = opp.legs
    assert (k.contract, k.price, k.contracts, k.cost, k.fee) == (
        K_YES,
        D("0.42"),
        D(20),
        D("8.20"),
        D("0.1680") + D("0.1706"),
    )
    assert (p.contract, p.price, p.contracts, p.cost, p.fee) == (
        P_NO,
        D("0.52"),
        D(20),
        D("10.40"),
        D("0.0625") + D("0.18960"),
    )
    assert p.surplus == D("0.192307")
    assert opp.cost == D("18.60")
    assert opp.fees == D("0.5907")
    assert opp.payout == 20
    assert opp.profit == D("0.8093")
    assert opp.roi_pct == (D("0.8093") / D("19.1907") * 100).quantize(D("0.0001"), ROUND_DOWN)
    assert opp.tradable and opp.executable and opp.reason == ""
    assert opp.quote_ts == NOW and opp.confidence == 0.97


def test_max_cost_caps_the_size() -> None:
    # 10 contracts: Kalshi 4.00 + 0.1680, Polymarket 10 × 0.52 = 5.20 (5 @ 0.50 and
    # 5.192307 @ 0.52) + 0.0625 + 0.06480: 9.4953. 11 would cost more than 10.
    opp = evaluate(BINARY, DEEP, ALL_FEES, CalcParams(max_cost=D(10)), NOW)
    assert opp is not None
    assert opp.contracts == 10
    assert opp.cost + opp.fees == D("9.4953")
    assert opp.profit == D("0.5047")
    assert [leg.price for leg in opp.legs] == [D("0.40"), D("0.52")]


def test_max_contracts_caps_the_size() -> None:
    opp = evaluate(BINARY, DEEP, ALL_FEES, CalcParams(max_cost=D(1000), max_contracts=D(7)), NOW)
    assert opp is not None and opp.contracts == 7


def test_gross_edge_without_net_edge_is_no_opportunity() -> None:
    books = books_of(book(K_YES, [("0.48", "10")]), book(P_NO, [("0.51", "10")], min_size="5"))
    # 0.99 before fees; 0.48 + 0.51 + 0.017472 + 0.012495 = 1.019967 after.
    assert find_opportunities(BINARY, books, ALL_FEES, BIG, NOW) == []
    free = evaluate(BINARY, books, {K_YES: None, P_NO: None}, BIG, NOW)
    assert free is not None and free.profit == D("0.10")


def test_a_venue_minimum_is_bought_when_it_stays_profitable_overall() -> None:
    # Profitable depth is 3 (Kalshi's 0.50 level loses), Polymarket needs 5: at 5 the
    # total is 1.20 + 1.00 + 2.50 + 0.0504 + 0.0350 + 0.0625 = 4.8479, profit 0.1521.
    books = books_of(
        book(K_YES, [("0.40", "3"), ("0.50", "10")]),
        book(P_NO, [("0.50", "10")], min_size="5"),
    )
    opp = evaluate(BINARY, books, ALL_FEES, BIG, NOW)
    assert opp is not None and opp.tradable
    assert opp.contracts == 5
    assert opp.fees == D("0.0504") + D("0.0350") + D("0.0625")
    assert opp.profit == D("0.1521")


def test_a_polymarket_walk_costs_its_limit_on_every_share() -> None:
    # A market BUY of 5 at 0.58 spends 2.90 (its cheaper 3 @ 0.50 come back as surplus
    # shares, not cash): 2.084 + 2.90 + fees is more than the $5 it covers.
    books = books_of(
        book(K_YES, [("0.40", "10")]),
        book(P_NO, [("0.50", "3"), ("0.58", "10")], min_size="5"),
    )
    assert find_opportunities(BINARY, books, ALL_FEES, BIG, NOW) == []


def test_a_venue_minimum_too_dear_for_max_cost_is_reported_not_tradable() -> None:
    books = books_of(
        book(K_YES, [("0.40", "3"), ("0.50", "10")]),
        book(P_NO, [("0.50", "10")], min_size="5"),
    )
    opp = evaluate(BINARY, books, ALL_FEES, CalcParams(max_cost=D(3)), NOW)
    assert opp is not None
    assert not opp.tradable and not opp.executable
    assert opp.reason == (
        "below venue minimum: polymarket needs 5 contracts, costing $4.8479 > max $3"
    )


def test_a_venue_minimum_beyond_the_visible_depth_is_nothing() -> None:
    books = books_of(book(K_YES, [("0.40", "10")]), book(P_NO, [("0.50", "3")], min_size="5"))
    assert find_opportunities(BINARY, books, ALL_FEES, BIG, NOW) == []


def test_min_cost_marks_small_opportunities_not_tradable() -> None:
    opp = evaluate(BINARY, DEEP, ALL_FEES, CalcParams(max_cost=D(1000), min_cost=D(50)), NOW)
    assert opp is not None and not opp.tradable
    assert opp.reason == "costs $19.1907, below the minimum bet $50"


def test_depth_fraction_takes_a_share_of_each_level() -> None:
    books = books_of(book(K_YES, [("0.40", "10"), ("0.45", "10")]), book(P_NO, [("0.50", "9")]))
    params = CalcParams(max_cost=D(1000), depth_fraction=D("0.5"))
    opp = evaluate(BINARY, books, ALL_FEES, params, NOW)
    assert opp is not None
    assert opp.contracts == 4  # floor(9 × 0.5)
    assert opp.cost + opp.fees == D("1.60") + D("0.0672") + D("2.00") + D("0.05")


def test_fractional_contracts_when_allowed() -> None:
    books = books_of(book(K_YES, [("0.40", "10")]), book(P_NO, [("0.50", "4.57")]))
    whole = evaluate(BINARY, books, ALL_FEES, BIG, NOW)
    fractional = evaluate(BINARY, books, ALL_FEES, CalcParams(D(1000), whole_contracts=False), NOW)
    assert whole is not None and whole.contracts == 4
    # 4.57 × 0.50 = 2.285 pUSD is not whole cents, so Polymarket's FOK takes 4.56.
    assert fractional is not None and fractional.contracts == D("4.56")


def test_levels_off_the_tick_grid_are_not_walked() -> None:
    books = books_of(book(K_YES, [("0.405", "10"), ("0.41", "10")]), book(P_NO, [("0.50", "10")]))
    opp = evaluate(BINARY, books, ALL_FEES, BIG, NOW)
    assert opp is not None and opp.legs[0].price == D("0.41") and opp.contracts == 10


def test_a_contract_without_a_known_fee_is_not_used() -> None:
    assert find_opportunities(BINARY, DEEP, {K_YES: KALSHI}, BIG, NOW) == []


LAKERS, CELTICS = kalshi("KXNBA-LAL"), kalshi("KXNBA-BOS")
P_LAL, P_BOS = poly("555", "Lakers"), poly("555", "Celtics")
GAME = pair(
    [
        ("Lakers", (LAKERS, P_LAL, kalshi("KXNBA-BOS", "no"))),
        ("Celtics", (CELTICS, P_BOS, kalshi("KXNBA-LAL", "no"))),
    ],
    kind=PairKind.GROUP,
)


def test_cross_team_buys_each_team_on_a_different_venue() -> None:
    books = books_of(book(LAKERS, [("0.45", "10")]), book(P_BOS, [("0.50", "10")], min_size="5"))
    opp = evaluate(GAME, books, fees_for(LAKERS, P_BOS), BIG, NOW)
    assert opp is not None
    assert opp.kind is ArbKind.CROSS_TEAM
    assert [(leg.contract, leg.world) for leg in opp.legs] == [
        (LAKERS, "Lakers"),
        (P_BOS, "Celtics"),
    ]
    assert opp.fees == D("0.1733") + D("0.125")
    assert opp.profit == D("10") - D("9.50") - D("0.2983")


def test_a_draw_breaks_a_cross_team_arbitrage() -> None:
    home, away = kalshi("KXEPL-ARS"), poly("777", "Chelsea")
    books = books_of(book(home, [("0.45", "10")]), book(away, [("0.40", "10")]))
    fees = fees_for(home, away)
    # The draw is a world no leg covers: nothing, however cheap the two teams are.
    with_draw = pair(
        [("Arsenal", (home,)), ("Chelsea", (away,)), ("Draw", ())], kind=PairKind.GROUP
    )
    assert find_opportunities(with_draw, books, fees, BIG, NOW) == []
    # A matcher that knows a draw is possible but lists only the teams marks it non-exhaustive.
    teams_only = pair(
        [("Arsenal", (home,)), ("Chelsea", (away,))], kind=PairKind.GROUP, exhaustive=False
    )
    assert find_opportunities(teams_only, books, fees, BIG, NOW) == []


K_HOME, K_DRAW, K_AWAY = kalshi("KX-H"), kalshi("KX-D"), kalshi("KX-A")
P_HOME, P_DRAW, P_AWAY = poly("h", "Yes"), poly("d", "Yes"), poly("a", "Yes")
THREE_WAY = pair(
    [("home", (K_HOME, P_HOME)), ("draw", (K_DRAW, P_DRAW)), ("away", (K_AWAY, P_AWAY))],
    kind=PairKind.GROUP,
)
THREE_WAY_BOOKS = books_of(
    book(K_HOME, [("0.30", "10")]),
    book(P_HOME, [("0.28", "10")]),
    book(K_DRAW, [("0.25", "10")]),
    book(P_DRAW, [("0.27", "10")]),
    book(K_AWAY, [("0.35", "10")]),
    book(P_AWAY, [("0.36", "10")]),
)
THREE_WAY_FEES = fees_for(K_HOME, K_DRAW, K_AWAY, P_HOME, P_DRAW, P_AWAY)


def test_n_way_takes_each_outcome_where_it_is_cheaper_after_fees() -> None:
    found = find_opportunities(THREE_WAY, THREE_WAY_BOOKS, THREE_WAY_FEES, BIG, NOW)
    best = found[0]
    assert best.kind is ArbKind.N_WAY
    # home: 0.29008 on Polymarket < 0.3147; draw 0.263125 and away 0.365925 on Kalshi.
    assert [leg.contract for leg in best.legs] == [P_HOME, K_DRAW, K_AWAY]
    assert best.cost == D("8.80")
    assert best.fees == D("0.1008") + D("0.1313") + D("0.1593")
    assert best.profit == D("0.8086")
    assert len({tuple(leg.contract for leg in o.legs) for o in found}) == len(found)
    assert [o.profit for o in found] == sorted((o.profit for o in found), reverse=True)
    # One venue alone is also exhaustive here (a neg-risk event on each): same_venue.
    same_venue = {
        tuple(leg.contract for leg in o.legs) for o in found if o.kind.value == "same_venue"
    }
    assert same_venue == {(K_HOME, K_DRAW, K_AWAY), (P_HOME, P_DRAW, P_AWAY)}


def test_n_way_with_one_outcome_missing_is_nothing() -> None:
    books = {c: b for c, b in THREE_WAY_BOOKS.items() if c not in (K_DRAW, P_DRAW)}
    assert find_opportunities(THREE_WAY, books, THREE_WAY_FEES, BIG, NOW) == []


def test_same_venue_only_when_exhaustive() -> None:
    books = books_of(book(K_YES, [("0.45", "10")]), book(K_NO, [("0.50", "10")]))
    opp = evaluate(BINARY, books, ALL_FEES, BIG, NOW)
    assert opp is not None and opp.kind is ArbKind.SAME_VENUE
    assert opp.profit == D("10") - D("9.50") - D("0.1733") - D("0.1750")
    not_exhaustive = pair([("yes", (K_YES,)), ("no", (K_NO,))], exhaustive=False)
    assert find_opportunities(not_exhaustive, books, ALL_FEES, BIG, NOW) == []


def test_a_flagged_pair_is_priced_but_not_tradable() -> None:
    flagged = pair(
        [("yes", (K_YES, P_YES)), ("no", (K_NO, P_NO))],
        tradable=False,
        flags=("rules differ",),
    )
    opp = evaluate(flagged, DEEP, ALL_FEES, BIG, NOW)
    assert opp is not None and not opp.tradable
    assert opp.reason == "pair flagged: rules differ"


def test_live_pairs_skip_stale_books_and_wait_for_confirmation() -> None:
    live = pair([("yes", (K_YES, P_YES)), ("no", (K_NO, P_NO))], live=True)
    fresh = evaluate(live, DEEP, ALL_FEES, BIG, NOW + timedelta(seconds=1))
    assert fresh is not None and fresh.live and not fresh.executable and fresh.tradable
    assert fresh.reason == LIVE_REASON
    assert evaluate(live, DEEP, ALL_FEES, BIG, NOW + timedelta(seconds=3)) is None
    # Not live: the age of the quote is the risk manager's business, not the calculator's.
    assert evaluate(BINARY, DEEP, ALL_FEES, BIG, NOW + timedelta(hours=1)) is not None


def test_quote_ts_is_the_oldest_book() -> None:
    older = NOW - timedelta(seconds=4)
    books = dict(DEEP)
    books[P_NO] = book(P_NO, [("0.50", "5")], min_size="5", ts=older)
    opp = evaluate(BINARY, books, ALL_FEES, BIG, NOW)
    assert opp is not None and opp.quote_ts == older


def test_opportunity_to_json_is_the_scan_object() -> None:
    opp = evaluate(BINARY, DEEP, ALL_FEES, BIG, NOW)
    assert opp is not None
    obj = opportunity_to_json(opp)
    assert obj == {
        "kind": "yes_no",
        "event": "Test event",
        "legs": [
            {
                "venue": "kalshi",
                "market": "KX-A",
                "side": "yes",
                "price": "0.42",
                "contracts": "20",
            },
            {
                "venue": "polymarket",
                "market": "123",
                "side": "No",
                "price": "0.52",
                "contracts": "20",
            },
        ],
        "cost": "18.6",
        "fees": "0.5907",
        "profit": "0.8093",
        "roi_pct": "4.21",
        "tradable": True,
        "reason": "",
    }
    assert json.loads(json.dumps(obj)) == obj
    assert D("0.9117") / D("19.0883") * 100 > D("4.77")


def test_many_combinations_fall_back_to_the_cheapest_contract_per_world() -> None:
    # 7 worlds x 2 venues = 128 combinations: one greedy combination is priced instead.
    worlds, books = [], {}
    for i in range(7):
        k, p = kalshi(f"KX-{i}"), poly(f"m{i}", "Yes")
        worlds.append((f"w{i}", (k, p)))
        cheap_on_kalshi = i % 2 == 0
        books[k] = book(k, [("0.12" if cheap_on_kalshi else "0.14", "10")])
        books[p] = book(p, [("0.14" if cheap_on_kalshi else "0.12", "10")])
    seven = pair(worlds, kind=PairKind.GROUP)
    found = find_opportunities(seven, books, fees_for(*books), BIG, NOW)
    assert len(found) == 1
    assert [leg.contract.venue.value for leg in found[0].legs] == [
        "kalshi" if i % 2 == 0 else "polymarket" for i in range(7)
    ]
    assert found[0].kind is ArbKind.N_WAY and found[0].cost == D("8.40")


FINE = CalcParams(max_cost=D("7.10"))


def test_a_fok_at_0955_on_a_0001_tick_buys_an_even_count() -> None:
    # 7 would fit max_cost, but 7 × 0.955 = 6.685 pUSD is not whole cents: Polymarket
    # refuses that market BUY. 6 × 0.955 = 5.73 is accepted; both legs buy 6.
    books = books_of(
        book(K_NO, [("0.02", "100")]),
        book(P_YES, [("0.955", "100")], tick=D("0.001"), min_size="5"),
    )
    opp = evaluate(BINARY, books, {K_NO: None, P_YES: None}, FINE, NOW)
    assert opp is not None and opp.tradable and opp.executable
    assert opp.contracts == 6
    assert [leg.contracts for leg in opp.legs] == [D(6), D(6)]
    assert opp.legs[0].price == D("0.955") and opp.legs[0].cost == D("5.73")


def test_no_sendable_count_within_max_cost_is_refused_with_its_own_reason() -> None:
    # At 0.963 only multiples of 10 shares make whole cents; 10 cost more than $7.10.
    books = books_of(
        book(K_NO, [("0.02", "100")]),
        book(P_YES, [("0.963", "100")], tick=D("0.001"), min_size="5"),
    )
    opp = evaluate(BINARY, books, {K_NO: None, P_YES: None}, FINE, NOW)
    assert opp is not None and not opp.tradable and not opp.executable
    assert opp.contracts == 10
    assert opp.reason == (
        "market-order precision: the smallest count Polymarket accepts at these prices is "
        "10 contracts, costing $9.83 > max $7.1"
    )
