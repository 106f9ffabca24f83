"""Executions with timed legs, fill prices away from the priced ones, and hedge or
unwind orders, written through the real Store API (for the quality and report tests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from predarb.domain import (
    Action,
    ArbKind,
    ExecutionStatus,
    Fill,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Venue,
)
from predarb.store import Store
from tests.notify.seed import NOW, opportunity

D = Decimal


async def _answer(
    store: Store,
    ex_id: str,
    req: OrderRequest,
    at: datetime,
    filled: Decimal,
    price: Decimal,
    fee: Decimal,
) -> None:
    fills = ()
    if filled > 0:
        fills = (
            Fill(
                f"f-{req.client_order_id}",
                req.client_order_id,
                req.contract,
                req.action,
                price,
                filled,
                fee,
                at,
            ),
        )
    status = OrderStatus.FILLED if filled > 0 else OrderStatus.CANCELED
    await store.record_result(
        ex_id,
        OrderResult(
            req.client_order_id,
            status,
            filled=filled,
            avg_price=price if filled else D(0),
            fee=fee if filled else D(0),
            fills=fills,
        ),
        at,
    )


async def timed_execution(
    store: Store,
    ex_id: str,
    event: str,
    *,
    at: datetime = NOW,
    latencies_ms: Sequence[int] = (120, 340),
    fill_prices: Sequence[str] = ("0.41", "0.55"),
    one_leg: str = "",  # "", "unwound" or "hedged": the second leg did not fill
    hedge_fill: str = "0.57",  # the hedge's limit is 0.57
    settle: bool = False,
    pair_id: str | None = None,
    kind: str = "",
) -> None:
    """Two legs of 5 contracts priced 0.40 and 0.55, sent at ``at``, answered after
    ``latencies_ms``, filled at ``fill_prices``."""
    opp = opportunity(event)
    if pair_id is not None:
        opp = replace(opp, pair_id=pair_id)
    if kind:
        opp = replace(opp, kind=ArbKind(kind))
    reqs = [
        OrderRequest(f"{ex_id}-{n}", leg.contract, Action.BUY, leg.price, leg.contracts)
        for n, leg in enumerate(opp.legs)
    ]
    await store.create_execution(ex_id, opp, "paper", [(r, "LAL") for r in reqs], at)
    await store.mark_sent([r.client_order_id for r in reqs], at)
    for n, req in enumerate(reqs):
        when = at + timedelta(milliseconds=latencies_ms[n])
        filled = D(0) if one_leg and n == 1 else req.contracts
        await _answer(store, ex_id, req, when, filled, D(fill_prices[n]), opp.legs[n].fee)
    status = ExecutionStatus.SUCCESS
    done = at + timedelta(seconds=1)
    if one_leg == "unwound":
        sell = OrderRequest(f"{ex_id}-u", reqs[0].contract, Action.SELL, D("0.38"), D(5))
        await store.add_order(ex_id, sell, "unwind", 0, "LAL", done)
        await store.mark_sent([sell.client_order_id], done)
        await _answer(store, ex_id, sell, done, D(5), D("0.38"), D("0.02"))
        status = ExecutionStatus.UNWOUND
    elif one_leg == "hedged":
        buy = OrderRequest(f"{ex_id}-h", reqs[1].contract, Action.BUY, D("0.57"), D(5))
        await store.add_order(ex_id, buy, "hedge", 1, "LAL", done)
        await store.mark_sent([buy.client_order_id], done)
        await _answer(store, ex_id, buy, done, D(5), D(hedge_fill), D("0.01"))
        status = ExecutionStatus.HEDGED
    await store.set_status(ex_id, status, done, unhedged_ms=900 if one_leg else None)
    if settle:
        holdings = await store.holdings(ex_id)
        lines = [(h, D(1) if h.venue is Venue.KALSHI else D(0), False) for h in holdings]
        await store.record_settlement(ex_id, lines, "Lakers won", at + timedelta(minutes=5))
