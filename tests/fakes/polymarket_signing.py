"""Signatures the fake Polymarket (``polymarket_server.FakePolymarket``) checks: the
EIP-712 typed data of a CLOB V2 order and the recovery of its signer (V2 domain,
neg-risk exchange for neg-risk tokens), the recovery of the L1 ``ClobAuth`` header
signature on key creation, and the deterministic L2 credentials per wallet. No HTTP
and no state here.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"  # protocol-V2 markets
_ORDER_TYPE = [
    {"name": n, "type": t}
    for n, t in (
        ("salt", "uint256"),
        ("maker", "address"),
        ("signer", "address"),
        ("tokenId", "uint256"),
        ("makerAmount", "uint256"),
        ("takerAmount", "uint256"),
        ("side", "uint8"),
        ("signatureType", "uint8"),
        ("timestamp", "uint256"),
        ("metadata", "bytes32"),
        ("builder", "bytes32"),
    )
]
_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def creds_for(address: str) -> tuple[str, str, str]:
    """Deterministic L2 credentials per wallet (create and derive agree)."""
    digest = hashlib.sha256(address.lower().encode()).digest()
    key = str(uuid.UUID(bytes=digest[:16]))
    return key, base64.urlsafe_b64encode(digest).decode(), digest.hex()[:32]


def order_typed_data(
    order: dict[str, Any], neg_risk: bool, chain_id: int = 137, version: int = 2
) -> dict[str, Any]:
    """Exchange V2 (domain "2", standard or neg-risk) or ExchangeV3 (domain "3")."""
    side = 0 if order["side"] == "BUY" else 1
    contract = EXCHANGE_V3 if version == 3 else NEG_RISK_EXCHANGE if neg_risk else EXCHANGE
    return {
        "primaryType": "Order",
        "types": {"EIP712Domain": _DOMAIN_TYPE, "Order": _ORDER_TYPE},
        "domain": {
            "name": "Polymarket CTF Exchange",
            "version": str(version),
            "chainId": chain_id,
            "verifyingContract": contract,
        },
        "message": {
            "salt": int(order["salt"]),
            "maker": order["maker"],
            "signer": order["signer"],
            "tokenId": int(order["tokenId"]),
            "makerAmount": int(order["makerAmount"]),
            "takerAmount": int(order["takerAmount"]),
            "side": side,
            "signatureType": int(order["signatureType"]),
            "timestamp": int(order["timestamp"]),
            "metadata": bytes.fromhex(order["metadata"][2:].zfill(64)),
            "builder": bytes.fromhex(order["builder"][2:].zfill(64)),
        },
    }


def recover_order(order: dict[str, Any], neg_risk: bool, version: int = 2) -> tuple[str, str]:
    """(recovered signer, order hash) of an order as exchange ``version`` would see it."""
    encoded = encode_typed_data(full_message=order_typed_data(order, neg_risk, version=version))
    digest = keccak(b"\x19" + encoded.version + encoded.header + encoded.body)
    return str(Account.recover_message(encoded, signature=order["signature"])), "0x" + digest.hex()


def _recover_l1(headers: Any, chain_id: int = 137) -> str:
    typed = {
        "primaryType": "ClobAuth",
        "types": {
            "EIP712Domain": _DOMAIN_TYPE[:3],
            "ClobAuth": [
                {"name": "address", "type": "address"},
                {"name": "timestamp", "type": "string"},
                {"name": "nonce", "type": "uint256"},
                {"name": "message", "type": "string"},
            ],
        },
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": chain_id},
        "message": {
            "address": headers["POLY_ADDRESS"],
            "timestamp": headers["POLY_TIMESTAMP"],
            "nonce": int(headers.get("POLY_NONCE", "0")),
            "message": "This message attests that I control the given wallet",
        },
    }
    encoded = encode_typed_data(full_message=typed)
    return str(Account.recover_message(encoded, signature=headers["POLY_SIGNATURE"]))
