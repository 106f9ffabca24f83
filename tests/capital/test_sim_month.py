"""A simulated month with redemptions on: Kalshi pays out by itself, Polymarket only once
redeemed (by the simulator's returner, as the bot's job does on chain). The free
balances end accounting for every payout, and no order is ever refused for a balance a
redemption would have restored (without the returner, Polymarket runs dry)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.domain import Action, Contract, OrderRequest, OrderStatus, TimeInForce, Venue
from predarb.store import Store
from predarb.store.redemptions import RedemptionStatus
from predarb.venues.sim import SimVenue, SimWorld
from tests.capital.helpers import Alerts, open_store

START_BALANCE = Decimal(30)
HOURS = 30 * 24
SHARES = Decimal(5)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path)
    yield s
    await s.close()


SIM_VENUES = (Venue.KALSHI, Venue.POLYMARKET)  # the venues the simulator lists


@dataclass
class Month:
    spent: dict[Venue, Decimal] = field(default_factory=lambda: {v: Decimal(0) for v in SIM_VENUES})
    bought: list[tuple[Contract, Decimal]] = field(default_factory=list)
    refused: dict[Venue, int] = field(default_factory=lambda: {v: 0 for v in SIM_VENUES})


async def _month(store: Store, *, redeem: bool) -> tuple[Month, dict[Venue, SimVenue], SimWorld]:
    world = SimWorld(5, resolve_after_s=36 * 3600, step_s=3600, respawn=True)
    venues = {v: SimVenue(world, v, balance=START_BALANCE) for v in SIM_VENUES}
    returner = venues[Venue.POLYMARKET].returner(store, Alerts(), world.now)
    assert (
        returner is not None and venues[Venue.KALSHI].returner(store, Alerts(), world.now) is None
    )
    month, n = Month(), 0
    for hour in range(HOURS):
        world.step()
        if redeem:
            await returner.run_once()
        if hour % 8:
            continue
        for venue, client in venues.items():
            markets = await client.list_markets()
            if not markets:
                continue
            contract = markets[hour % len(markets)].contracts[0]
            book = await client.get_order_book(contract)
            if book is None or not book.asks:
                continue
            n += 1
            best = book.asks[0]
            order = OrderRequest(
                f"o{n}", contract, Action.BUY, best.price, min(SHARES, best.size), TimeInForce.IOC
            )
            result = await client.place_order(order)
            if result.error_code == "insufficient_balance":
                month.refused[venue] += 1
            elif result.status in (OrderStatus.FILLED, OrderStatus.PARTIAL):
                month.spent[venue] += result.avg_price * result.filled + result.fee
                month.bought.append((contract, result.filled))
    if redeem:
        await returner.run_once()
    return month, venues, world


async def test_a_month_of_redemptions_accounts_for_every_payout(store: Store) -> None:
    month, venues, world = await _month(store, redeem=True)

    assert month.refused == {Venue.KALSHI: 0, Venue.POLYMARKET: 0}
    assert len(month.bought) > 100
    for venue, client in venues.items():
        paid = Decimal(0)
        for contract, n in month.bought:
            res = world.resolution(venue, contract.market_id)
            if contract.venue is venue and res is not None:
                paid += res.payout(contract) * n
        assert await client.get_balance() == START_BALANCE - month.spent[venue] + paid, venue
    rows = await store.redemptions()
    assert rows and all(r.status is RedemptionStatus.CONFIRMED for r in rows)
    won = sum((r.received or Decimal(0) for r in rows), Decimal(0))
    assert won > START_BALANCE  # more came back than the wallet ever held


async def test_without_redemption_polymarket_runs_dry(store: Store) -> None:
    month, venues, _ = await _month(store, redeem=False)
    assert month.refused[Venue.KALSHI] == 0
    assert month.refused[Venue.POLYMARKET] > 0
    assert await venues[Venue.POLYMARKET].get_balance() < 5
