"""Redemption and merge against a real EVM: py-evm through eth-tester, the real
ConditionalTokens contract from its published artifact, a test pUSD and stand-in
collateral adapters. Balances are checked to the base unit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from predarb.capital.redeemer import Redeemer
from predarb.store import Store
from predarb.store.redemptions import RedemptionStatus
from tests.capital.evm import USD, Node, World
from tests.capital.helpers import Alerts, Lookup, record_buys, redeemer


async def settle_chain(r: Redeemer, node: Node, runs: int = 6) -> None:
    """Runs the job as the schedule would, a block passing between runs."""
    try:
        for _ in range(runs):
            await r.run_once()
            node.mine()
    finally:
        await r.chain.close()


@pytest.mark.parametrize("neg_risk", [False, True], ids=["binary", "neg_risk"])
async def test_a_resolved_position_is_redeemed_for_exactly_its_payout(
    node: Node, world: World, url: str, store: Store, neg_risk: bool
) -> None:
    m = world.market(neg_risk=neg_risk)
    world.buy_both(m, 10)
    world.drop(m, 1, 4)  # holds 10 YES and 6 NO
    await record_buys(store, "e1", m, [(0, 10), (1, 6)])
    world.resolve(m, (1, 0))
    lookup, alerts, refreshed = Lookup(), Alerts(), []
    lookup.add(m)
    before = world.pusd_of(world.bot)

    await settle_chain(redeemer(store, url, world, lookup, alerts, refreshed), node)

    assert world.pusd_of(world.bot) - before == 10 * USD
    assert (world.position(m, 0), world.position(m, 1)) == (0, 0)
    rows = [r for r in await store.redemptions() if r.kind == "redeem"]
    assert [(r.status, r.received, r.expected) for r in rows] == [
        (RedemptionStatus.CONFIRMED, Decimal("10.000000"), Decimal("10.000000"))
    ]
    assert rows[0].gas_used and rows[0].gas_used > 0
    approvals = [r for r in await store.redemptions() if r.kind == "approve"]
    adapter = world.neg_risk_adapter if neg_risk else world.adapter
    assert [(r.condition_id, r.status) for r in approvals] == [
        (adapter.address, RedemptionStatus.CONFIRMED)
    ]
    assert refreshed == [rows[0].tokens]
    money = [a.plain for a in alerts.sent if "MONEY BACK" in a.plain]
    assert len(money) == 1 and "$10.00" in money[0]


async def test_a_split_payout_pays_each_side_its_share(
    node: Node, world: World, url: str, store: Store
) -> None:
    m = world.market()
    world.buy_both(m, 8)
    world.drop(m, 0, 3)  # 5 YES, 8 NO
    await record_buys(store, "e1", m, [(0, 5), (1, 8)])
    world.resolve(m, (1, 1))  # a 50/50
    lookup = Lookup()
    lookup.add(m)
    before = world.pusd_of(world.bot)
    await settle_chain(redeemer(store, url, world, lookup, Alerts()), node)
    assert world.pusd_of(world.bot) - before == (5 * USD + 8 * USD) // 2


async def test_yes_and_no_held_together_are_merged_before_resolution(
    node: Node, world: World, url: str, store: Store
) -> None:
    m = world.market()
    world.buy_both(m, 7)
    world.drop(m, 0, 2)  # 5 YES, 7 NO: 5 pairs
    await record_buys(store, "e1", m, [(0, 5), (1, 7)])
    lookup, alerts = Lookup(), Alerts()
    lookup.add(m)
    before = world.pusd_of(world.bot)

    await settle_chain(redeemer(store, url, world, lookup, alerts), node)

    assert world.pusd_of(world.bot) - before == 5 * USD
    assert (world.position(m, 0), world.position(m, 1)) == (0, 2 * USD)
    merges = [r for r in await store.redemptions() if r.kind == "merge"]
    assert [(r.status, r.amount_units, r.received) for r in merges] == [
        (RedemptionStatus.CONFIRMED, 5 * USD, Decimal("5.000000"))
    ]
    # The 2 NO left are redeemed (and pay) once the market resolves NO.
    world.resolve(m, (0, 1))
    await settle_chain(redeemer(store, url, world, lookup, alerts), node)
    assert world.pusd_of(world.bot) - before == 7 * USD


async def test_nothing_is_sent_for_losers_unresolved_singles_or_twice(
    node: Node, world: World, url: str, store: Store
) -> None:
    lost, open_single = world.market(), world.market()
    for m in (lost, open_single):
        world.buy_both(m, 3)
        world.drop(m, 1, 3)  # YES only
    await record_buys(store, "e1", lost, [(0, 3)])
    await record_buys(store, "e2", open_single, [(0, 3)])
    world.resolve(lost, (0, 1))  # YES lost
    lookup = Lookup()
    lookup.add(lost)
    lookup.add(open_single)
    r = redeemer(store, url, world, lookup, Alerts())
    await settle_chain(r, node)
    assert [x.kind for x in await store.redemptions()] == []
    sends = node.raw_sends
    await settle_chain(r, node)
    assert node.raw_sends == sends


async def test_a_mined_redemption_counts_only_when_deep_enough(
    node: Node, world: World, url: str, store: Store
) -> None:
    m = world.market()
    world.buy_both(m, 4)
    world.drop(m, 1, 4)
    await record_buys(store, "e1", m, [(0, 4)])
    world.resolve(m, (1, 0))
    lookup, alerts = Lookup(), Alerts()
    lookup.add(m)
    r = redeemer(store, url, world, lookup, alerts, confirmations=4)
    await settle_chain(r, node, runs=3)  # approval confirmed, redemption sent and mined
    row = next(x for x in await store.redemptions() if x.kind == "redeem")
    assert row.status is RedemptionStatus.MINED
    assert not [a for a in alerts.sent if "MONEY BACK" in a.plain]
    await settle_chain(r, node, runs=4)
    row = next(x for x in await store.redemptions() if x.kind == "redeem")
    assert row.status is RedemptionStatus.CONFIRMED
