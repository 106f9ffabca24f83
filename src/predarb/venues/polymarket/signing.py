"""The signed CLOB V2 order, built with py-clob-client-v2's own builder and EIP-712
code but none of its network calls: the caller supplies the tick size and neg-risk.

py-clob-client-v2 is pinned (pyproject) and a golden test fixes one signature, so an
upgrade that changes what is signed is caught before it reaches the venue.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import coincurve
from eth_utils.crypto import keccak
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.constants import BYTES32_ZERO
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2, Side, SignatureTypeV2
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ORDER_TYPE_HASH
from py_clob_client_v2.order_utils.model.order_data_v2 import (
    OrderDataV2,
    OrderV2,
    SignedOrderV2,
    order_to_json_v2,
)
from py_clob_client_v2.signer import Signer

from predarb.venues.polymarket.wire import BASE_UNITS, tick_key

SHARE_QUANTUM = Decimal("0.01")  # order sizes have 2 decimals

# Digests are signed with coincurve (libsecp256k1, C) directly: eth-account would build
# key objects on every call around the same C call (and sign in pure Python, 8 ms an
# order, without coincurve). RFC 6979 nonces: the same signature either way (golden test).
RECOVERY_ID_OFFSET = 27  # Ethereum's v = recovery id + 27


class OrderBuildError(ValueError):
    """The order cannot be expressed on the venue (off-grid price, bad tick, zero size)."""


@dataclass(frozen=True, slots=True)
class SignedOrder:
    """A signed V2 order ready for ``POST /order``.

    ``order_hash`` is the EIP-712 hash, which is also the venue's ``orderID``: it is
    known before sending, so a lost reply can be looked up by it.
    """

    order_hash: str
    order: dict[str, Any]  # the "order" object of the POST body
    maker_amount: int  # 6-dp base units
    taker_amount: int
    side: str  # BUY | SELL
    size: Decimal  # shares, 2 dp
    price: Decimal

    def body(self, owner: str, order_type: str) -> dict[str, Any]:
        return {
            "order": self.order,
            "owner": owner,
            "orderType": order_type,
            "deferExec": False,
            "postOnly": False,
        }


def order_amounts(side: str, shares: Decimal, price: Decimal) -> tuple[int, int]:
    """(makerAmount, takerAmount) in 6-dp base units: BUY gives ``shares × price``
    pUSD for ``shares``; SELL the reverse.

    These are py-clob-client-v2's ``get_order_amounts`` whenever its float arithmetic
    is exact (a test checks the grid). Where it is not, the library floors e.g. 601.42
    shares to 601.41 (``floor(601.42 * 100)`` is 60141); the exact product is used
    instead so both legs of an arbitrage carry the same count.
    """
    notional = int(shares * price * BASE_UNITS)
    count = int(shares * BASE_UNITS)
    return (notional, count) if side == "BUY" else (count, notional)


def _word(value: int | str) -> bytes:
    return int(value).to_bytes(32, "big")


def _address(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x")).rjust(32, b"\0")


def _bytes32(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x")).rjust(32, b"\0")


def order_digest(domain_separator: bytes, order: OrderV2) -> bytes:
    """The EIP-712 digest of a V2 order (which is also its hash, the venue's order id):
    the struct's fields packed by hand, as the generic typed-data encoder would pack
    them, at a fraction of its cost (a test compares the two)."""
    struct = b"".join(
        (
            ORDER_TYPE_HASH,
            _word(order.salt),
            _address(order.maker),
            _address(order.signer),
            _word(order.tokenId),
            _word(order.makerAmount),
            _word(order.takerAmount),
            _word(int(order.side)),
            _word(int(order.signatureType)),
            _word(order.timestamp),
            _bytes32(order.metadata),
            _bytes32(order.builder),
        )
    )
    return bytes(keccak(b"\x19\x01" + domain_separator + keccak(struct)))


class OrderSigner:
    """One wallet's order signer, created once (key parsing and domain hashing are
    not free). ``sign`` takes about 0.1 ms: on the event loop, cheaper than a thread."""

    def __init__(
        self,
        private_key: str,
        *,
        chain_id: int = 137,
        signature_type: int = 0,
        funder: str | None = None,
    ) -> None:
        self._signer = Signer(private_key, chain_id)
        self._secp256k1 = coincurve.PrivateKey(bytes(self._signer.account.key))
        self._builder = OrderBuilder(self._signer, SignatureTypeV2(signature_type), funder)
        contracts = get_contract_config(chain_id)
        # By (exchange version, neg risk): CTF markets sign for Exchange V2 (standard or
        # neg-risk), protocol-V2 markets for ExchangeV3 (domain "3", no neg-risk twin),
        # as py-clob-client-v2's builder chooses them.
        v3 = ExchangeOrderBuilderV2(
            contracts.exchange_v3, chain_id, self._signer, domain_version="3"
        )
        self._exchanges = {
            (2, False): ExchangeOrderBuilderV2(contracts.exchange_v2, chain_id, self._signer),
            (2, True): ExchangeOrderBuilderV2(
                contracts.neg_risk_exchange_v2, chain_id, self._signer
            ),
            (3, False): v3,
            (3, True): v3,
        }

    @property
    def address(self) -> str:
        """The signing EOA (``POLY_ADDRESS``)."""
        return str(self._signer.address())

    @property
    def maker(self) -> str:
        """The funder holding the money (the signer unless a proxy/safe is configured)."""
        return str(self._builder.funder)

    @property
    def signer(self) -> Signer:
        return self._signer

    def sign(
        self,
        token_id: str,
        side: str,
        price: Decimal,
        size: Decimal,
        *,
        tick_size: Decimal,
        neg_risk: bool,
        exchange_version: int = 2,
        salt: int | None = None,
        timestamp_ms: int | None = None,
    ) -> SignedOrder:
        """Build and sign a limit order of ``size`` shares at ``price``.

        The size is rounded down to 2 dp; the price must lie on the tick grid.
        ``exchange_version`` 3 signs for ExchangeV3 (``token_id`` is then the market's
        position id, which the order carries in its ``tokenId`` field).
        """
        if exchange_version not in (2, 3):
            raise OrderBuildError(f"cannot sign for exchange version {exchange_version}")
        side = side.upper()
        key = tick_key(tick_size)
        if key not in ROUNDING_CONFIG:
            raise OrderBuildError(f"unsupported tick size {tick_size}")
        if side not in ("BUY", "SELL"):
            raise OrderBuildError(f"side must be BUY or SELL, not {side!r}")
        if price % tick_size or not tick_size <= price <= 1 - tick_size:
            raise OrderBuildError(f"price {price} is not on the {tick_size} grid")
        shares = size.quantize(SHARE_QUANTUM, rounding=ROUND_DOWN)
        if shares <= 0:
            raise OrderBuildError(f"size {size} rounds to zero shares")
        maker_amount, taker_amount = order_amounts(side, shares, price)
        data = OrderDataV2(
            maker=self.maker,
            tokenId=token_id,
            makerAmount=str(maker_amount),
            takerAmount=str(taker_amount),
            side=Side.BUY if side == "BUY" else Side.SELL,
            signer=self.address,
            signatureType=self._builder.signature_type,
            timestamp=str(timestamp_ms) if timestamp_ms is not None else None,
            metadata=BYTES32_ZERO,
            builder=BYTES32_ZERO,
        )
        exchange = self._exchanges[(exchange_version, neg_risk)]
        unsigned = exchange.build_order(data)
        if salt is not None:
            unsigned = dataclasses.replace(unsigned, salt=str(salt))
        if unsigned.signatureType == SignatureTypeV2.POLY_1271:  # wraps the digest: library
            typed = exchange.build_order_typed_data(unsigned)
            signature = exchange.build_order_signature(typed)
            order_hash = exchange.build_order_hash(typed)
        else:
            digest = order_digest(exchange.app_domain_separator, unsigned)
            order_hash = "0x" + digest.hex()
            raw = self._secp256k1.sign_recoverable(digest, hasher=None)  # r, s, recovery id
            signature = "0x" + (raw[:64] + bytes([raw[64] + RECOVERY_ID_OFFSET])).hex()
        signed = SignedOrderV2(**{**dataclasses.asdict(unsigned), "signature": signature})
        wire = order_to_json_v2(signed, "", "FOK")["order"]
        return SignedOrder(
            order_hash=order_hash,
            order=wire,
            maker_amount=maker_amount,
            taker_amount=taker_amount,
            side=side,
            size=shares,
            price=price,
        )
