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
  Kalshi leg fills: one-legged. Hedging at 0.70 would lose 0.04 + fees a contract, over the
  1 cent budget, so the 20 YES are sold back at the 0.30 bid (fee 0.07 x 0.30 x 0.70 x 20
  = 0.2940): realized 6.00 - 6.80 - 0.3142 - 0.2940 = -1.4082; in all -0.49364.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from predarb.config import Settings
from predarb.domain import Venue
from predarb.rehearsal.recording import RecordingError
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
    # A's two legs, B's Kalshi leg and its sale: 4 x 20 contracts.
    assert report.contracts_filled == 80
    assert report.bought == Decimal("8.00") + Decimal("10.40") + Decimal("6.80")
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
