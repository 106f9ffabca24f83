"""An arbitrage on a Kalshi market of exchange shard 3 while all the Kalshi money is on
shard 0, through the real engine, adapters, fakes and SQLite: either the money is moved
there first (``KALSHI_SHARD_FUNDING``) and both legs fill, or it is refused before any
leg leaves, with its own reason and one chat message. Never a one-legged fill. And a
lost reply of a shard-3 order recovered on the account stream's news, never resent."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from predarb import reports
from predarb.app import post_trade
from predarb.config import Settings
from predarb.domain import Contract, ExecutionStatus, Pair, PairKind, Venue, World
from predarb.engine import Engine
from predarb.execution import placer as placer_module
from predarb.notify import messages
from predarb.notify.base import AlertKind
from predarb.notify.console import ConsoleNotifier
from predarb.risk import SHARD_UNFUNDED
from predarb.store import Store
from predarb.venues.kalshi import KalshiVenue
from predarb.web import views
from tests.execution.world import (
    POLY_MARKET,
    TICKER,
    Fakes,
    make_venues,
    opportunity,
    running_fakes,
)
from tests.fakes.ws_kalshi import FakeKalshiWs
from tests.settlement.test_engine_jobs import Collect

SHARD = 3


@pytest.fixture(autouse=True)
def fast_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placer_module, "LOOKUP_DELAY_S", 0.0)


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[Fakes]:
    async with running_fakes(tmp_path) as f:
        f.kalshi.exchange.markets[TICKER]["exchange_index"] = SHARD  # a tennis market
        f.kalshi.set_event(TICKER.rsplit("-", 1)[0], exchange_index=SHARD)
        f.kalshi.exchange.balances = {0: Decimal(100), SHARD: Decimal(0)}
        yield f


def _pair(fakes: Fakes) -> Pair:
    tokens = json.loads(fakes.poly.markets[POLY_MARKET]["clobTokenIds"])
    k_yes, k_no = (Contract(Venue.KALSHI, TICKER, s) for s in ("yes", "no"))
    p_yes = Contract(Venue.POLYMARKET, POLY_MARKET, "Yes", tokens[0])
    p_no = Contract(Venue.POLYMARKET, POLY_MARKET, "No", tokens[1])
    worlds = (World("yes", (k_yes, p_yes)), World("no", (k_no, p_no)))
    return Pair("pair-shard", PairKind.BINARY, "Tennis match", worlds, 0.99, True)


async def _engine(store: Store, fakes: Fakes, **settings: Any) -> tuple[Engine, ConsoleNotifier]:
    cfg = Settings(_env_file=None, executor_max_bet=Decimal(10), **settings)
    console = ConsoleNotifier(StringIO())
    venues = make_venues(fakes.cfg)
    engine = Engine(cfg, store, venues, console, mode="live", pairs=[_pair(fakes)])
    post_trade(engine)
    assert engine.funding is not None
    engine.funding.poll_s = 0.0
    await engine.control.load(True)
    await engine._remember_markets()
    await engine.refresh_balances()
    return engine, console


def _shard_alerts(console: ConsoleNotifier) -> list[str]:
    return [a.plain for a in console.sent if a.kind is AlertKind.BALANCE_LOW]


async def test_refused_with_its_reason_and_one_message_when_funding_is_off(
    store: Store, fakes: Fakes
) -> None:
    engine, console = await _engine(store, fakes)
    try:
        assert engine.state.shard_balances == {(Venue.KALSHI, 0): 100, (Venue.KALSHI, SHARD): 0}
        for _ in range(3):  # the same refusal on every scan, told once
            await engine.tick()
            await engine.drain()
        assert engine.stats.approved == 0 and engine.stats.rejected == 3
        assert engine.stats.last_rejection["pair-shard"] == SHARD_UNFUNDED
        told = _shard_alerts(console)
        assert len(told) == 1
        assert f"shard {SHARD}" in told[0] and "from shard 0" in told[0]
        assert "KALSHI_SHARD_FUNDING=true" in told[0]
        # nothing left on either venue: no leg, so no one-legged fill
        assert fakes.kalshi_orders() == [] and fakes.poly_posts() == 0
        assert fakes.kalshi.exchange.transfers == {}
        rows = await store.query("SELECT code, reason FROM rejections")
        assert rows and {r[0] for r in rows} == {SHARD_UNFUNDED}
        assert f"exchange shard {SHARD} has $0.00" in rows[0][1]
        # the status shows each shard
        status = await reports.status(store, engine.clock())
        assert status.shard_balances == {Venue.KALSHI: {0: 100, SHARD: 0}}
        assert "shard 3 $0.00" in messages.balance_text(status)
    finally:
        await engine.shutdown()


async def test_funded_by_a_transfer_then_executed_when_funding_is_on(
    store: Store, fakes: Fakes
) -> None:
    fakes.kalshi.exchange.transfer_pending_reads = 2  # pending twice, then complete
    engine, console = await _engine(store, fakes, kalshi_shard_funding=True)
    try:
        await engine.tick()
        await engine.drain()
        assert engine.stats.executions == {ExecutionStatus.SUCCESS.value: 1}
        (transfer,) = fakes.kalshi.exchange.transfers.values()
        assert transfer["status"] == "complete" and transfer["destination_exchange_shard"] == SHARD
        # the shortfall (the Kalshi leg at its limit plus its fee), not the account
        (k_leg,) = [o for o in (await store.executions())[0].orders if o.venue is Venue.KALSHI]
        need = k_leg.price * k_leg.contracts
        moved = Decimal(transfer["amount"])
        assert need < moved < need + Decimal("0.50")
        # the Kalshi order went straight to its shard, after the money was there
        (body,) = fakes.kalshi.order_bodies
        assert body["exchange_index"] == SHARD
        assert len(fakes.kalshi_orders()) == 1 and len(fakes.poly_orders()) == 1
        assert _shard_alerts(console) == []
        assert await store.get_state(
            "kalshi_shard_funding_moved:" + engine.clock().date().isoformat()
        )
        assert (await engine.snapshot()).shard_held == {}  # released when it ended
    finally:
        await engine.shutdown()


async def test_the_cap_refuses_the_transfer_and_says_so_once(store: Store, fakes: Fakes) -> None:
    engine, console = await _engine(
        store, fakes, kalshi_shard_funding=True, kalshi_shard_funding_cap=Decimal("0.50")
    )
    try:
        await engine.tick()
        await engine.drain()
        await engine.tick()
        await engine.drain()
        assert engine.stats.last_rejection["pair-shard"] == SHARD_UNFUNDED
        told = _shard_alerts(console)
        assert len(told) == 1 and "KALSHI_SHARD_FUNDING_CAP $0.50 reached" in told[0]
        assert fakes.kalshi.exchange.transfers == {}
        assert fakes.kalshi_orders() == [] and fakes.poly_posts() == 0
    finally:
        await engine.shutdown()


async def test_money_held_by_an_execution_in_flight_is_not_spent_twice(
    store: Store, fakes: Fakes
) -> None:
    fakes.kalshi.exchange.balances = {0: Decimal(100), SHARD: Decimal(5)}
    # (The daily loss limit is not what this is about: an execution in flight counts
    # against it as lost.)
    engine, _ = await _engine(store, fakes, executor_max_daily_loss=Decimal(100))
    try:
        (opp,) = await engine.scan()
        assert (await engine.check(opp)).approved  # $5 covers its YES leg at 0.40 + fee
        # an execution under way on another event, on the same shard, holds the money
        other = engine.state.reserve(dataclasses.replace(opp, event=opp.event + "-other"))
        decision = await engine.check(opp)
        assert decision.code == SHARD_UNFUNDED and "held by executions in flight" in decision.reason
        await engine.state.settle(other, {}, cooldown_until=None, sent=False)
        assert (await engine.check(opp)).approved
    finally:
        await engine.shutdown()


async def test_balance_status_and_dashboard_show_the_same_shards(
    store: Store, fakes: Fakes
) -> None:
    """One record of the money per shard: what the balance job read is what /balance,
    ``predarb status``, the capital view and the dashboard show."""
    engine, _ = await _engine(store, fakes)
    try:
        report = await reports.status(store, engine.clock(), needed=Decimal(11))
        assert report.shard_balances == {Venue.KALSHI: {0: 100, SHARD: 0}}
        assert report.capital is not None
        names = {a.name: a.free for a in report.capital.accounts}
        assert names["kalshi/0"] == 100 and names[f"kalshi/{SHARD}"] == 0
        assert "kalshi" not in names  # shown by its shards, not again as a total
        balance = messages.balance_text(report)
        status = messages.status_text(report, engine.clock())
        for text in (balance, status):
            assert "shard 0 $100.00" in text and f"shard {SHARD} $0.00" in text
            assert f"kalshi/{SHARD}: free $0.00" in text
        board = await views.status(
            store, engine.clock(), mode="live", limits=(10, Decimal(50)), halted="", pairs=[]
        )
        assert board["shard_balances"] == {"kalshi": {"0": "100.00", str(SHARD): "0.00"}}
        assert board["balances"]["kalshi"] == "100.00"
    finally:
        await engine.shutdown()


async def test_a_lost_reply_on_shard_3_is_recovered_on_the_stream_news_never_resent(
    store: Store, fakes: Fakes, tmp_path: Path
) -> None:
    """The Kalshi leg reaches shard 3's book 3 s after its reply timed out. The
    follow-up of unknown orders polls only every 10 minutes here: the ``user_orders``
    news wakes it, one read by the id the stream gave finds the order on its shard,
    and the execution finishes as the success it is. The leg is never sent again."""
    fakes.kalshi.exchange.balances = {0: Decimal(0), SHARD: Decimal(100)}
    async with FakeKalshiWs(fakes.kalshi, ping_interval_s=0.5) as ws:
        venues = make_venues(fakes.cfg)
        await venues[Venue.KALSHI].close()
        kalshi = KalshiVenue(
            fakes.cfg.kalshi_url,
            fakes.cfg.kalshi_key_id,
            Path(fakes.cfg.kalshi_key_path),
            max_backoff_s=0.01,
            timeout_s=1.0,
            ws_url=ws.url,
            user_stream=True,
        )
        venues[Venue.KALSHI] = kalshi
        engine = Engine(Settings(_env_file=None), store, venues, Collect(), mode="live")
        try:
            await engine.control.load(True)
            await engine._connect_venues()
            assert kalshi.account_stream is not None
            await asyncio.wait_for(kalshi.account_stream.subscribed.wait(), 10)
            engine.unknown.delay_s = lambda _elapsed: 600.0  # news, or nothing for 10 min
            fakes.kalshi.delay_next_order(3.0)

            placement = await engine.execute(opportunity(fakes.cfg))

            assert placement.status is ExecutionStatus.EXPOSED
            assert placement.execution_id in engine.unknown.following
            record = await store.execution(placement.execution_id)
            assert record is not None
            (leg,) = [o for o in record.orders if o.venue is Venue.KALSHI]
            assert not leg.status.final and not leg.venue_order_id
            arrived: asyncio.Future[int] = asyncio.get_running_loop().create_future()

            def on_book(kind: str, _order: object) -> None:
                # the requests so far: what follows is the lookup the news caused
                if kind == "user_order" and not arrived.done():
                    arrived.set_result(len(fakes.kalshi.requests))

            fakes.kalshi.exchange.listeners.append(on_book)
            at_arrival = await asyncio.wait_for(arrived, 10)
            # well before the next poll: only the news can have woken it
            await asyncio.wait_for(engine.unknown.tasks[placement.execution_id], 15)

            assert fakes.kalshi.order_posts == 1  # never resent
            (order,) = fakes.kalshi.exchange.orders.values()
            assert order.exchange_index == SHARD and order.status == "executed"
            assert fakes.kalshi.order_bodies[0]["exchange_index"] == SHARD
            done = await store.execution(placement.execution_id)
            assert done is not None and done.status is ExecutionStatus.SUCCESS, done.note
            (leg,) = [o for o in done.orders if o.venue is Venue.KALSHI]
            assert leg.venue_order_id == order.order_id and leg.filled == 5
            # found by one read of the id the stream gave, not by a scan
            after = [p for _, p, _ in fakes.kalshi.requests[at_arrival:]]
            assert f"/portfolio/orders/{order.order_id}" in after
            assert "/portfolio/orders" not in after
            assert fakes.kalshi.exchange.balances[0] == 0  # paid on its own shard
        finally:
            await engine.shutdown()
