"""BookCache: the index contract -> pairs, re-pricing only what an update touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from predarb.domain import Contract, Level, OrderBook, Pair, PairKind, Venue, World
from predarb.marketdata import BookCache

T0 = datetime(2026, 11, 22, tzinfo=UTC)


def pair(n: int, shared: Contract | None = None) -> Pair:
    k_yes = shared or Contract(Venue.KALSHI, f"KX-{n}", "yes")
    k_no = Contract(Venue.KALSHI, f"KX-{n}", "no")
    p_yes = Contract(Venue.POLYMARKET, str(n), "Yes", f"{n}1")
    p_no = Contract(Venue.POLYMARKET, str(n), "No", f"{n}2")
    worlds = (World("yes", (k_yes, p_yes)), World("no", (k_no, p_no)))
    return Pair(f"p{n}", PairKind.BINARY, f"event {n}", worlds, 1.0, True)


def book(c: Contract, ask: str, ts: datetime = T0) -> OrderBook:
    return OrderBook(c, (), (Level(Decimal(ask), Decimal(10)),), ts)


def test_an_update_marks_only_the_pairs_holding_that_contract() -> None:
    pairs = [pair(n) for n in range(50)]
    cache = BookCache(pairs)
    target = pairs[7].worlds[0].contracts[1]
    cache.apply([book(target, "0.40")], received_ns=123)
    dirty = cache.take_dirty()
    assert [(p.pair_id, t) for p, t in dirty] == [("p7", 123)]
    assert cache.take_dirty() == []
    assert not cache.changed.is_set()


def test_a_contract_in_two_pairs_marks_both() -> None:
    shared = Contract(Venue.KALSHI, "KX-SHARED", "yes")
    cache = BookCache([pair(1, shared), pair(2, shared), pair(3)])
    cache.apply([book(shared, "0.40")], received_ns=1)
    assert sorted(p.pair_id for p, _ in cache.take_dirty()) == ["p1", "p2"]
    assert cache.pairs_of(shared) == ("p1", "p2")


def test_same_asks_again_is_not_a_change_and_unwatched_books_are_ignored() -> None:
    p = pair(1)
    c = p.contracts[0]
    cache = BookCache([p])
    cache.apply([book(c, "0.40")], 1)
    cache.take_dirty()
    cache.apply([book(c, "0.40", T0 + timedelta(seconds=1))], 2)
    assert cache.take_dirty() == []
    assert cache.books[c].ts == T0 + timedelta(seconds=1)  # newest book kept all the same
    cache.apply([book(Contract(Venue.KALSHI, "OTHER", "yes"), "0.1")], 3)
    assert cache.take_dirty() == [] and len(cache.books) == 1


def test_the_oldest_unpriced_arrival_is_kept() -> None:
    p = pair(1)
    cache = BookCache([p])
    cache.apply([book(p.contracts[0], "0.40")], 10)
    cache.apply([book(p.contracts[0], "0.41")], 20)
    assert [t for _, t in cache.take_dirty()] == [10]


def test_set_pairs_drops_books_no_pair_needs() -> None:
    a, b = pair(1), pair(2)
    cache = BookCache([a, b])
    cache.apply([book(a.contracts[0], "0.4"), book(b.contracts[0], "0.4")], 1)
    cache.set_pairs([b])
    assert set(cache.books) == {b.contracts[0]}
    assert [p.pair_id for p, _ in cache.take_dirty()] == ["p2"]


def test_invalidated_books_are_gone_and_stale_lists_them() -> None:
    now = [1_000_000_000_000]
    p = pair(1)
    cache = BookCache([p], clock_ns=lambda: now[0])
    cache.apply([book(c, "0.4") for c in p.contracts], now[0])
    assert cache.stale(5.0) == []
    cache.invalidate([p.contracts[0]], "test")
    assert p.contracts[0] not in cache.books
    assert cache.stale(5.0) == [p.contracts[0]]
    now[0] += 6_000_000_000
    assert set(cache.stale(5.0, Venue.KALSHI)) == {p.contracts[0], p.contracts[2]}


def test_books_of_a_live_stream_are_dated_now() -> None:
    p = pair(1)
    cache = BookCache([p])
    cache.apply([book(c, "0.4") for c in p.contracts], 1)
    now = T0 + timedelta(minutes=5)
    cache.set_live(Venue.KALSHI, True)
    quotes = cache.quotes([p], now)
    assert {c.venue: quotes[c].ts for c in p.contracts} == {
        Venue.KALSHI: now,
        Venue.POLYMARKET: T0,
    }
    cache.set_live(Venue.KALSHI, False)
    assert all(b.ts == T0 for b in cache.quotes([p], now).values())


def test_mark_all_reprices_every_pair() -> None:
    cache = BookCache([pair(1), pair(2)])
    cache.mark_all()
    assert cache.changed.is_set()
    assert len(cache.take_dirty()) == 2
