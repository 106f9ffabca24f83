"""The fake accepts what the official py-clob-client-v2 sends and refuses a wrong
signer: proof that it checks what Polymarket checks."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from py_clob_client_v2 import ApiCreds, ClobClient, MarketOrderArgs, OrderArgs, OrderType
from py_clob_client_v2.clob_types import PostOrdersV2Args
from py_clob_client_v2.exceptions import PolyApiException

from tests.fakes.polymarket_server import FakePolymarket
from tests.venues.polymarket.conftest import KEY, OTHER_KEY, Env


def official(env: Env, key: str) -> ClobClient:
    k, s, p = env.creds
    return ClobClient(host=env.fake.clob_url, chain_id=137, key=key, creds=ApiCreds(k, s, p))


async def test_official_order_accepted(env: Env) -> None:
    client = official(env, KEY)
    args = OrderArgs(token_id=env.yes, price=0.46, size=20.0, side="BUY")
    reply = await asyncio.to_thread(client.create_and_post_order, args, None, OrderType.FOK)
    assert reply["success"] is True and reply["status"] == "matched"
    # 9.20 pUSD spent in full: 10 @ 0.45 and 10.217391 @ 0.46 (surplus for the taker).
    assert reply["takingAmount"] == "20217391" and reply["makingAmount"] == "9200000"
    assert reply["transactionsHashes"]  # resolved from /data/trades, no 30 s poll
    assert env.fake.signer_failures == 0 and env.fake.auth_failures == 0
    order = await asyncio.to_thread(client.get_order, reply["orderID"])
    assert order["status"] == "MATCHED" and order["size_matched"] == "20.217391"


async def test_official_market_order_accepted(env: Env) -> None:
    """create_market_order: 4.50 pUSD at up to 0.45 (maker 2 decimals, taker 10)."""
    client = official(env, KEY)
    args = MarketOrderArgs(token_id=env.yes, amount=4.5, side="BUY", price=0.45)
    reply = await asyncio.to_thread(client.create_and_post_market_order, args)
    assert reply["success"] is True and reply["status"] == "matched"
    assert (reply["makingAmount"], reply["takingAmount"]) == ("4500000", "10000000")


async def test_official_market_order_on_a_fine_tick_refused_as_the_venue_does(
    fake: FakePolymarket, env: Env
) -> None:
    """The SDK's builder gives a 0.001-tick market BUY a 5-decimal taker amount
    (9.98 / 0.985 = 10.13197), which the live CLOB refuses (py-clob-client-v2 #99)."""
    fine = fake.add_market("503", tick="0.001", fee_rate="0")
    fake.set_book(fine.tokens["Yes"], asks=[("0.985", "100")])
    client = official(env, KEY)
    args = MarketOrderArgs(token_id=fine.tokens["Yes"], amount=9.98, side="BUY", price=0.985)
    with pytest.raises(PolyApiException) as info:
        await asyncio.to_thread(client.create_and_post_market_order, args)
    assert info.value.status_code == 400
    assert info.value.error_msg == {
        "error": "invalid amounts, the market buy orders maker amount supports a max "
        "accuracy of 2 decimals, taker amount a max of 4 decimals"
    }


async def test_official_order_with_wrong_signer_refused(env: Env) -> None:
    """A wallet that is not the API key's: refused with the documented 400."""
    client = official(env, OTHER_KEY)
    args = OrderArgs(token_id=env.yes, price=0.46, size=20.0, side="BUY")
    with pytest.raises(PolyApiException) as info:
        await asyncio.to_thread(client.create_and_post_order, args, None, OrderType.FOK)
    assert info.value.status_code in (400, 401)
    assert env.fake.signer_failures + env.fake.auth_failures >= 1
    assert env.fake.orders == {}


async def test_forged_signature_refused(env: Env) -> None:
    """Right signer field, signature by another key: the recovered signer differs."""
    good, evil = official(env, KEY), official(env, OTHER_KEY)
    args = OrderArgs(token_id=env.yes, price=0.46, size=20.0, side="BUY")
    order = await asyncio.to_thread(good.create_order, args)
    forged = await asyncio.to_thread(evil.create_order, args)
    tampered = dataclasses.replace(order, signature=forged.signature)
    with pytest.raises(PolyApiException) as info:
        await asyncio.to_thread(good.post_order, tampered, OrderType.FOK)
    assert info.value.status_code == 400 and "signature" in str(info.value.error_msg)
    assert env.fake.signer_failures == 1 and env.fake.orders == {}


async def test_official_l1_derive(fake: FakePolymarket) -> None:
    client = ClobClient(host=fake.clob_url, chain_id=137, key=KEY)
    creds = await asyncio.to_thread(client.create_or_derive_api_key)
    assert (creds.api_key, creds.api_secret, creds.api_passphrase) == fake.register_wallet(
        client.get_address()
    )


async def test_official_batch_accepted(env: Env) -> None:
    """``post_orders``: the official client's batch of two FOK orders is one
    ``POST /orders`` answered per order in the array."""
    client = official(env, KEY)
    yes = await asyncio.to_thread(
        client.create_order, OrderArgs(token_id=env.yes, price=0.45, size=10.0, side="BUY")
    )
    no = await asyncio.to_thread(
        client.create_order, OrderArgs(token_id=env.no, price=0.56, size=10.0, side="BUY")
    )
    batch = [PostOrdersV2Args(order=o, orderType=OrderType.FOK) for o in (yes, no)]
    replies = await asyncio.to_thread(client.post_orders, batch)
    assert [(r["success"], r["status"]) for r in replies] == [(True, "matched")] * 2
    assert env.fake.batches == [2] and env.fake.signer_failures == 0


async def test_official_v3_orders_with_a_position_id_accepted(
    fake: FakePolymarket, env: Env
) -> None:
    """A protocol-V2 market: the official client given ``position_id`` signs for
    ExchangeV3 (domain "3"); the fake recovers the signer under that domain and fills
    the limit and the market order alike."""
    v2 = fake.add_market("904", version="v2", fee_rate="0")
    position = v2.tokens["Yes"]
    fake.set_book(position, asks=[("0.40", "50")])
    client = official(env, KEY)
    limit = OrderArgs(position_id=position, price=0.40, size=10.0, side="BUY")
    reply = await asyncio.to_thread(client.create_and_post_order, limit, None, OrderType.FOK)
    assert reply["success"] is True and reply["status"] == "matched"
    market = MarketOrderArgs(position_id=position, amount=2.0, side="BUY", price=0.40)
    second = await asyncio.to_thread(client.create_and_post_market_order, market)
    assert second["success"] is True and second["status"] == "matched"
    assert (second["makingAmount"], second["takingAmount"]) == ("2000000", "5000000")
    assert fake.signer_failures == 0
    assert fake.wallet(client.get_address()).positions[position] == 15
