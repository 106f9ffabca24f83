"""The bot's side of the redemption tests: Polymarket fills in a real Store, a
condition lookup as the Polymarket adapter gives it, and a recorder of alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from predarb.capital.chain import Chain, GasPolicy
from predarb.capital.redeemer import Condition, Redeemer
from predarb.capital.routes import EoaRoute
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
from predarb.notify.base import Alert
from predarb.store import Store
from tests.capital.evm import BOT_KEY, Market, World

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GAS = GasPolicy(priority_gwei=Decimal(1), max_fee_gwei=Decimal(100))


class Lookup:
    """token id -> its condition, as the Polymarket adapter answers."""

    def __init__(self) -> None:
        self.by_token: dict[str, Condition] = {}

    def add(self, market: Market) -> None:
        tokens = (str(market.tokens[0]), str(market.tokens[1]))
        cond = Condition(market.condition_id, market.neg_risk, tokens)
        for t in tokens:
            self.by_token[t] = cond

    async def condition_of(self, token_id: str) -> Condition:
        return self.by_token[token_id]


class Alerts:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    async def __call__(self, alert: Alert) -> None:
        self.sent.append(alert)


async def record_buys(
    store: Store,
    ex_id: str,
    market: Market,
    shares: Sequence[tuple[int, int]],
    *,
    mode: str = "live",
) -> None:
    """A ``mode`` execution that bought ``(outcome, shares)`` of ``market`` on Polymarket."""
    legs = []
    for outcome, n in shares:
        contract = Contract(
            Venue.POLYMARKET,
            f"m-{market.condition_id[2:8]}",
            ("Yes", "No")[outcome],
            token_id=str(market.tokens[outcome]),
        )
        legs.append(
            Leg(contract, contract.side, Decimal("0.5"), Decimal(n), Decimal(n) / 2, Decimal(0))
        )
    cost = sum((leg.cost for leg in legs), Decimal(0))
    opp = Opportunity(
        pair_id=f"pair-{ex_id}",
        kind=ArbKind.SAME_VENUE,
        event=f"event {ex_id}",
        legs=tuple(legs),
        contracts=legs[0].contracts,
        cost=cost,
        fees=Decimal(0),
        payout=legs[0].contracts,
        profit=Decimal(0),
        roi_pct=Decimal(0),
        quote_ts=NOW,
    )
    orders = [
        (OrderRequest(f"{ex_id}-{i}", leg.contract, Action.BUY, leg.price, leg.contracts), "w")
        for i, leg in enumerate(legs)
    ]
    await store.create_execution(ex_id, opp, mode, orders, NOW)
    for (req, _), leg in zip(orders, legs, strict=True):
        fill = Fill(
            f"f-{req.client_order_id}",
            req.client_order_id,
            leg.contract,
            Action.BUY,
            leg.price,
            leg.contracts,
            Decimal(0),
            NOW,
        )
        await store.record_result(
            ex_id,
            OrderResult(
                req.client_order_id,
                OrderStatus.FILLED,
                venue_order_id="v",
                filled=leg.contracts,
                avg_price=leg.price,
                fills=(fill,),
            ),
            NOW,
        )
    await store.set_status(ex_id, ExecutionStatus.SUCCESS, NOW)


def redeemer(
    store: Store,
    url: str,
    world: World,
    lookup: Lookup,
    alerts: Alerts,
    refreshed: list[tuple[str, ...]] | None = None,
    confirmations: int = 2,
) -> Redeemer:
    chain = Chain(url, BOT_KEY, world.addresses, GAS)

    async def refresh(tokens: Sequence[str]) -> None:
        if refreshed is not None:
            refreshed.append(tuple(tokens))

    return Redeemer(
        store,
        chain,
        EoaRoute(chain),
        lookup,
        alerts,
        lambda: NOW,
        confirmations=confirmations,
        refresh=refresh,
    )


async def open_store(tmp_path: Path) -> Store:
    return await Store.open(tmp_path / "bot.sqlite3")
