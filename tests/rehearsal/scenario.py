"""The recorded scenario behind ``tests/fixtures/recordings/btc_thresholds.jsonl.gz``:
``predarb record``'s recorder against the loopback fakes (Kalshi over REST polls,
Polymarket over REST and its market channel), while the script below moves the books
and resolves the markets. Made once, by hand::

    .venv/bin/python -m tests.rehearsal.scenario tests/fixtures/recordings/btc_thresholds.jsonl.gz

Two Bitcoin thresholds, each listed on both venues:

- $100,000 on day D (pair A): Kalshi YES is offered at 0.40 (others bid 0.60 for NO) and
  Polymarket NO at 0.52, from the start and all along: an arbitrage that stands.
- $110,000 on day D + 1 (pair B): Kalshi YES at 0.34, Polymarket NO at 0.70: nothing, until about
  2 s in a Polymarket NO offer of 50 at 0.58 appears and is gone 50 ms later (someone
  else took it). An order that needs 150 ms to arrive misses it.

About 4 s in, both venues resolve both markets: $100,000 YES (Kalshi ``yes``, Polymarket
``Yes``) and $110,000 NO. The recorder stops at 6 s.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from predarb.config import Settings
from predarb.domain import Venue
from predarb.rehearsal.recorder import RecordSummary, record
from predarb.venues.kalshi import KalshiVenue
from predarb.venues.polymarket import PolymarketVenue
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.fakes.ws_polymarket import FakePolymarketWs

ET = ZoneInfo("America/New_York")


def five_pm_et(day: date) -> datetime:
    return datetime.combine(day, time(17), ET).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def add_kalshi_strike(kalshi: FakeKalshi, event: str, day: date, strike: int) -> str:
    ticker = f"{event}-T{strike}"
    dollars = f"${strike:,}"
    when = f"{day:%b} {day.day}, {day.year}"
    settles = five_pm_et(day)
    kalshi.add_market(
        ticker,
        event_ticker=event,
        title=f"Will the Bitcoin price be above {dollars} on {when}?",
        yes_sub_title=f"{dollars} or above",
        no_sub_title=f"{dollars} or above",
        open_time=iso(settles - timedelta(days=14)),
        close_time=iso(settles),
        expected_expiration_time=iso(settles),
        latest_expiration_time=iso(settles + timedelta(days=7)),
        strike_type="greater",
        floor_strike=strike,
        rules_primary=(
            f"If the CF Benchmarks Bitcoin Real Time Index (BRTI) is above {dollars} at 5pm"
            f" EST on {when}, then the market resolves to Yes."
        ),
    )
    return ticker


def add_poly_threshold(
    poly: FakePolymarket, market_id: str, event_id: str, day: date, strike: int
) -> tuple[str, str]:
    dollars = f"${strike:,}"
    event_slug = f"bitcoin-above-on-{day:%B}-{day.day}".lower()
    m = poly.add_market(
        market_id,
        question=f"Will Bitcoin be above {dollars} on {day:%B} {day.day}?",
        fee_rate="0.07",
        min_size="5",
        event_id=event_id,
        event_slug=event_slug,
        slug=f"{event_slug}-{strike // 1000}k",
        tags=("crypto", "bitcoin"),
        end_date=iso(five_pm_et(day)),
        description=(
            f'This market will resolve to "Yes" if the CF Benchmarks Bitcoin Real Time Index'
            f" is above {dollars} at 17:00 ET on {day:%B} {day.day}, {day.year}."
        ),
    )
    return m.tokens["Yes"], m.tokens["No"]


def kalshi_event(day: date) -> str:
    return f"KXBTCD-{day:%y%b%d}17".upper()


async def make_recording(out: Path) -> RecordSummary:
    async with (
        FakeKalshi() as kalshi,
        FakePolymarket() as poly,
        FakePolymarketWs(poly) as poly_ws,
    ):
        day = datetime.now(ET).date() + timedelta(days=9)
        later = day + timedelta(days=1)
        a = add_kalshi_strike(kalshi, kalshi_event(day), day, 100_000)
        b = add_kalshi_strike(kalshi, kalshi_event(later), later, 110_000)
        for when in (day, later):
            kalshi.set_event(
                kalshi_event(when),
                title=f"Bitcoin price on {when:%b} {when.day}, {when.year} at 5pm EST?",
                category="Crypto",
                settlement_sources=[
                    {"name": "CF Benchmarks", "url": "https://www.cfbenchmarks.com"}
                ],
            )
        # Others' bids: A's YES is offered at 1 - 0.60 = 0.40, B's at 1 - 0.66 = 0.34.
        kalshi.set_book(a, yes=[("0.38", 200)], no=[("0.60", 200)])
        kalshi.set_book(b, yes=[("0.30", 200)], no=[("0.66", 200)])
        a_yes, a_no = add_poly_threshold(poly, "601231", "41001", day, 100_000)
        poly.set_book(a_yes, bids=[("0.46", "300")], asks=[("0.53", "300")])
        poly.set_book(a_no, bids=[("0.45", "300")], asks=[("0.52", "300")])
        b_yes, b_no = add_poly_threshold(poly, "601232", "41002", later, 110_000)
        poly.set_book(b_yes, bids=[("0.28", "300")], asks=[("0.45", "300")])
        poly.set_book(b_no, bids=[("0.66", "300")], asks=[("0.70", "300")])

        settings = Settings(
            _env_file=None,
            kalshi_base_url=kalshi.base_url,
            poly_clob_url=poly.clob_url,
            poly_gamma_url=poly.gamma_url,
            predarb_poll_interval_s=0.25,
        )
        venues = {
            Venue.KALSHI: KalshiVenue(kalshi.base_url),
            Venue.POLYMARKET: PolymarketVenue(poly.clob_url, poly.gamma_url, ws_url=poly_ws.url),
        }

        async def script() -> None:
            await poly_ws.wait_subscriptions(1)
            await asyncio.sleep(2.0)
            await poly_ws.set_level(b_no, "SELL", "0.58", "50")
            await asyncio.sleep(0.05)
            await poly_ws.set_level(b_no, "SELL", "0.58", "0")
            await asyncio.sleep(2.0)
            kalshi.settle(a, "yes")
            kalshi.settle(b, "no")
            poly.resolve_market("601231", "Yes")
            poly.resolve_market("601232", "No")

        moves = asyncio.create_task(script())
        try:
            return await record(
                settings,
                out,
                duration_s=6.0,
                venues=venues,
                list_interval_s=1.0,
                resolution_interval_s=0.5,
                say=print,
            )
        finally:
            moves.cancel()


if __name__ == "__main__":
    target = Path(sys.argv[1])
    for old in target.parent.glob(target.name + "*"):
        old.unlink()
    print(asyncio.run(make_recording(target)))
