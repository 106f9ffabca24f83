"""``predarb pairs``, ``scan`` and ``run`` (paper) as a user runs them, against the fake
Kalshi and Polymarket over loopback: real processes, real adapters, a real SQLite file.

The fakes list Bitcoin threshold markets the way both venues do: a Kalshi event with
one market per strike, a Polymarket event per day. ``$100,000 at 5pm ET on day D`` is on
both venues, with the same time and the same named source (CF Benchmarks' BRTI), and
its books hold an arbitrage after fees. The hard negatives look like it but are not the
same question: ``$105,000`` on day D exists on Kalshi only, and on Polymarket only for
day D+1 (where its price would look like an arbitrage against Kalshi's day D).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket
from tests.processes import start_predarb

ET = ZoneInfo("America/New_York")
PAIR_KEYS = {
    "kind",
    "kalshi",
    "polymarket",
    "mapping",
    "confidence",
    "tradable",
    "flags",
    "evidence",
}
MAPPING_KEYS = {"kalshi", "kalshi_side", "polymarket", "outcome", "token_id"}
OPPORTUNITY_KEYS = {
    "kind",
    "event",
    "legs",
    "cost",
    "fees",
    "profit",
    "roi_pct",
    "tradable",
    "reason",
}
LEG_KEYS = {"venue", "market", "side", "price", "contracts"}
MAX_BET = Decimal(20)


@dataclass(frozen=True)
class Seeded:
    day: date
    ticker: str  # Kalshi $100,000 on day D: the tradable pair
    market: str  # Polymarket $100,000 on day D
    yes_token: str
    no_token: str
    lone_ticker: str  # Kalshi $105,000 on day D: nothing on Polymarket that day
    later_market: str  # Polymarket $105,000 on day D+1


@dataclass
class Venues:
    kalshi: FakeKalshi
    poly: FakePolymarket
    seeded: Seeded
    env: dict[str, str]
    db: Path

    def orders_posted(self) -> int:
        poly_orders = sum(1 for method, path in self.poly.requests if path == "/order")
        return self.kalshi.order_posts + poly_orders

    def private_calls(self) -> list[str]:
        """Kalshi portfolio calls and signed requests: paper mode has no key to make them."""
        return [p for _, p, signed in self.kalshi.requests if signed or p.startswith("/portfolio")]


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
    """A Polymarket ``Bitcoin above ___ on <day>?`` market; returns (yes, no) token ids."""
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


def seed(kalshi: FakeKalshi, poly: FakePolymarket) -> Seeded:
    day = datetime.now(ET).date() + timedelta(days=9)
    event = f"KXBTCD-{day:%y%b%d}17".upper()
    ticker = add_kalshi_strike(kalshi, event, day, 100_000)
    lone = add_kalshi_strike(kalshi, event, day, 105_000)
    kalshi.set_event(
        event,
        title=f"Bitcoin price on {day:%b} {day.day}, {day.year} at 5pm EST?",
        category="Crypto",
        settlement_sources=[{"name": "CF Benchmarks", "url": "https://www.cfbenchmarks.com"}],
    )
    # Others' bids: YES is offered at 1 - 0.60 = 0.40, NO at 1 - 0.38 = 0.62.
    kalshi.set_book(ticker, yes=[("0.38", 200)], no=[("0.60", 200)])
    kalshi.set_book(lone, yes=[("0.20", 200)], no=[("0.78", 200)])

    yes, no = add_poly_threshold(poly, "601231", "41001", day, 100_000)
    poly.set_book(yes, bids=[("0.48", "300")], asks=[("0.53", "300")])
    poly.set_book(no, bids=[("0.47", "300")], asks=[("0.52", "300")])
    later_yes, later_no = add_poly_threshold(poly, "601377", "41002", day + timedelta(1), 105_000)
    # Against Kalshi's day-D $105,000 YES at 0.22 this NO would look like a sure profit.
    poly.set_book(later_yes, bids=[("0.36", "300")], asks=[("0.40", "300")])
    poly.set_book(later_no, bids=[("0.58", "300")], asks=[("0.60", "300")])
    return Seeded(day, ticker, "601231", yes, no, lone, "601377")


@pytest.fixture
async def venues(tmp_path: Path) -> AsyncIterator[Venues]:
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        db = tmp_path / "predarb.sqlite3"
        env = {
            "KALSHI_BASE_URL": kalshi.base_url,
            "POLY_CLOB_URL": poly.clob_url,
            "POLY_GAMMA_URL": poly.gamma_url,
            "PREDARB_DB_PATH": str(db),
            "EXECUTOR_MAX_BET": str(MAX_BET),
            "EXECUTOR_MAX_QUOTE_AGE_S": "30",
            "PREDARB_POLL_INTERVAL_S": "0.2",
        }
        yield Venues(kalshi, poly, seed(kalshi, poly), env, db)


async def predarb(*args: str, venues: Venues, cwd: Path) -> tuple[int, str, str]:
    proc = await start_predarb(args, venues.env, cwd)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    return proc.returncode or 0, out.decode(), err.decode()


def is_decimal_text(value: Any) -> bool:
    """A JSON string holding a finite decimal (a JSON number is not one)."""
    if not isinstance(value, str):
        return False
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


async def test_pairs_maps_each_kalshi_side_to_its_polymarket_token(
    venues: Venues, tmp_path: Path
) -> None:
    s = venues.seeded
    code, out, err = await predarb("pairs", "--json", venues=venues, cwd=tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    pairs = [json.loads(line) for line in lines]
    assert all(p.keys() >= PAIR_KEYS and isinstance(p["evidence"], str) for p in pairs)

    tradable = [p for p in pairs if p["tradable"]]
    assert len(tradable) == 1, out
    pair = tradable[0]
    assert pair["kind"] == "binary"
    assert pair["kalshi"] == [s.ticker] and pair["polymarket"] == [s.market]
    assert isinstance(pair["confidence"], float) and 0.7 <= pair["confidence"] <= 1
    assert pair["flags"] == []
    assert all(entry.keys() == MAPPING_KEYS for entry in pair["mapping"])
    sides = {
        e["kalshi_side"]: (e["polymarket"], e["outcome"], e["token_id"]) for e in pair["mapping"]
    }
    assert sides == {"yes": (s.market, "Yes", s.yes_token), "no": (s.market, "No", s.no_token)}

    # The day-D $105,000 (Kalshi only) and the day-D+1 $105,000 (Polymarket only) are
    # never a tradable pair, not with each other nor with the $100,000 markets.
    for p in pairs:
        if s.lone_ticker in p["kalshi"] or s.later_market in p["polymarket"]:
            assert not p["tradable"], p

    code, out, err = await predarb("pairs", venues=venues, cwd=tmp_path)
    assert code == 0, err
    rows = out.splitlines()
    assert len(rows) == len(pairs)
    row = next(r for r in rows if " TRADE " in r)
    assert f"{s.ticker} yes={s.market}:Yes" in row and f"{s.ticker} no={s.market}:No" in row
    assert not venues.db.exists()
    assert venues.orders_posted() == 0 and venues.private_calls() == []


async def test_scan_prices_the_arbitrage_and_neither_writes_nor_places(
    venues: Venues, tmp_path: Path
) -> None:
    s = venues.seeded
    code, out, err = await predarb("scan", "--json", venues=venues, cwd=tmp_path)
    assert code == 0, err
    opportunities = [json.loads(line) for line in out.splitlines()]
    assert len(opportunities) == 1, out
    opp = opportunities[0]
    assert opp.keys() == OPPORTUNITY_KEYS and isinstance(opp["reason"], str)
    assert opp["kind"] == "yes_no" and opp["tradable"] is True, opp
    assert s.day.strftime("%b") in opp["event"]
    for name in ("cost", "fees", "profit", "roi_pct"):
        assert is_decimal_text(opp[name]), (name, opp[name])
    legs = {leg["venue"]: leg for leg in opp["legs"]}
    assert all(leg.keys() == LEG_KEYS for leg in opp["legs"]) and len(opp["legs"]) == 2
    # Kalshi's YES at 0.40 with Polymarket's NO at 0.52: 0.92 for a dollar, before fees.
    assert (legs["kalshi"]["market"], legs["kalshi"]["side"]) == (s.ticker, "yes")
    assert (legs["polymarket"]["market"], legs["polymarket"]["side"]) == (s.market, "No")
    assert Decimal(legs["kalshi"]["price"]) == Decimal("0.40")
    assert Decimal(legs["polymarket"]["price"]) == Decimal("0.52")
    assert all(
        is_decimal_text(leg["price"]) and is_decimal_text(leg["contracts"]) for leg in legs.values()
    )
    contracts = Decimal(legs["kalshi"]["contracts"])
    assert contracts == Decimal(legs["polymarket"]["contracts"]) >= 5
    cost, fees, profit = (Decimal(opp[k]) for k in ("cost", "fees", "profit"))
    assert cost == contracts * Decimal("0.92")
    assert cost + fees <= MAX_BET
    assert fees > 0 and profit == contracts - cost - fees > 0
    assert Decimal(opp["roi_pct"]) >= 1

    code, out, err = await predarb("scan", venues=venues, cwd=tmp_path)
    assert code == 0, err
    rows = out.splitlines()
    assert len(rows) == 1 and rows[0].startswith("yes_no"), out
    assert f"kalshi:{s.ticker}:yes@0.40" in rows[0] and f"polymarket:{s.market}:No@0.52" in rows[0]
    assert "not tradable" not in rows[0]

    assert not venues.db.exists()  # scan writes nothing
    assert venues.orders_posted() == 0 and venues.private_calls() == []


async def test_paper_run_records_a_paper_execution_and_stops_cleanly(
    venues: Venues, tmp_path: Path
) -> None:
    s = venues.seeded
    proc = await start_predarb(["run"], venues.env, tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    drains = [asyncio.create_task(stream.read()) for stream in (proc.stdout, proc.stderr)]
    try:
        execution = await first_execution(venues.db, proc, timeout_s=20)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    out, err = (b.decode() for b in await asyncio.gather(*drains))
    assert execution is not None, out + err
    assert code == 0, out + err
    assert "stopped cleanly" in err

    assert execution[0] == "paper"
    with closing(sqlite3.connect(venues.db)) as conn:
        rows = conn.execute("SELECT mode, status, kind FROM executions").fetchall()
        legs = conn.execute("SELECT venue, market_id, side, token_id FROM orders").fetchall()
    assert rows and all(mode == "paper" for mode, _, _ in rows), rows
    assert ("paper", "success", "yes_no") in rows, rows
    assert ("kalshi", s.ticker, "yes", "") in legs, legs
    assert ("polymarket", s.market, "No", s.no_token) in legs, legs
    assert all(m not in (s.lone_ticker, s.later_market) for _, m, _, _ in legs)
    # Paper never trades for real: no order ever reached either venue.
    assert venues.orders_posted() == 0 and venues.private_calls() == []


async def first_execution(
    db: Path, proc: asyncio.subprocess.Process, *, timeout_s: float
) -> tuple[str, str] | None:
    """(mode, status) of the first execution the running bot records, polled from its
    SQLite file; ``None`` if the bot exits or the time runs out first."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline and proc.returncode is None:
        if db.exists():
            try:
                with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
                    row = conn.execute(
                        "SELECT mode, status FROM executions WHERE status != 'pending' LIMIT 1"
                    ).fetchone()
            except sqlite3.OperationalError:
                row = None  # the schema is not there yet, or a writer holds the lock
            if row is not None:
                return str(row[0]), str(row[1])
        await asyncio.sleep(0.1)
    return None


