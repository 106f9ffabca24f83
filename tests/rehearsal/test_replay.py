"""``predarb replay`` on the recording in ``tests/fixtures/recordings`` (made by our
recorder against the loopback fakes, see ``tests/rehearsal/scenario.py``).

The expected figures are worked out by hand from the recording's lines and the venues'
published fee formulas, not read from a run:

Pair A ($100,000 on day D): Kalshi YES ask 0.40 x 200, Polymarket NO ask 0.52 x 300,
unchanged all along. Per contract 0.92, fees 0.07 x 0.40 x 0.60 = 0.0168 (Kalshi) and
0.07 x 0.52 x 0.48 = 0.017472 (Polymarket): 0.954272 all in, so $20 buys 20 contracts
(21 would cost 20.04). Fees 20 x 0.0168 = 0.3360 and 20 x 0.017472 = 0.34944. It resolves
YES: Kalshi pays $20, Polymarket nothing; realized 20 - 18.40 - 0.68544 = +0.91456.

Pair B ($110,000 on day D + 1): Kalshi YES ask 0.34 x 200 (bid 0.30 x 200); Polymarket NO
ask 0.70, until an offer of 50 at 0.58 is received at 2.090 s and removed at 2.137 s
(47 ms). 0.34 + 0.58 = 0.92; fees 0.07 x 0.34 x 0.66 x 20 = 0.31416, rounded up to
Kalshi's $0.0001: 0.3142, and 0.07 x 0.58 x 0.42 x 20 = 0.34104 on Polymarket; 20
contracts (0.95276 each; 21 would cost 20.008). It resolves NO.

- Orders that arrive at once (0 ms): both legs fill; B pays $20 on Polymarket, realized
  20 - 18.40 - 0.3142 - 0.34104 = +0.94476; in all +1.85932.
- Polymarket orders that take 150 ms (Kalshi 120 ms): the NO offer is gone when the order
  arrives (only 0.70 is left, above the 0.58 limit), so the FOK leg is killed while the
  Kalshi leg fills: one-legged. The execution knows both answers 150 ms after sending
  (the slower venue), and plans from the books of that moment: hedging at 0.70 would lose
  0.04 + fees a contract, over the 1 cent budget, so the 20 YES are offered back at the
  0.30 bid; that order meets the Kalshi book 120 ms later still at 0.30 and sells (fee
  0.07 x 0.30 x 0.70 x 20 = 0.2940): realized 6.00 - 6.80 - 0.3142 - 0.2940 = -1.4082; in
  all -0.49364. Fills: bought A's 20 + 20 and B's 20 YES, 60 contracts for 8.00 + 10.40 +
  6.80 = 25.20; sold 20 for 6.00. Every entry fill is at the price seen: slippage 0.

The same recording with B's Kalshi YES bid down to 0.25 from 200 ms after the offer arrived
until the next Kalshi poll line (about 400 ms later), same latencies: B's entry as above
(answers known at +150 ms, the bid still 0.30 then). Rung 0 offers the 20 YES at 0.30; it
arrives at +270 ms, when only 0.25 is bid: nothing sells. Its answer is known then, and
rung 1 is planned on that book: one tick under the 0.25 bid, 0.24; it arrives at +390 ms,
the bid still 0.25, and sells 20 at 0.25 (fee 0.07 x 0.25 x 0.75 x 20 = 0.2625). Realized
5.00 - 6.80 - 0.3142 - 0.2625 = -2.3767; in all 0.91456 - 2.3767 = -1.46214. Sold 20 for
5.00. The entry legs filled at the prices seen: slippage 0 (the sale 1 cent above its own
0.24 limit is no slippage against a price the calculator saw).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.config import Settings
from predarb.domain import Contract, Level, OrderBook, Venue
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
    read_recording,
)
from predarb.rehearsal.replay import parse_latencies, replay
from tests.processes import run_predarb

pytestmark = pytest.mark.timeout(60)

RECORDING = Path(__file__).parent.parent / "fixtures" / "recordings" / "btc_thresholds.jsonl.gz"
ENV = {"EXECUTOR_MAX_BET": "20", "EXECUTOR_MIN_ROI": "1"}


def settings() -> Settings:
    return Settings(_env_file=None, executor_max_bet=Decimal(20), executor_min_roi=Decimal(1))


LATE = {Venue.KALSHI: 120, Venue.POLYMARKET: 150}
AT_ONCE = {Venue.KALSHI: 0, Venue.POLYMARKET: 0}


async def test_with_latency_the_fleeting_offer_is_missed_and_the_leg_sold_back() -> None:
    report = await replay(settings(), RECORDING, latency_ms=LATE)
    assert report.pairs == 2 and report.tradable == 2
    assert report.approved == 2
    assert report.executions == {"success": 1, "unwound": 1}
    assert (report.legs_sent, report.legs_filled, report.legs_killed) == (4, 3, 1)
    assert report.one_legged == 1
    # A's two legs and B's Kalshi leg bought, B's Kalshi leg sold back.
    assert (report.contracts_bought, report.contracts_sold) == (60, 20)
    assert report.bought == Decimal("8.00") + Decimal("10.40") + Decimal("6.80")
    assert report.sold == Decimal("6.00")
    assert report.fees == Decimal("0.3360") + Decimal("0.34944") + Decimal("0.3142") + Decimal(
        "0.2940"
    )
    assert report.slippage == 0  # every fill at the price seen
    assert report.settled == 2
    assert report.realized == Decimal("0.91456") + Decimal("-1.4082")
    assert report.expected_open == 0
    # Each pair, priced again after its execution, is refused: the event holds a position.
    assert set(report.refused) == {"duplicate_position"}


async def test_orders_that_arrive_at_once_catch_the_offer() -> None:
    report = await replay(settings(), RECORDING, latency_ms=AT_ONCE)
    assert report.executions == {"success": 2}
    assert (report.legs_sent, report.legs_filled, report.one_legged) == (4, 4, 0)
    assert report.realized == Decimal("0.91456") + Decimal("0.94476")
    assert report.fees == Decimal("0.3360") + Decimal("0.34944") + Decimal("0.3142") + Decimal(
        "0.34104"
    )


async def test_the_same_recording_and_settings_give_the_same_report() -> None:
    first = await replay(settings(), RECORDING, latency_ms=LATE)
    second = await replay(settings(), RECORDING, latency_ms=LATE)
    assert first.text() == second.text()
    assert first == second


def reencoded(out: Path, *, dip: bool) -> Path:
    """The fixture recording re-encoded line by line; with ``dip``, B's Kalshi book down
    to a 0.25 YES bid (0.75 NO ask) 200 ms after the fleeting Polymarket offer arrived,
    until the next Kalshi poll line restates the 0.30 bid."""
    items = list(read_recording(RECORDING))
    offer = next(
        i
        for i in items
        if isinstance(i, BookUpdate) and any(lv.price == Decimal("0.58") for lv in i.book.asks)
    )
    dip_t = offer.t + 200_000_000
    latest: dict[Contract, OrderBook] = {}
    for item in items:
        if item.t > offer.t:
            break
        if isinstance(item, BookUpdate):
            latest[item.book.contract] = item.book
        elif isinstance(item, BooksSeen):
            latest.update((b.contract, b) for b in item.books)
    when = codec.time_of(dip_t)
    moved: list[OrderBook] = []
    for contract, book in latest.items():
        if contract.venue is Venue.KALSHI and contract.market_id.endswith("-T110000"):
            if contract.side == "yes":
                moved.append(replace(book, bids=(Level(Decimal("0.25"), Decimal(200)),), ts=when))
            else:
                moved.append(replace(book, asks=(Level(Decimal("0.75"), Decimal(200)),), ts=when))
    assert len(moved) == 2
    if not dip:
        moved = []
    writer = RecordingWriter(out, flush_interval_s=0)
    for item in items:
        if moved and item.t > dip_t:
            writer.books(moved, t=dip_t)
            moved = []
        if isinstance(item, Listing):
            writer.markets(item.venue, item.markets, t=item.t)
        elif isinstance(item, BookUpdate):
            writer.books([item.book], t=item.t)
        elif isinstance(item, BooksSeen):
            writer.books(list(item.books), t=item.t)
        elif isinstance(item, StreamLive):
            writer.live(item.venue, item.on, t=item.t)
        elif isinstance(item, BooksDropped):
            writer.drop(list(item.contracts), item.reason, t=item.t)
        elif isinstance(item, Resolved):
            writer.resolution(item.venue, item.resolution, t=item.t)
    writer.close()
    return out


async def test_the_sale_meets_the_book_after_the_answers_came_back(tmp_path: Path) -> None:
    """A hedge or unwind leaves once the answers are in and meets the book one latency
    later: here a bid that fell in between (see the module's docstring)."""
    plain = await replay(settings(), reencoded(tmp_path / "plain.gz", dip=False), latency_ms=LATE)
    assert plain == await replay(settings(), RECORDING, latency_ms=LATE)  # re-encoded as is
    report = await replay(settings(), reencoded(tmp_path / "dip.gz", dip=True), latency_ms=LATE)
    assert report.executions == {"success": 1, "unwound": 1}
    assert (report.contracts_bought, report.contracts_sold) == (60, 20)
    assert report.bought == Decimal("25.20") and report.sold == Decimal("5.00")
    assert report.fees == Decimal("0.3360") + Decimal("0.34944") + Decimal("0.3142") + Decimal(
        "0.2625"
    )
    assert report.slippage == 0  # the entry legs filled at the prices seen
    assert report.realized == Decimal("0.91456") + Decimal("-2.3767")
    assert "fills: bought 60 contracts for $25.20, sold 20 for $5.00, fees $1.26" in report.text()


def test_replay_command_prints_the_report(tmp_path: Path) -> None:
    done = run_predarb(
        ["replay", str(RECORDING), "--latency-ms", "kalshi=120,polymarket=150"],
        ENV,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "=== replay report (paper) ===" in done.stdout
    assert "executions: success 1, unwound 1" in done.stdout
    assert "realized -$0.4936 on 2 settled" in done.stdout
    assert not list(tmp_path.iterdir())  # nothing written where it ran


def test_replay_of_a_missing_or_foreign_file_is_one_line(tmp_path: Path) -> None:
    done = run_predarb(["replay", str(tmp_path / "none.gz")], cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("no such file")
    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello\n")
    done = run_predarb(["replay", str(foreign)], cwd=tmp_path)
    assert done.returncode == 2 and "not a recording" in done.stderr
    done = run_predarb(["replay", str(RECORDING), "--latency-ms", "kalshi=-3"], cwd=tmp_path)
    assert done.returncode == 2 and "--latency-ms" in done.stderr


def test_latencies_parse_per_venue_or_for_both() -> None:
    defaults = {Venue.KALSHI: 120, Venue.POLYMARKET: 150}
    assert parse_latencies("", defaults) == defaults
    assert parse_latencies("40", defaults) == {Venue.KALSHI: 40, Venue.POLYMARKET: 40}
    assert parse_latencies("polymarket=300", defaults) == {
        Venue.KALSHI: 120,
        Venue.POLYMARKET: 300,
    }
    for bad in ("fast", "binance=3", "kalshi=-1"):
        with pytest.raises(ValueError):
            parse_latencies(bad, defaults)


async def test_a_missing_recording_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError):
        await replay(settings(), tmp_path / "nothing.jsonl.gz", latency_ms=LATE)
