"""Kalshi against Polymarket US, end to end over both fakes: the real matcher pairs an
NBA game, the calculator prices it, the placer sends both legs, settlement pays.

Lakers at Celtics on 2026-12-25. Kalshi lists one market per team; Polymarket US lists
one market whose long side is the Lakers. Kalshi's Lakers YES costs 0.45 and Polymarket
US's Celtics (its short side) 0.45 (the long side is bid 0.55): $0.90 for a payout of
$1 whoever wins, before fees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.arbitrage.calculator import CalcParams
from predarb.domain import ExecutionStatus, Opportunity, Venue
from predarb.engine import fetch_books, price_pairs
from predarb.execution.placer import Placer
from predarb.matching.codec import pair_to_json
from predarb.matching.matcher import Matcher, match_venues
from predarb.notify.base import Alert
from predarb.reconcile import Reconciler
from predarb.settlement import Settler
from predarb.store import Store
from predarb.venues.base import VenueClient
from predarb.venues.kalshi import KalshiVenue
from predarb.venues.polymarket_us import PolymarketUSVenue
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_us_server import FakePolymarketUS

D = Decimal
LAL, BOS = "KXNBAGAME-26DEC25LALBOS-LAL", "KXNBAGAME-26DEC25LALBOS-BOS"
SLUG = "nba-lal-bos-2026-12-25"
NOW = datetime(2026, 12, 20, tzinfo=UTC)


@dataclass
class Rig:
    kalshi_fake: FakeKalshi
    us_fake: FakePolymarketUS
    venues: dict[Venue, VenueClient]
    store: Store
    alerts: list[Alert]

    async def opportunity(self) -> Opportunity:
        listed = {v: await c.list_markets() for v, c in self.venues.items()}
        pairs = match_venues(Matcher().match, listed)
        assert pairs and all(p.tradable for p in pairs), [pair_to_json(p) for p in pairs]
        markets = {c: m for ms in listed.values() for m in ms for c in m.contracts}
        books = await fetch_books(self.venues, pairs)
        params = CalcParams(max_cost=D(20), depth_fraction=D(1))
        [opp, *_] = price_pairs(pairs, books, markets, params, NOW)
        return opp

    def placer(self) -> Placer:
        return Placer(self.store, self.venues, mode="live", clock=lambda: NOW)


@pytest.fixture
async def rig(tmp_path: Path, store: Store) -> AsyncIterator[Rig]:
    async with FakeKalshi() as kf, FakePolymarketUS() as uf:
        key_path = tmp_path / "kalshi.pem"
        kalshi_key = kf.new_key(key_path)
        kf.set_series("KXNBAGAME")
        for ticker, team in ((LAL, "Los Angeles L"), (BOS, "Boston")):
            kf.add_market(
                ticker,
                title=f"Will {team} win?",
                yes_sub_title=team,
                no_sub_title=team,
                close_time="2026-12-26T04:00:00Z",
                expected_expiration_time="2026-12-26T04:00:00Z",
            )
        kf.set_event(
            "KXNBAGAME-26DEC25LALBOS", title="Los Angeles L at Boston", series_ticker="KXNBAGAME"
        )
        kf.set_book(LAL, yes=[("0.40", 50)], no=[("0.55", 50)])  # Lakers YES asks 0.45
        kf.set_book(BOS, yes=[("0.50", 50)], no=[("0.40", 50)])  # Boston YES asks 0.60
        kf.exchange.balance = D(100)
        us_key, us_secret = uf.new_key()
        uf.add_market(
            SLUG,
            "Lakers vs. Celtics",
            long_label="Lakers",
            short_label="Celtics",
            event_slug=SLUG,
            game_start="2026-12-26T00:30:00Z",
        )
        uf.set_book(SLUG, bids=[("0.55", 50)], offers=[("0.62", 50)])  # Celtics ask 0.45
        uf.exchange.balance = D(100)
        kalshi = KalshiVenue(kf.base_url, kalshi_key, key_path, timeout_s=2, max_backoff_s=0.05)
        us = PolymarketUSVenue(uf.url, uf.url, us_key, us_secret, timeout_s=2, max_backoff_s=0.05)
        alerts: list[Alert] = []
        try:
            yield Rig(kf, uf, {Venue.KALSHI: kalshi, Venue.POLYMARKET_US: us}, store, alerts)
        finally:
            await kalshi.close()
            await us.close()


def _legs(opp: Opportunity) -> dict[Venue, tuple[str, str, Decimal]]:
    return {
        leg.contract.venue: (leg.contract.market_id, leg.contract.side, leg.price)
        for leg in opp.legs
    }


async def test_an_arbitrage_executes_with_equal_contracts_on_complementary_outcomes(
    rig: Rig,
) -> None:
    opp = await rig.opportunity()
    assert _legs(opp) == {
        Venue.KALSHI: (LAL, "yes", D("0.45")),
        Venue.POLYMARKET_US: (SLUG, "Celtics", D("0.45")),
    }
    assert len({leg.contracts for leg in opp.legs}) == 1 and opp.profit > 0
    placement = await rig.placer().execute(opp)
    assert placement.status is ExecutionStatus.SUCCESS
    # The NO (Celtics) leg left on the long side: BUY_SHORT at 1 - 0.45.
    [body] = rig.us_fake.order_bodies
    assert (body["intent"], body["price"]["value"]) == ("ORDER_INTENT_BUY_SHORT", "0.55")
    assert body["quantity"] == int(opp.contracts)
    assert rig.us_fake.exchange.positions[SLUG] == -opp.contracts  # short the Lakers
    [k_position] = await rig.venues[Venue.KALSHI].get_positions()
    [us_position] = await rig.venues[Venue.POLYMARKET_US].get_positions()
    assert k_position.contracts == us_position.contracts == opp.contracts
    assert (k_position.contract.side, us_position.contract.side) == ("yes", "Celtics")

    async def collect(alert: Alert) -> None:
        rig.alerts.append(alert)

    # What the store holds is what both venues hold.
    reconciler = Reconciler(rig.store, rig.venues, collect, lambda: NOW, confirmations=1)
    assert await reconciler.reconcile_once() == []


async def test_a_lost_answer_is_resolved_without_a_second_order(rig: Rig) -> None:
    opp = await rig.opportunity()
    rig.us_fake.drop_next_order_reply()
    placement = await rig.placer().execute(opp)
    assert placement.status is ExecutionStatus.SUCCESS
    assert rig.us_fake.order_posts == 1
    [us_leg] = [leg for leg in placement.legs if leg.order.contract.venue is Venue.POLYMARKET_US]
    assert us_leg.result.filled == opp.contracts and us_leg.result.avg_price == D("0.45")


async def test_settlement_credits_the_payout(rig: Rig) -> None:
    opp = await rig.opportunity()
    await rig.placer().execute(opp)
    us = rig.venues[Venue.POLYMARKET_US]
    before = await us.get_balance()
    rig.kalshi_fake.settle(LAL, "no")
    rig.kalshi_fake.settle(BOS, "yes")
    rig.us_fake.settle(SLUG, "0")  # the Celtics win: the short side pays $1
    assert await us.get_balance() == before + opp.contracts

    async def collect(alert: Alert) -> None:
        rig.alerts.append(alert)

    result = await Settler(rig.store, rig.venues, collect, lambda: NOW).settle_once()
    assert result.settled == 1 and result.mismatched == 0


async def test_the_pair_says_which_polymarket_and_which_side(rig: Rig) -> None:
    listed = {v: await c.list_markets() for v, c in rig.venues.items()}
    [pair] = match_venues(Matcher().match, listed)
    d = pair_to_json(pair)
    assert d["polymarket_venue"] == "polymarket_us" and d["polymarket"] == [SLUG]
    assert {(e["kalshi"], e["kalshi_side"], e["outcome"], e["token_id"]) for e in d["mapping"]} == {
        (LAL, "yes", "Lakers", "long"),
        (BOS, "no", "Lakers", "long"),
        (BOS, "yes", "Celtics", "short"),
        (LAL, "no", "Celtics", "short"),
    }
