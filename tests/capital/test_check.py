"""``check-config`` proves the Polygon endpoint (its chain) and the wallet's POL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from predarb.capital.check import check_polygon
from predarb.config import load_settings
from tests.capital.evm import BOT_KEY, Node, World, serve


@pytest.fixture
def node() -> Node:
    n = Node()
    World(n)  # funds the bot's wallet with 1 POL
    return n


@pytest.fixture
def url(node: Node) -> Iterator[str]:
    with serve(node) as u:
        yield u


async def test_the_endpoint_and_the_pol_balance_are_proven(node: Node, url: str) -> None:
    settings = load_settings(
        poly_private_key=BOT_KEY, poly_rpc_url=url, poly_chain_id=node.w3.eth.chain_id
    )
    level, text = await check_polygon(settings)
    assert level == "OK", text
    assert "has 1.0000 POL" in text and "redemptions at" in text


async def test_an_endpoint_of_another_chain_fails_naming_the_variable(url: str) -> None:
    level, text = await check_polygon(load_settings(poly_private_key=BOT_KEY, poly_rpc_url=url))
    assert level == "FAIL" and text.startswith("POLY_CHAIN_ID:") and "not POLY_CHAIN_ID 137" in text


async def test_an_unreachable_endpoint_fails_naming_the_variable() -> None:
    settings = load_settings(poly_private_key=BOT_KEY, poly_rpc_url="http://127.0.0.1:9")
    level, text = await check_polygon(settings)
    assert level == "FAIL" and text.startswith("POLY_RPC_URL:")


async def test_without_an_endpoint_it_warns_that_money_stays_locked() -> None:
    level, text = await check_polygon(load_settings(poly_private_key=BOT_KEY))
    assert level == "WARN" and "POLY_RPC_URL" in text and "locked" in text


async def test_an_empty_wallet_is_told_to_top_up(node: Node, url: str) -> None:
    settings = load_settings(
        poly_private_key="0x" + "c1" * 32, poly_rpc_url=url, poly_chain_id=node.w3.eth.chain_id
    )
    level, text = await check_polygon(settings)
    assert level == "WARN" and "has 0.0000 POL" in text and "top it up" in text