async def test_paper_run_killed_and_started_again_keeps_its_ledger(
    venues: Venues, tmp_path: Path
) -> None:
    """SIGKILL after the first paper trade: the next start goes on with the same paper
    cash and positions (``predarb.paper.sqlite3`` beside the database), not a fresh $1,000."""
    ledger = venues.db.with_name("predarb.paper.sqlite3")

    def accounts() -> dict[str, Decimal]:
        with closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)) as conn:
            rows = conn.execute("SELECT venue, balance FROM paper_accounts").fetchall()
        return {venue: Decimal(balance) for venue, balance in rows}

    proc = await start_predarb(["run"], venues.env, tmp_path)
    try:
        execution = await first_execution(venues.db, proc, timeout_s=20)
    finally:
        proc.kill()
        await proc.communicate()
    assert execution == ("paper", "success")
    before = accounts()
    assert before["kalshi"] < 1000 and before["polymarket"] < 1000, before
    with closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as conn:
        held = conn.execute("SELECT venue, contracts FROM paper_positions").fetchall()
    assert {venue for venue, _ in held} == {"kalshi", "polymarket"}

    proc = await start_predarb(["run"], venues.env, tmp_path)
    try:
        seen = await balances_written(venues.db, proc, timeout_s=20)
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    # The restarted bot reports the ledger's cash, not a new account's.
    assert seen == {venue: balance for venue, balance in before.items()}, (seen, before)
    assert accounts()["kalshi"] <= before["kalshi"]


async def balances_written(
    db: Path, proc: asyncio.subprocess.Process, *, timeout_s: float
) -> dict[str, Decimal] | None:
    """The balances the running bot wrote at its start (``balance:<venue>`` in
    ``bot_state``), once both are there and newer than its start."""
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline and proc.returncode is None:
        try:
            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
                rows = conn.execute(
                    "SELECT key, value FROM bot_state WHERE key LIKE 'balance:%'"
                    " AND updated_at >= ?",
                    (started,),
                ).fetchall()
        except sqlite3.OperationalError:
            rows = []
        if len(rows) == 2:
            return {key.split(":", 1)[1]: Decimal(value) for key, value in rows}
        await asyncio.sleep(0.1)
    return None
