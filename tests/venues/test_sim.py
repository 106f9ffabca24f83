"""The offline simulator: determinism, book sanity, arbitrage, ground truth, resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predarb.arbitrage.fees import taker_fee
from predarb.domain import (
    ONE,
    Action,
    Contract,
    MarketStatus,
    OrderRequest,
    OrderStatus,
    Pair,
    PairKind,
    TimeInForce,
    Venue,
)
from predarb.venues.paper import FOK_KILLED
from predarb.venues.sim import SimVenue, SimWorld

K, P = Venue.KALSHI, Venue.POLYMARKET


def snapshot(world: SimWorld) -> list[object]:
    out: list[object] = []
    for venue in Venue:
        for m in world.markets(venue):
            out.append(m)
            out.extend(world.book(c) for c in m.contracts)
    return out


def cheapest_cover(world: SimWorld, pair: Pair) -> Decimal | None:
    """Cost, fees included, of one contract per world at the best asks (None: no ask)."""
    total = Decimal(0)
    for w in pair.worlds:
        costs = []
        for c in w.contracts:
            book, market = world.book(c), world.market(c.venue, c.market_id)
            if book and book.asks and market:
                ask = book.asks[0].price
                costs.append(ask + taker_fee(market.fee, ONE, ask))
        if not costs:
            return None
        total += min(costs)
    return total


def test_same_seed_same_world_and_walk() -> None:
    a, b = SimWorld(7), SimWorld(7)
    assert snapshot(a) == snapshot(b)
    a.step(5)
    b.step(5)
    assert snapshot(a) == snapshot(b)
    assert snapshot(a) != snapshot(SimWorld(8))


def test_markets_look_like_each_venue() -> None:
    world = SimWorld(3)
    kalshi = {m.market_id: m for m in world.markets(K)}
    poly = world.markets(P)
    for m in kalshi.values():
        assert [c.side for c in m.contracts] == ["yes", "no"]
        assert m.tick_size == Decimal("0.01") and m.min_order_size == 1
        assert m.fee is not None and m.fee.rate == Decimal("0.07")
        assert m.market_id.startswith(m.event_id + "-") and m.status is MarketStatus.OPEN
    for m in poly:
        assert m.min_order_size == 5 and m.tick_size in {Decimal("0.01"), Decimal("0.001")}
        assert all(c.token_id.isdigit() and len(c.token_id) > 60 for c in m.contracts)
        assert m.fee is not None
        assert m.fee.rate == (Decimal("0.07") if m.category == "crypto" else Decimal("0.05"))
        assert m.close_time is not None and m.resolve_time is not None
    btc = next(m for m in kalshi.values() if m.series == "KXBTC")
    assert btc.extra["floor_strike"] == "100000"
    assert btc.title == "Will the Bitcoin price be above $100,000 on Nov 30, 2026?"
    assert any(m.title == "Will Bitcoin be above $100,000 on November 30?" for m in poly)
    draws = [m for m in poly if m.title.endswith("end in a draw?")]
    assert draws and all(m.neg_risk for m in draws)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), steps=st.integers(0, 25))
def test_books_are_sane(seed: int, steps: int) -> None:
    world = SimWorld(seed, n_games=3, n_crypto=2, n_soccer=1)
    world.step(steps)
    for venue in Venue:
        for m in world.markets(venue):
            books = [world.book(c) for c in m.contracts]
            for book in books:
                assert book is not None and book.bids and book.asks
                for side in (book.bids, book.asks):
                    for lv in side:
                        assert lv.price % m.tick_size == 0
                        assert m.tick_size <= lv.price <= ONE - m.tick_size
                        assert 5 <= lv.size <= 200
                assert [lv.price for lv in book.bids] == sorted(
                    (lv.price for lv in book.bids), reverse=True
                )
                assert [lv.price for lv in book.asks] == sorted(lv.price for lv in book.asks)
                assert book.asks[0].price > book.bids[0].price
            first, second = books
            assert first is not None and second is not None
            # A bid for one side is an offer of the other: YES ask = 1 - NO bid.
            assert [(ONE - lv.price, lv.size) for lv in first.asks] == [
                (lv.price, lv.size) for lv in second.bids
            ]
            assert [(ONE - lv.price, lv.size) for lv in first.bids] == [
                (lv.price, lv.size) for lv in second.asks
            ]


def test_arbitrage_appears_and_disappears() -> None:
    world = SimWorld(1, resolve_after_s=10_000)
    pairs = [p for p in world.ground_truth() if p.exhaustive]
    seen: dict[str, list[bool]] = {p.pair_id: [] for p in pairs}
    for _ in range(150):
        for p in pairs:
            cost = cheapest_cover(world, p)
            seen[p.pair_id].append(cost is not None and cost < ONE)
        world.step()
    flips = [pid for pid, hist in seen.items() if any(a and not b for a, b in pairwise(hist))]
    assert flips, "an arbitrage should open and then close"
    share = sum(sum(h) for h in seen.values()) / sum(len(h) for h in seen.values())
    assert share < 0.25, "arbitrage should be the exception, not the rule"


def test_ground_truth_matches_listings_and_skips_decoys() -> None:
    world = SimWorld(5, n_games=4, n_crypto=2, n_soccer=2)
    listed = {(v, m.market_id): m for v in Venue for m in world.markets(v)}
    pairs = {p.pair_id: p for p in world.ground_truth()}
    assert len(pairs) == 4 + 2 + 2 * (1 + 3)  # a 3-way game is also three binaries
    paired: set[tuple[Venue, str]] = set()
    for pair in pairs.values():
        labels = [w.label for w in pair.worlds]
        assert len(set(labels)) == len(labels) and pair.confidence == 1.0
        for c in pair.contracts:
            assert c in listed[(c.venue, c.market_id)].contracts
            paired.add((c.venue, c.market_id))
        assert {c.venue for c in pair.contracts} == {K, P}
        if pair.category == "crypto" or pair.pair_id[-2] == "-":
            assert pair.kind is PairKind.BINARY and len(pair.worlds) == 2 and pair.exhaustive
        elif len(pair.worlds) == 3:
            assert pair.kind is PairKind.GROUP and labels[1] == "Draw" and pair.exhaustive
            assert len(pair.markets(K)) == 3 and len(pair.markets(P)) == 3
            assert all(len(w.contracts) == 2 for w in pair.worlds)  # YES and Yes only
        elif pair.pair_id.startswith("sim-nfl-"):  # a tie is possible
            assert not pair.exhaustive and not pair.tradable and "tie_possible" in pair.flags
            assert all(len(w.contracts) == 2 for w in pair.worlds)  # no NO sides
        else:
            assert pair.kind is PairKind.GROUP and pair.exhaustive and pair.tradable
            assert all(len(w.contracts) == 3 for w in pair.worlds)  # YES, other NO, token
    decoys = [m for key, m in listed.items() if key not in paired]
    titles = {m.title for m in decoys}
    assert "Will Bitcoin be above $105,000 on November 30?" in titles
    assert any(m.venue is K and m.series.endswith("GAME") for m in decoys)
    assert any(m.venue is P and m.category == "sports" for m in decoys)


def test_each_pair_pays_in_exactly_one_world_whatever_happens() -> None:
    for event in SimWorld(11).events:
        for winner in event.outcomes:
            world = SimWorld(11)
            world.set_resolution(event.key, winner, winner)
            world.resolve_now(event.key)
            for pair in world.ground_truth():
                if not pair.pair_id.startswith(f"sim-{event.key}"):
                    continue
                paying = []
                for w in pair.worlds:
                    payouts = set()
                    for c in w.contracts:
                        res = world.resolution(c.venue, c.market_id)
                        assert res is not None and not res.void
                        payouts.add(res.payout(c))
                    assert len(payouts) == 1, (pair.pair_id, w.label)  # its contracts agree
                    if payouts == {ONE}:
                        paying.append(w.label)
                assert len(paying) == 1, (pair.pair_id, winner)
                [label] = paying
                if label in event.outcomes:
                    assert label == winner
                else:
                    assert label.startswith("not ") and label != f"not {winner}"


def test_events_resolve_on_time_consistently_on_both_venues() -> None:
    world = SimWorld(2, resolve_after_s=60)
    pairs = world.ground_truth()
    assert all(world.resolution(c.venue, c.market_id) is None for c in pairs[0].contracts)
    world.step(30)  # half of resolve_after_s: nothing is due yet
    assert world.markets(K) and world.markets(P)
    world.step(30)
    assert world.markets(K) == [] and world.markets(P) == []
    winners = set()
    for pair in pairs:
        paying = [
            w.label
            for w in pair.worlds
            if all(
                (res := world.resolution(c.venue, c.market_id)) and res.payout(c) == ONE
                for c in w.contracts
            )
        ]
        assert len(paying) == 1, pair.pair_id
        winners.add(paying[0])
        c = pair.contracts[0]
        assert world.market(c.venue, c.market_id).status is MarketStatus.SETTLED  # type: ignore[union-attr]
        assert world.book(c) is None
    assert len(winners) > 2  # drawn, not always the first outcome


def test_void_and_inconsistent_knobs() -> None:
    world = SimWorld(4)
    game, other = [p for p in world.ground_truth() if p.kind is PairKind.GROUP][:2]
    game_key, other_key = game.pair_id[4:], other.pair_id[4:]
    world.set_resolution(game_key, None, None)
    a, b = other.worlds[0].label, other.worlds[1].label
    world.set_resolution(other_key, a, b)
    world.resolve_now(game_key)
    world.resolve_now(other_key)
    for c in game.contracts:
        res = world.resolution(c.venue, c.market_id)
        assert res is not None and res.void and res.payout(c) == Decimal("0.5")
    for c in other.worlds[0].contracts:
        res = world.resolution(c.venue, c.market_id)
        assert res is not None
        assert res.payout(c) == (ONE if c.venue is K else 0)


def order(
    c: Contract, price: str, n: str, tif: TimeInForce = TimeInForce.FOK, **kw: str
) -> OrderRequest:
    return OrderRequest(
        kw.get("coid", f"o-{c.key}-{price}-{n}-{tif}"),
        c,
        Action(kw.get("action", "buy")),
        Decimal(price),
        Decimal(n),
        tif,
    )


async def test_sim_venue_fills_against_the_book_and_takes_liquidity() -> None:
    world = SimWorld(9)
    venue = SimVenue(world, K, balance=Decimal(500))
    market = (await venue.list_markets())[0]
    yes, no = market.contracts
    book = await venue.get_order_book(yes)
    assert book is not None
    best = book.asks[0]
    res = await venue.place_order(order(yes, str(best.price), str(best.size), coid="a"))
    assert res.status is OrderStatus.FILLED and res.filled == best.size
    assert res.fee == taker_fee(market.fee, best.size, best.price)
    assert await venue.get_balance() == Decimal(500) - best.price * best.size - res.fee
    # The level is gone, on YES asks and on the mirrored NO bids.
    again = await venue.place_order(order(yes, str(best.price), "1", coid="b"))
    assert again.status is OrderStatus.CANCELED and again.error_code == FOK_KILLED
    no_book = await venue.get_order_book(no)
    assert no_book is not None and all(lv.price != ONE - best.price for lv in no_book.bids)
    assert await venue.place_order(order(yes, str(best.price), str(best.size), coid="a")) == res
    sell = order(yes, "0.01", "1", TimeInForce.IOC, coid="c", action="sell")
    assert (await venue.place_order(sell)).status is OrderStatus.FILLED
    [pos] = await venue.get_positions()
    assert pos.contract == yes and pos.contracts == best.size - 1
    world.step()
    assert (await venue.get_order_book(yes)) != no_book  # re-quoted


async def test_sim_venue_follows_an_injected_clock() -> None:
    now = [datetime(2026, 11, 22, 12, 0, tzinfo=UTC)]
    world = SimWorld(1, clock=lambda: now[0], resolve_after_s=30)
    venue = SimVenue(world, P, follow_clock=True)
    poly_market = world.ground_truth()[0].markets(P)[0]
    assert await venue.get_resolution(poly_market) is None
    assert await venue.list_markets()
    now[0] += timedelta(seconds=10)
    await venue.list_markets()
    assert world.steps == 10
    now[0] += timedelta(seconds=30)
    assert await venue.list_markets() == []
    assert await venue.get_resolution(poly_market) is not None


def test_respawn_keeps_the_world_populated() -> None:
    world = SimWorld(6, resolve_after_s=20, respawn=True)
    before = {p.pair_id for p in world.ground_truth()}
    world.step(25)
    after = world.ground_truth()
    assert not before & {p.pair_id for p in world.ground_truth() if world.book(p.contracts[0])}
    live = [p for p in after if world.book(p.contracts[0]) is not None]
    assert len(live) == len(before)  # every resolved pair was replaced
    assert all(world.book(c) is not None for p in live for c in p.contracts)
    assert len({p.pair_id for p in after}) == len(after)


def test_paired_listings_agree_on_the_game_day() -> None:
    world = SimWorld(12)
    for pair in world.ground_truth():
        starts = {
            m.extra.get("game_start_time")
            for v in Venue
            for mid in pair.markets(v)
            if (m := world.market(v, mid)) is not None and v is P
        }
        assert len(starts) == 1
        kalshi_event = world.market(K, pair.markets(K)[0]).event_id  # type: ignore[union-attr]
        poly_slug = world.market(P, pair.markets(P)[0]).series  # type: ignore[union-attr]
        if pair.category == "sports":
            day = datetime.fromisoformat(poly_slug[-10:]).date()
            assert f"{day:%y}{day:%b}{day:%d}".upper() in kalshi_event
