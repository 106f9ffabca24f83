"""Proxy and Safe wallets (signature types 1 and 2): redemptions through a fake of
Polymarket's gasless relayer that checks the signatures as the relayer does and runs the
call on the real EVM from the wallet. The wallet's pUSD rises by exactly the payout, and
the signer spends no POL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from predarb.capital.chain import Chain
from predarb.capital.redeemer import Redeemer
from predarb.capital.relayer import RelayerRoute
from predarb.store import Store
from predarb.store.redemptions import RedemptionStatus
from tests.capital.evm import BOT_KEY, USD, Node, World
from tests.capital.helpers import GAS, NOW, Alerts, Lookup, record_buys
from tests.fakes.relayer_server import FakeRelayer

API_KEY, KEY_ADDRESS = "relayer-key-1", "0x" + "ab" * 20


@pytest.fixture
async def relayer(node: Node, world: World) -> AsyncIterator[FakeRelayer]:
    fake = FakeRelayer(
        node, api_key=API_KEY, key_address=KEY_ADDRESS, chain_id=node.w3.eth.chain_id
    )
    fake.wallets[world.bot.lower()] = node.w3.eth.accounts[3]
    await fake.start()
    yield fake
    await fake.stop()


async def _run(
    world: World, node: Node, url: str, store: Store, fake: FakeRelayer, kind: str, runs: int = 5
) -> None:
    wallet = fake.wallets[world.bot.lower()]
    chain = Chain(url, BOT_KEY, world.addresses, GAS, holder=wallet)
    route = RelayerRoute(
        chain, BOT_KEY, kind, fake.url, API_KEY, KEY_ADDRESS, chain_id=node.w3.eth.chain_id
    )
    lookup = Lookup()
    for m in world.markets_made:
        lookup.add(m)
    r = Redeemer(store, chain, route, lookup, Alerts(), lambda: NOW, confirmations=1)
    try:
        for _ in range(runs):
            await r.run_once()
            node.mine()
    finally:
        await route.close()
        await chain.close()


@pytest.mark.parametrize("kind", ["PROXY", "SAFE"])
async def test_a_wallet_redeems_gasless_through_the_relayer(
    node: Node, world: World, url: str, store: Store, relayer: FakeRelayer, kind: str
) -> None:
    wallet = relayer.wallets[world.bot.lower()]
    m = world.market(neg_risk=kind == "SAFE")
    world.buy_both(m, 9)
    world.drop(m, 1, 9)
    world.give(m, 0, 9, wallet)  # the wallet holds 9 YES
    await record_buys(store, "e1", m, [(0, 9)])
    world.resolve(m, (1, 0))
    before, pol = world.pusd_of(wallet), node.w3.eth.get_balance(world.bot)

    await _run(world, node, url, store, relayer, kind)

    assert relayer.refusals == []
    assert world.pusd_of(wallet) - before == 9 * USD
    assert node.w3.eth.get_balance(world.bot) == pol  # gasless for the signer
    rows = await store.redemptions()
    assert [(r.kind, r.route, r.status) for r in rows] == [
        ("approve", kind.lower(), RedemptionStatus.CONFIRMED),
        ("redeem", kind.lower(), RedemptionStatus.CONFIRMED),
    ]
    assert rows[1].relayer_id and rows[1].tx_hash and rows[1].received == 9
    assert relayer.submits == 2


async def test_a_submit_whose_reply_was_lost_is_found_not_resent(
    node: Node, world: World, url: str, store: Store, relayer: FakeRelayer
) -> None:
    wallet = relayer.wallets[world.bot.lower()]
    m = world.market()
    world.buy_both(m, 4)
    world.drop(m, 1, 4)
    world.give(m, 0, 4, wallet)
    await record_buys(store, "e1", m, [(0, 4)])
    world.resolve(m, (1, 0))
    relayer.lose_replies = 2  # the approval's reply and the redemption's are lost
    before = world.pusd_of(wallet)

    await _run(world, node, url, store, relayer, "SAFE", runs=6)

    assert world.pusd_of(wallet) - before == 4 * USD
    assert relayer.submits == 2  # each taken once, never sent again
    assert [r.status for r in await store.redemptions()] == [RedemptionStatus.CONFIRMED] * 2
