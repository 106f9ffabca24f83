"""The hedge/unwind policy (pure) and the one-legged counters (store-backed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from predarb.config import Settings
from predarb.domain import Action, Contract, ExecutionStatus, Level, OrderBook, OrderStatus, Venue
from predarb.execution.hedging import (
    GiveUp,
    Hedge,
    HedgePolicy,
    LegHolding,
    Unwind,
    balanced,
    plan_hedge,
    plan_unwind,
)
from predarb.execution.limits import after_one_legged
from predarb.execution.partial import leg_holdings, surplus, surplus_note
from predarb.execution.placer import new_client_order_id
from predarb.store import Store
from predarb.store.records import ExecutionRecord, OrderRecord
from tests.core.builders import opportunity

A = Contract(Venue.KALSHI, "KX-A", "yes")
B = Contract(Venue.POLYMARKET, "9", "No", "tok")
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
POLICY = HedgePolicy(max_loss_per_contract=D("0.01"), unwind_steps=3)
POLICY_LOOSE = HedgePolicy(max_loss_per_contract=D("0.10"), unwind_steps=3)


def _book(
    c: Contract,
    asks: Sequence[tuple[str, str]] = (),
    bids: Sequence[tuple[str, str]] = (),
    tick: str = "0.01",
) -> OrderBook:
    return OrderBook(
        c,
        bids=tuple(Level(D(p), D(s)) for p, s in bids),
        asks=tuple(Level(D(p), D(s)) for p, s in asks),
        ts=NOW,
        tick_size=D(tick),
    )


def _legs(a: str, b: str) -> list[LegHolding]:
    return [LegHolding(0, A, "yes", D(a)), LegHolding(1, B, "no", D(b))]


def test_hedge_within_budget_walks_the_book_to_the_worst_level() -> None:
    books = {B: _book(B, asks=[("0.55", "2"), ("0.56", "10")])}
    plan = plan_hedge(_legs("5", "0"), D("2.00"), books, lambda c: None, POLICY)
    assert isinstance(plan, Hedge)
    (order,) = plan.orders
    assert (order.contract, order.action, order.price, order.contracts) == (
        B,
        Action.BUY,
        D("0.56"),
        D(5),
    )
    # A Polymarket FOK BUY spends 5 × 0.56 = 2.80 in full (the 2 @ 0.55 give surplus
    # shares, not change back).
    assert plan.pnl == D(5) - D("2.00") - D("2.80")


def test_a_polymarket_hedge_raises_its_limit_to_whole_cents() -> None:
    # 7 × 0.963 = 6.741 is not whole cents; 7 × 0.97 = 6.79 is, and fits the book.
    books = {B: _book(B, asks=[("0.963", "5"), ("0.97", "50")], tick="0.001")}
    plan = plan_hedge(_legs("7", "0"), D("0.00"), books, lambda c: None, POLICY_LOOSE)
    assert isinstance(plan, Hedge)
    (order,) = plan.orders
    assert (order.price, order.contracts) == (D("0.97"), D(7))
    assert plan.pnl == D(7) - D("6.79")


def test_hedge_refused_past_the_budget() -> None:
    books = {B: _book(B, asks=[("0.62", "10")])}
    plan = plan_hedge(_legs("5", "0"), D("2.00"), books, lambda c: None, POLICY)
    assert isinstance(plan, GiveUp) and "budget" in plan.reason


def test_budget_edge_is_inclusive() -> None:
    # 5 - 2.00 - 5 × 0.61 = -0.05 = exactly one cent a contract lost.
    books = {B: _book(B, asks=[("0.61", "10")])}
    assert isinstance(plan_hedge(_legs("5", "0"), D("2.00"), books, lambda c: None, POLICY), Hedge)


def test_partial_leg_is_hedged_on_its_filled_quantity_only() -> None:
    books = {B: _book(B, asks=[("0.55", "10")])}
    plan = plan_hedge(_legs("3", "0"), D("1.20"), books, lambda c: None, POLICY)
    assert isinstance(plan, Hedge) and plan.orders[0].contracts == D(3)


def test_hedge_needs_depth_and_a_book() -> None:
    thin = {B: _book(B, asks=[("0.55", "2")])}
    assert isinstance(plan_hedge(_legs("5", "0"), D(2), thin, lambda c: None, POLICY), GiveUp)
    assert isinstance(plan_hedge(_legs("5", "0"), D(2), {}, lambda c: None, POLICY), GiveUp)


def test_unwind_ladder_steps_down_a_tick_a_rung_and_stops_at_the_tick() -> None:
    books = {A: _book(A, bids=[("0.38", "3"), ("0.37", "10")])}
    prices = []
    for rung in range(3):
        plan = plan_unwind(_legs("5", "0"), books, rung)
        assert isinstance(plan, Unwind)
        prices.append(plan.orders[0].price)
        assert plan.orders[0].action is Action.SELL and plan.orders[0].contracts == D(5)
    assert prices == [D("0.37"), D("0.36"), D("0.35")]
    low = {A: _book(A, bids=[("0.01", "10")])}
    assert isinstance(plan_unwind(_legs("5", "0"), low, 1), GiveUp)
    assert isinstance(plan_unwind(_legs("5", "0"), {A: _book(A)}, 0), GiveUp)


def test_unwind_sells_only_the_excess_over_the_covered_quantity() -> None:
    books = {B: _book(B, bids=[("0.50", "10")])}
    plan = plan_unwind(_legs("3", "5"), books, 0)
    assert isinstance(plan, Unwind)
    assert [(o.contract, o.contracts) for o in plan.orders] == [(B, D(2))]


async def _one_legged(store: Store, pair_id: str, at: datetime) -> None:
    opp = replace(opportunity(pair_id=pair_id), quote_ts=at)
    ex_id = new_client_order_id()
    await store.create_execution(ex_id, opp, "live", [], at)
    await store.set_status(ex_id, ExecutionStatus.HEDGED, at)


async def test_pair_blocked_after_two_and_kill_switch_after_three(store: Store) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    day = NOW.replace(hour=0)
    await _one_legged(store, "p1", NOW)
    first = await after_one_legged(store, "p1", NOW, day, settings)
    assert first.block_until is None and not first.trip_reason
    await _one_legged(store, "p1", NOW + timedelta(minutes=1))
    second = await after_one_legged(store, "p1", NOW + timedelta(minutes=1), day, settings)
    assert second.block_until == NOW + timedelta(minutes=1, hours=6)
    assert "p1" in await store.pair_blocks(NOW + timedelta(hours=1))  # persisted
    assert not second.trip_reason
    await _one_legged(store, "p2", NOW + timedelta(minutes=2))
    third = await after_one_legged(store, "p2", NOW + timedelta(minutes=2), day, settings)
    assert third.block_until is None
    assert "EXECUTOR_DAILY_PARTIAL_LIMIT" in third.trip_reason
    # The window slides: old results no longer block the pair.
    later = NOW + timedelta(hours=7)
    assert await store.one_legged_count(later - timedelta(hours=6), "p1") == 0


def _order(
    leg: int, c: Contract, role: str, action: str, asked: str, filled: str, price: str = "0.5"
) -> OrderRecord:
    return OrderRecord(
        *(new_client_order_id(), "ex", role, leg, c.venue, c.market_id, c.side, c.token_id),
        *("yes" if leg == 0 else "no", action, "FOK", D(price), D(asked), OrderStatus.FILLED),
        *("", D(filled), D(price), D(0), "", "", NOW, NOW),
    )


def _execution(*orders: OrderRecord) -> ExecutionRecord:
    return ExecutionRecord(
        *("ex", "pair", "event", "yes_no", "live", ExecutionStatus.PARTIAL, D(5)),
        *(D(0), D(0), D(0), D(0), NOW, None, None, None, None, None, "", ""),
        orders=orders,
    )


def test_surplus_shares_are_held_but_not_counted_towards_the_cover() -> None:
    """A Polymarket BUY of 5 that met better prices holds 5.181818: the extra 0.181818
    is recorded as surplus, the leg covers 5, and the execution is balanced."""
    ex = _execution(
        _order(0, A, "leg", "buy", "5", "5"),
        _order(1, B, "leg", "buy", "5", "5.181818", "0.530702"),
    )
    assert [surplus(o) for o in ex.orders] == [D(0), D("0.181818")]
    assert [leg.held for leg in leg_holdings(ex)] == [D(5), D(5)]
    assert balanced(leg_holdings(ex))
    assert surplus_note(ex) == (
        f"surplus shares from better prices: 0.181818 of {B.key} (kept, not covered)"
    )


def test_surplus_of_several_orders_adds_up_and_sells_have_none() -> None:
    """The leg and its hedge both got surplus shares of B; a SELL that sold more than it
    asked (impossible on the venue) is never counted as surplus."""
    ex = _execution(
        _order(0, A, "leg", "buy", "5", "5"),
        _order(1, B, "leg", "buy", "3", "3.1"),
        _order(1, B, "hedge", "buy", "2", "2.05"),
        _order(0, A, "unwind", "sell", "1", "0"),
    )
    assert surplus(ex.orders[3]) == D(0)
    assert [leg.held for leg in leg_holdings(ex)] == [D(5), D(5)]
    assert "0.15 of " + B.key in surplus_note(ex)
    assert surplus_note(_execution(_order(0, A, "leg", "buy", "5", "5"))) == ""


def test_a_hedge_from_a_surplus_fill_completes_only_the_covered_quantity() -> None:
    """The Polymarket leg holds 5.181818 for 5 asked, the Kalshi leg 3: the hedge buys 2
    on Kalshi (not 2.181818: the surplus is no missing leg) and nothing of B."""
    ex = _execution(
        _order(0, A, "leg", "buy", "5", "3", "0.40"),
        _order(1, B, "leg", "buy", "5", "5.181818", "0.530702"),
    )
    legs = leg_holdings(ex)
    assert [leg.held for leg in legs] == [D(3), D(5)]
    books = {A: _book(A, asks=[("0.45", "20")]), B: _book(B, asks=[("0.55", "20")])}
    plan = plan_hedge(legs, D("3.95"), books, lambda c: None, POLICY_LOOSE)
    assert isinstance(plan, Hedge)
    assert [(o.contract, o.action, o.contracts) for o in plan.orders] == [(A, Action.BUY, D(2))]
    unwind = plan_unwind(legs, {B: _book(B, bids=[("0.50", "20")])}, 0)
    assert isinstance(unwind, Unwind)  # selling back: the excess over the cover only
    assert [(o.contract, o.contracts) for o in unwind.orders] == [(B, D(2))]
