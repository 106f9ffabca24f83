"""Rows for the notify tests, written through the real Store API, and records built
directly for the pure message tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from predarb.control import Control
from predarb.domain import (
    Action,
    ArbKind,
    Contract,
    ExecutionStatus,
    Fill,
    Leg,
    Opportunity,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Venue,
)
from predarb.risk import RiskLimits
from predarb.store import Store
from predarb.store.records import ExecutionRecord, OrderRecord

D = Decimal
NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
K_YES = Contract(Venue.KALSHI, "KXNBAGAME-26NOV22LALBOS-LAL", "yes")
P_NO = Contract(Venue.POLYMARKET, "512345", "No", token_id="7123")


def limits(max_daily_trades: int = 50) -> RiskLimits:
    return RiskLimits(
        min_bet=D("1"),
        max_bet=D("10"),
        min_roi_pct=D("1"),
        max_roi_pct=D("50"),
        max_daily_trades=max_daily_trades,
        max_daily_loss=D("5"),
        min_platform_balance=D("1"),
        max_exposure=D("100"),
        cooldown_s=60,
        max_quote_age_s=5,
        max_depth_fraction=D("0.5"),
    )


async def control(store: Store, max_daily_trades: int = 50, mode: str = "paper") -> Control:
    c = Control(store, limits(max_daily_trades), mode, clock=lambda: NOW)
    await c.load(True)
    return c


def opportunity(event: str, contracts: Decimal = D(5)) -> Opportunity:
    legs = (
        Leg(K_YES, "LAL", D("0.40"), contracts, D("0.40") * contracts, D("0.07")),
        Leg(P_NO, "LAL", D("0.55"), contracts, D("0.55") * contracts, D("0")),
    )
    cost = sum((leg.cost for leg in legs), D(0))
    fees = D("0.07")
    return Opportunity(
        pair_id=f"pair-{event}",
        kind=ArbKind.YES_NO,
        event=event,
        legs=legs,
        contracts=contracts,
        cost=cost,
        fees=fees,
        payout=contracts,
        profit=contracts - cost - fees,
        roi_pct=((contracts - cost - fees) / (cost + fees) * 100).quantize(D("0.01")),
        quote_ts=NOW,
    )


async def execution(
    store: Store,
    ex_id: str,
    event: str,
    *,
    at: datetime = NOW,
    settle: bool = False,
    one_leg: bool = False,
    mode: str = "paper",
) -> None:
    """A two-leg execution of ``mode``, filled (or only its Kalshi leg), optionally
    settled."""
    opp = opportunity(event)
    orders = [
        (OrderRequest(f"{ex_id}-{n}", leg.contract, Action.BUY, leg.price, leg.contracts), "LAL")
        for n, leg in enumerate(opp.legs)
    ]
    await store.create_execution(ex_id, opp, mode, orders, at)
    for n, (req, _) in enumerate(orders):
        leg = opp.legs[n]
        if one_leg and n == 1:
            result = OrderResult(req.client_order_id, OrderStatus.CANCELED)
        else:
            fill = Fill(
                f"f-{req.client_order_id}",
                req.client_order_id,
                leg.contract,
                Action.BUY,
                leg.price,
                leg.contracts,
                leg.fee,
                at,
            )
            result = OrderResult(
                req.client_order_id,
                OrderStatus.FILLED,
                venue_order_id=f"v-{req.client_order_id}",
                filled=leg.contracts,
                avg_price=leg.price,
                fee=leg.fee,
                fills=(fill,),
            )
        await store.record_result(ex_id, result, at)
    status = ExecutionStatus.EXPOSED if one_leg else ExecutionStatus.SUCCESS
    await store.set_status(ex_id, status, at)
    if settle:
        holdings = await store.holdings(ex_id)
        lines = [(h, D(1) if h.venue is Venue.KALSHI else D(0), False) for h in holdings]
        await store.record_settlement(ex_id, lines, "Lakers won", at + timedelta(minutes=5))


def order_record(venue: Venue = Venue.KALSHI, filled: str = "5") -> OrderRecord:
    return OrderRecord(
        client_order_id="c1",
        execution_id="e1",
        role="leg",
        leg_index=0,
        venue=venue,
        market_id="KX<A>&B" if venue is Venue.KALSHI else "512345",
        side="yes" if venue is Venue.KALSHI else "No",
        token_id="",
        world="LAL",
        action="buy",
        tif="fill_or_kill",
        price=D("0.4"),
        contracts=D("5"),
        status=OrderStatus.FILLED if filled != "0" else OrderStatus.CANCELED,
        venue_order_id="v1",
        filled=D(filled),
        avg_price=D("0.4") if filled != "0" else D(0),
        fee=D("0.07"),
        error_code="",
        error="",
        created_at=NOW,
        sent_at=NOW,
    )


def execution_record(
    event: str = "Lakers <vs> Celtics & co 🏀",
    status: ExecutionStatus = ExecutionStatus.SUCCESS,
    orders: tuple[OrderRecord, ...] | None = None,
    realized: Decimal | None = None,
) -> ExecutionRecord:
    return ExecutionRecord(
        id="e1",
        pair_id="p1",
        event=event,
        kind="yes_no",
        mode="paper",
        status=status,
        contracts=D(5),
        expected_cost=D("4.75"),
        expected_fees=D("0.07"),
        expected_profit=D("0.185"),
        roi_pct=D("3.838"),
        created_at=NOW,
        finished_at=NOW,
        unhedged_ms=None,
        settled_at=NOW if realized is not None else None,
        payout=D(5) if realized is not None else None,
        realized_pnl=realized,
        resolution="Lakers won" if realized is not None else "",
        note="",
        orders=orders if orders is not None else (order_record(), order_record(Venue.POLYMARKET)),
    )
