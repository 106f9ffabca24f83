"""What an execution holds (money, order slots, its place under the daily limits) is
released only once nothing it may still spend or cause is left uncounted: a failed
execution stops trading first, the one-legged limit acts first, a hedge spends only
money granted to it, hedges and unwinds take order slots, and an order of unknown fate
keeps its money held while it is followed.

Each test checks a second arbitrage at the moment the first execution lets go of what
it held, or watches the venues for an overdraft or an order past the rate."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from predarb.domain import ExecutionStatus, Opportunity, OrderRequest, Venue
from predarb.reservations import Reservation
from predarb.risk import RiskDecision
from predarb.store import Store
from tests.engine.rig import Rig, book, rig
from tests.engine.test_rearm import until
from tests.engine.test_trading_state import ready
from tests.fakes.scripted_venue import KILL, LOST_NEVER_ARRIVED


async def two_arbitrages(r: Rig, *, bids: bool = False) -> tuple[Opportunity, Opportunity]:
    await ready(r)
    for m in r.markets:
        r.arm(m, bids=bids)
    found = {o.pair_id: o for o in await r.engine.scan()}
    return found["pair-0"], found["pair-1"]


def kalshi_money(opp: Opportunity) -> Decimal:
    """What ``opp``'s Kalshi leg reserves: its cost and fee."""
    kalshi = [leg for leg in opp.legs if leg.contract.venue is Venue.KALSHI]
    return sum((leg.cost + leg.fee for leg in kalshi), Decimal(0))


async def fund_kalshi(r: Rig, amount: Decimal) -> None:
    r.kalshi.balance = amount
    await r.engine.refresh_balances()


def checked_at_release(
    r: Rig, opp: Opportunity, monkeypatch: pytest.MonkeyPatch
) -> list[RiskDecision]:
    """``opp`` checked right after each reservation is released."""
    seen: list[RiskDecision] = []
    release = r.engine.state.release

    def watched(reservation: Reservation, **kwargs: object) -> None:
        release(reservation, **kwargs)  # type: ignore[arg-type]
        seen.append(r.engine.risk.check(opp, r.engine.state.build(datetime.now(UTC))))

    monkeypatch.setattr(r.engine.state, "release", watched)
    return seen


async def test_a_failed_execution_stops_trading_before_its_money_is_freed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The adapter raises once the orders went out (they may be live): the kill switch
    trips before the money the execution held is freed, so the arbitrage waiting for
    that money is refused at that moment, never approved."""
    r = rig(store, 2)
    first, second = await two_arbitrages(r)
    await fund_kalshi(r, kalshi_money(first) + 1)  # one of them, not both
    assert (await r.engine.check(second)).approved

    def broken(order: OrderRequest) -> None:
        raise RuntimeError("adapter bug after sending")

    r.kalshi.on_place = broken
    seen = checked_at_release(r, second, monkeypatch)
    with pytest.raises(RuntimeError):
        await r.engine.execute(first)
    assert [d.code for d in seen] == ["kill_switch"]
    assert not r.engine.control.enabled


async def test_the_daily_one_legged_limit_stops_trading_before_the_release(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EXECUTOR_DAILY_PARTIAL_LIMIT 1: the first execution ends one-legged (hedged); the
    kill switch trips before its reservation is released, so nothing else starts in
    between."""
    r = rig(store, 2, executor_daily_partial_limit=1)
    first, second = await two_arbitrages(r)
    r.poly.script = [KILL]  # the Polymarket leg is killed; the hedge fills
    seen = checked_at_release(r, second, monkeypatch)
    placement = await r.engine.execute(first)
    assert placement.status is ExecutionStatus.HEDGED
    assert [d.code for d in seen] == ["kill_switch"]
    assert "EXECUTOR_DAILY_PARTIAL_LIMIT" in r.engine.control.reason


async def test_order_slots_come_back_when_an_execution_sent_nothing(store: Store) -> None:
    """One order a minute on each venue: an execution whose Polymarket leg is refused
    before sending sends nothing, so the next arbitrage still has its slots."""
    r = rig(store, 2)
    first, second = await two_arbitrages(r)
    for venue in (Venue.KALSHI, Venue.POLYMARKET):
        r.engine.state.set_order_rate(venue, 1, 60.0)
    r.poly.refusing = True
    assert (await r.engine.execute(first)).status is ExecutionStatus.FAILED
    assert r.kalshi.placed == [] and r.poly.placed == []
    r.poly.refusing = False
    assert (await r.engine.check(second)).approved
    assert (await r.engine.execute(second)).status is ExecutionStatus.SUCCESS


