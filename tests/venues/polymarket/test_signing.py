"""Golden signatures: an upgrade of py-clob-client-v2 that changes what is signed fails
here, before it can reach the venue."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2, Side
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2

from predarb.venues.polymarket.auth import ApiCredentials, hmac_signature, l2_headers
from predarb.venues.polymarket.signing import OrderBuildError, OrderSigner, order_amounts
from tests.fakes.polymarket_server import EXCHANGE, recover_order
from tests.venues.polymarket.conftest import ADDRESS, KEY

TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
GOLDEN = {
    False: (
        "0x453a5b81f7c172eee1174d2b75445e5b3f21d4b080ba22c97a9ae420998c9d91",
        "0xc67e3be3c99a9eb03659d55dbf40b6e742b38964961c22b6cf97e5118851b390"
        "3bc8a7d263cfad167eb0e2485707bd574bd86920977d3a335a8b7eb85ebe4d311c",
    ),
    True: (
        "0xc9a5f89eb566d41bcbf10a8a7eb10353c8bf343df43b34b47612742351f8aa7a",
        "0x735d99b2e0356546237f2795c0571a855448cd7a5af9630d946f7c840c16977"
        "979cbb4c49236d01eacc882a20942f22052a8dc9430d5ee75b2f7dfecd7f387ee1c",
    ),
}


@pytest.fixture(scope="module")
def signer() -> OrderSigner:
    return OrderSigner(KEY)


@pytest.mark.parametrize("neg_risk", [False, True])
def test_golden_signature(signer: OrderSigner, neg_risk: bool) -> None:
    signed = signer.sign(
        TOKEN,
        "BUY",
        D("0.52"),
        D("100"),
        tick_size=D("0.01"),
        neg_risk=neg_risk,
        salt=1234567890,
        timestamp_ms=1735689600000,
    )
    assert signer.address == ADDRESS == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
    assert (signed.order_hash, signed.order["signature"]) == GOLDEN[neg_risk]
    assert signed.order == {
        "salt": 1234567890,
        "maker": ADDRESS,
        "signer": ADDRESS,
        "tokenId": TOKEN,
        "makerAmount": "52000000",
        "takerAmount": "100000000",
        "side": "BUY",
        "expiration": "0",
        "signatureType": 0,
        "timestamp": "1735689600000",
        "metadata": "0x" + "0" * 64,
        "builder": "0x" + "0" * 64,
        "signature": GOLDEN[neg_risk][1],
    }
    # An independent EIP-712 encoding (the fake's) recovers the wallet and the hash.
    assert recover_order(signed.order, neg_risk) == (ADDRESS, signed.order_hash)
    # Against the wrong exchange the signature recovers someone else.
    assert recover_order(signed.order, not neg_risk)[0] != ADDRESS


def test_same_as_library_builder(signer: OrderSigner) -> None:
    """The library's own V2 builder, fed the same salt and time, signs the same bytes."""
    lib = ExchangeOrderBuilderV2(EXCHANGE, 137, signer.signer, generate_salt=lambda: "1234567890")
    order = lib.build_signed_order(
        OrderDataV2(
            maker=ADDRESS,
            tokenId=TOKEN,
            makerAmount="52000000",
            takerAmount="100000000",
            side=Side.BUY,
            signer=ADDRESS,
            timestamp="1735689600000",
        )
    )
    assert order.signature == GOLDEN[False][1]


def test_amounts_match_library_where_float_is_exact() -> None:
    builder = OrderBuilder(OrderSigner(KEY).signer)
    rng = random.Random(7)
    checked = 0
    for key, rounding in ROUNDING_CONFIG.items():
        tick = D(key)
        for _ in range(300):
            price = tick * rng.randint(1, int(1 / tick) - 1)
            shares = D(rng.randint(500, 20000)) / 100
            for side in ("BUY", "SELL"):
                if float(shares) * 100 != int(shares * 100):
                    continue  # the library floors inexact floats one cent low
                lib = builder.get_order_amounts(side, float(shares), float(price), rounding)[1:]
                assert order_amounts(side, shares, price) == lib
                checked += 1
    assert checked > 1000


def test_sell_amounts_and_refusals(signer: OrderSigner) -> None:
    sell = signer.sign(TOKEN, "SELL", D("0.455"), D("10.019"), tick_size=D("0.005"), neg_risk=False)
    assert (sell.maker_amount, sell.taker_amount, sell.size) == (10_010_000, 4_554_550, D("10.01"))
    with pytest.raises(OrderBuildError):
        signer.sign(TOKEN, "BUY", D("0.515"), D(10), tick_size=D("0.01"), neg_risk=False)
    with pytest.raises(OrderBuildError):
        signer.sign(TOKEN, "BUY", D("1"), D(10), tick_size=D("0.01"), neg_risk=False)
    with pytest.raises(OrderBuildError):
        signer.sign(TOKEN, "BUY", D("0.5"), D("0.004"), tick_size=D("0.01"), neg_risk=False)


def test_l2_hmac_matches_library() -> None:
    from py_clob_client_v2.signing.hmac import build_hmac_signature

    secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
    body = b'{"orderID":"0xabc"}'
    ours = hmac_signature(secret, "1735689600", "DELETE", "/order", body)
    assert ours == build_hmac_signature(secret, "1735689600", "DELETE", "/order", body.decode())
    creds = ApiCredentials("k", secret, "p")
    headers = l2_headers(creds, ADDRESS, "DELETE", "/order", body, timestamp=1735689600)
    assert headers["POLY_SIGNATURE"] == ours and headers["POLY_TIMESTAMP"] == "1735689600"
    assert secret not in repr(creds)
