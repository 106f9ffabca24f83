"""The recording file: what the writer appends is what the reader gives back, across
rotated parts and after a recorder killed mid-write."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from predarb.domain import (
    Contract,
    FeeChange,
    FeeSchedule,
    Level,
    Market,
    OrderBook,
    Resolution,
    Venue,
)
from predarb.rehearsal import codec
from predarb.rehearsal.recording import (
    BooksDropped,
    BooksSeen,
    BookUpdate,
    Listing,
    RecordingError,
    RecordingWriter,
    Resolved,
    StreamLive,
    part_paths,
    read_recording,
)
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.processes import start_predarb
from tests.rehearsal.scenario import (
    ET,
    add_kalshi_strike,
    add_poly_threshold,
    kalshi_event,
    make_recording,
)

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
YES = Contract(Venue.KALSHI, "KXT-1", "yes")
NO = Contract(Venue.KALSHI, "KXT-1", "no")


def market(title: str = "Will it rain?") -> Market:
    return Market(
        Venue.KALSHI,
        "KXT-1",
        "KXT",
        title,
        (YES, NO),
        close_time=T0 + timedelta(days=1),
        fee=FeeSchedule(Venue.KALSHI, Decimal("0.07")),
        fee_changes=(FeeChange(T0 + timedelta(hours=1), None),),
        extra={"series": "KXT"},
    )


def book(contract: Contract, asks: list[tuple[str, str]], at: datetime = T0) -> OrderBook:
    return OrderBook(
        contract,
        (Level(Decimal("0.30"), Decimal(10)),),
        tuple(Level(Decimal(p), Decimal(s)) for p, s in asks),
        at,
    )


class Clock:
    def __init__(self) -> None:
        self.ns = codec.ns_of(T0)

    def __call__(self) -> int:
        self.ns += 1_000_000
        return self.ns


def test_what_is_written_is_read_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    w = RecordingWriter(path, wall_ns=Clock())
    w.markets(Venue.KALSHI, [market()])
    w.markets(Venue.KALSHI, [market()])  # unchanged: no line
    w.books([book(YES, [("0.40", "5"), ("0.41", "7")])])
    w.books([book(YES, [("0.41", "9")])])  # 0.40 gone, 0.41 resized
    w.books([book(YES, [("0.41", "9")], T0 + timedelta(seconds=1))])  # only seen again
    w.live(Venue.KALSHI, True)
    w.drop([YES], "gap")
    w.resolution(Venue.KALSHI, Resolution("KXT-1", {"yes": Decimal(1), "no": Decimal(0)}))
    w.markets(Venue.KALSHI, [])
    w.close()
    items = list(read_recording(path))
    kinds = [type(i) for i in items]
    assert kinds == [
        Listing,
        BookUpdate,
        BookUpdate,
        BooksSeen,
        StreamLive,
        BooksDropped,
        Resolved,
        Listing,
    ]
    first = items[0]
    assert isinstance(first, Listing) and first.markets == (market(),) and first.changed
    second = items[2]
    assert isinstance(second, BookUpdate)
    assert second.book == book(YES, [("0.41", "9")])
    seen = items[3]
    assert isinstance(seen, BooksSeen) and seen.books[0].ts == T0 + timedelta(seconds=1)
    assert [i.t for i in items] == sorted(i.t for i in items)
    last = items[-1]
    assert isinstance(last, Listing) and last.markets == ()


def test_parts_rotate_by_size_and_each_restates_the_state(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl.gz"
    w = RecordingWriter(path, max_part_bytes=600, flush_interval_s=0, wall_ns=Clock())
    w.markets(Venue.KALSHI, [market()])
    for i in range(60):
        w.books([book(YES, [(f"0.{40 + i % 9}", str(i + 1))])])
    w.close()
    parts = list(part_paths(path))
    assert len(parts) > 2 and parts[1].name == "day.jsonl.gz.1"
    asks = [i.book.asks for i in read_recording(path) if isinstance(i, BookUpdate)]
    assert asks[-1] == (Level(Decimal("0.45"), Decimal(60)),)  # i = 59: 0.4 + 5/100
    # A later part alone starts with the listing and the whole book.
    alone = tmp_path / "alone.jsonl.gz"
    alone.write_bytes(parts[-1].read_bytes())
    first_items = list(read_recording(alone))[:2]
    assert isinstance(first_items[0], Listing) and first_items[0].markets == (market(),)
    assert isinstance(first_items[1], BookUpdate)


def test_a_recording_cut_mid_write_is_read_up_to_the_last_flush(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    w = RecordingWriter(path, flush_interval_s=0, wall_ns=Clock())
    w.markets(Venue.KALSHI, [market()])
    w.books([book(YES, [("0.40", "5")])])
    w.flush()
    size = path.stat().st_size
    w.books([book(YES, [("0.41", "5")])])
    w.close()
    path.write_bytes(path.read_bytes()[: size + 3])  # killed: a torn compressed tail
    items = list(read_recording(path))
    assert [type(i) for i in items][:2] == [Listing, BookUpdate]


def test_a_file_that_is_not_a_recording_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "x.gz"
    plain.write_text("not gzip")
    with pytest.raises(RecordingError, match="not a recording"):
        list(read_recording(plain))
    bad = tmp_path / "y.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b'{"t": 1, "k": "weather"}\n')
    with pytest.raises(RecordingError, match=r"y.gz:1: unreadable line"):
        list(read_recording(bad))


prices = st.integers(1, 99).map(lambda c: Decimal(c) / 100)
sizes = st.integers(1, 10_000).map(Decimal)
sides = st.dictionaries(prices, sizes, max_size=12)


@given(sides, sides)
def test_level_changes_turn_one_side_into_the_other(old: dict, new: dict) -> None:
    before = tuple(Level(p, s) for p, s in sorted(old.items()))
    after = tuple(Level(p, s) for p, s in sorted(new.items()))
    changes = codec.level_changes(before, after)
    assert codec.apply_changes(before, changes, descending=False) == after


@given(st.integers(0, 4_000_000_000_000_000_000))
def test_times_survive_the_round_trip_to_the_microsecond(ns: int) -> None:
    assert codec.ns_of(codec.time_of(ns)) == ns // 1000 * 1000


@pytest.mark.timeout(60)
async def test_the_recorder_writes_what_the_fakes_send(tmp_path: Path) -> None:
    """The scenario of the fixture, recorded again: listings, streamed and polled books,
    the fleeting offer and the four results."""
    path = tmp_path / "btc.jsonl.gz"
    summary = await make_recording(path)
    assert summary.pairs == 2 and summary.resolutions == 4
    items = list(read_recording(path))
    listings = [i for i in items if isinstance(i, Listing)]
    assert {i.venue for i in listings} == {Venue.KALSHI, Venue.POLYMARKET}
    assert listings[-1].markets == ()  # resolved markets leave the listing
    asks_058 = [
        i.t
        for i in items
        if isinstance(i, BookUpdate) and any(lv.price == Decimal("0.58") for lv in i.book.asks)
    ]
    assert asks_058, "the fleeting Polymarket offer is in the recording"
    results = {(i.venue, i.resolution.market_id) for i in items if isinstance(i, Resolved)}
    assert len(results) == 4


@pytest.mark.timeout(90)
async def test_predarb_record_writes_the_paired_books_and_stops_by_itself(tmp_path: Path) -> None:
    """``predarb record --duration 3 --out F`` as a user runs it, against the loopback
    fakes: no keys, only the contracts of a matched pair get books, and it ends on its
    own after the duration."""
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        day = datetime.now(ET).date() + timedelta(days=9)
        paired = add_kalshi_strike(kalshi, kalshi_event(day), day, 100_000)
        lone = add_kalshi_strike(kalshi, kalshi_event(day), day, 105_000)  # not on Polymarket
        kalshi.set_event(
            kalshi_event(day),
            title=f"Bitcoin price on {day:%b} {day.day}, {day.year} at 5pm EST?",
            category="Crypto",
            settlement_sources=[{"name": "CF Benchmarks", "url": "https://www.cfbenchmarks.com"}],
        )
        kalshi.set_book(paired, yes=[("0.38", 200)], no=[("0.60", 200)])
        kalshi.set_book(lone, yes=[("0.20", 200)], no=[("0.78", 200)])
        yes, no = add_poly_threshold(poly, "601231", "41001", day, 100_000)
        poly.set_book(yes, bids=[("0.46", "300")], asks=[("0.53", "300")])
        poly.set_book(no, bids=[("0.45", "300")], asks=[("0.52", "300")])
        out = tmp_path / "day.jsonl.gz"
        env = {
            "KALSHI_BASE_URL": kalshi.base_url,
            "POLY_CLOB_URL": poly.clob_url,
            "POLY_GAMMA_URL": poly.gamma_url,
            "PREDARB_POLL_INTERVAL_S": "0.25",
        }
        loop = asyncio.get_running_loop()
        started = loop.time()
        proc = await start_predarb(["record", "--duration", "3", "--out", str(out)], env, tmp_path)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
        took = loop.time() - started
    text = stdout.decode()
    assert proc.returncode == 0, text + stderr.decode()
    assert 3 <= took < 30
    assert "recording the books of 1 pairs" in text
    assert f"1 pairs) into {out}" in text
    items = list(read_recording(out))
    listed = {i.venue: {m.market_id for m in i.markets} for i in items if isinstance(i, Listing)}
    assert listed[Venue.KALSHI] == {paired, lone} and listed[Venue.POLYMARKET] == {"601231"}
    booked = {
        b.contract.market_id
        for i in items
        for b in (
            (i.book,) if isinstance(i, BookUpdate) else i.books if isinstance(i, BooksSeen) else ()
        )
    }
    assert booked == {paired, "601231"}  # the lone strike is in no pair: no book
    polls = [i for i in items if isinstance(i, BooksSeen)]
    assert polls, "the books were read again while it ran"
    assert not [path for _, path, signed in kalshi.requests if signed]  # no key used