async def test_a_hedge_takes_an_order_slot(store: Store) -> None:
    """Kalshi takes two orders a minute: a killed Kalshi leg and its hedge use both, so
    the next arbitrage is refused for the rate instead of sending a third."""
    r = rig(store, 2)
    first, second = await two_arbitrages(r)
    r.engine.state.set_order_rate(Venue.KALSHI, 2, 60.0)
    r.kalshi.script = [KILL]
    assert (await r.engine.execute(first)).status is ExecutionStatus.HEDGED
    assert len(r.kalshi.placed) == 2
    assert (await r.engine.check(second)).code == "order_rate"


async def test_a_hedge_waits_for_a_slot_rather_than_pass_the_rate(store: Store) -> None:
    """One Kalshi order per 0.4 s: the hedge of a killed Kalshi leg leaves once the
    leg's slot is free again, not at once."""
    r = rig(store, 1)
    await ready(r)
    r.arm(r.markets[0])
    (opp,) = await r.engine.scan()
    r.engine.state.set_order_rate(Venue.KALSHI, 1, 0.4)
    r.kalshi.script = [KILL]
    assert (await r.engine.execute(opp)).status is ExecutionStatus.HEDGED
    leg, hedge = r.kalshi.sent_at
    assert hedge - leg >= 0.35, hedge - leg


async def test_a_hedge_spends_only_money_granted_to_it(store: Store) -> None:
    """Two executions at once, Kalshi able to pay both legs and 5 cents more. The
    first one's Kalshi leg is killed and its book moves up: the hedge would cost more
    than the execution holds and the 5 cents free, so it is not sent (which would
    overdraw Kalshi); the filled leg is sold back instead."""
    r = rig(store, 2, executor_hedge_budget_cents=Decimal(10))
    first, second = await two_arbitrages(r, bids=True)
    await fund_kalshi(r, kalshi_money(first) + kalshi_money(second) + Decimal("0.05"))
    m = r.markets[0]

    def kill_and_move(order: OrderRequest) -> None:
        if order.contract == m.k_yes and len(r.kalshi.placed) < 2:
            r.kalshi.script.insert(0, KILL)
            r.kalshi.books[m.k_yes] = book(m.k_yes, "0.47")

    r.kalshi.on_place = kill_and_move
    await r.engine.tick()
    await r.engine.drain()
    executions = {e.event: e for e in await store.executions()}
    assert executions[second.event].status is ExecutionStatus.SUCCESS
    hedged = executions[first.event]
    assert hedged.status is ExecutionStatus.UNWOUND, hedged.note
    assert "no money free" in hedged.note
    assert r.kalshi.overdrafts == [] and r.kalshi.balance >= 0


@pytest.mark.parametrize("moved", [False, True], ids=["hedged-in-its-hold", "no-free-money"])
async def test_an_order_of_unknown_fate_keeps_its_money_held_while_followed(
    store: Store, moved: bool
) -> None:
    """The Kalshi leg's reply never came: while the order is looked up, the money it
    may have spent is not lent to another arbitrage. Found never to have arrived, its
    execution is hedged within what it held; when the book moved and no money is free
    for the difference, the filled leg is sold back instead (no overdraft)."""
    r = rig(store, 2, executor_hedge_budget_cents=Decimal(10))
    first, second = await two_arbitrages(r, bids=True)
    await fund_kalshi(r, kalshi_money(first) + Decimal("0.30"))
    r.engine.unknown.window_s = 0.3
    r.engine.unknown.delay_s = lambda _elapsed: 0.05
    r.kalshi.script = [LOST_NEVER_ARRIVED]
    placement = await r.engine.execute(first)
    assert placement.status is ExecutionStatus.EXPOSED
    assert r.engine.unknown.following == {placement.execution_id}
    assert (await r.engine.check(second)).code == "insufficient_balance"
    m = r.markets[0]
    if moved:
        r.kalshi.books[m.k_yes] = book(m.k_yes, "0.47")
    await until(lambda: not r.engine.unknown.following)
    done = await store.execution(placement.execution_id)
    assert done is not None
    expected = ExecutionStatus.UNWOUND if moved else ExecutionStatus.HEDGED
    assert done.status is expected, done.note
    assert r.kalshi.overdrafts == [] and r.engine.state.holds == {}
