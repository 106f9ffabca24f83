"""Polymarket's money on Polygon: contract addresses and the calls the bot makes.

Addresses are Polymarket's production set (``polymarket-client``'s ``environments.py``):
pUSD, the Gnosis ConditionalTokens (CTF) holding every position, and the two collateral
adapters through which positions are redeemed and merged back into pUSD. The adapters take
the CTF's own call shape, ``redeemPositions(pUSD, 0x0, conditionId, [1, 2])`` and
``mergePositions(pUSD, 0x0, conditionId, [1, 2], amount)``, after a one-time
``setApprovalForAll(adapter, true)`` on the CTF. Pure: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi.abi import encode
from eth_utils.crypto import keccak

PUSD = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"
CONDITIONAL_TOKENS = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"
CTF_COLLATERAL_ADAPTER = "0xAdA100Db00Ca00073811820692005400218FcE1f"
NEG_RISK_COLLATERAL_ADAPTER = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"
POLYGON_CHAIN_ID = 137

BINARY_INDEX_SETS = (1, 2)  # outcome 0 (first, "Yes") and outcome 1
_ZERO32 = b"\x00" * 32


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


REDEEM = _selector("redeemPositions(address,bytes32,bytes32,uint256[])")
MERGE = _selector("mergePositions(address,bytes32,bytes32,uint256[],uint256)")
SET_APPROVAL_FOR_ALL = _selector("setApprovalForAll(address,bool)")
IS_APPROVED_FOR_ALL = _selector("isApprovedForAll(address,address)")
BALANCE_OF_BATCH = _selector("balanceOfBatch(address[],uint256[])")
PAYOUT_DENOMINATOR = _selector("payoutDenominator(bytes32)")
PAYOUT_NUMERATORS = _selector("payoutNumerators(bytes32,uint256)")
ERC20_BALANCE_OF = _selector("balanceOf(address)")
# keccak("Transfer(address,address,uint256)"): how the pUSD paid to the wallet is read
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


@dataclass(frozen=True, slots=True)
class Addresses:
    collateral: str = PUSD
    ctf: str = CONDITIONAL_TOKENS
    adapter: str = CTF_COLLATERAL_ADAPTER
    neg_risk_adapter: str = NEG_RISK_COLLATERAL_ADAPTER

    def adapter_for(self, neg_risk: bool) -> str:
        return self.neg_risk_adapter if neg_risk else self.adapter


@dataclass(frozen=True, slots=True)
class Call:
    """One contract call: what a transaction (or a relayed one) carries."""

    to: str
    data: bytes
    value: int = 0


def condition_bytes(condition_id: str) -> bytes:
    raw = bytes.fromhex(condition_id.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"condition id must be 32 bytes: {condition_id!r}")
    return raw


def redeem_call(addresses: Addresses, condition_id: str, neg_risk: bool) -> Call:
    args = encode(
        ["address", "bytes32", "bytes32", "uint256[]"],
        [addresses.collateral, _ZERO32, condition_bytes(condition_id), list(BINARY_INDEX_SETS)],
    )
    return Call(addresses.adapter_for(neg_risk), REDEEM + args)


def merge_call(addresses: Addresses, condition_id: str, neg_risk: bool, amount: int) -> Call:
    if amount <= 0:
        raise ValueError("merge amount must be positive")
    args = encode(
        ["address", "bytes32", "bytes32", "uint256[]", "uint256"],
        [
            addresses.collateral,
            _ZERO32,
            condition_bytes(condition_id),
            list(BINARY_INDEX_SETS),
            amount,
        ],
    )
    return Call(addresses.adapter_for(neg_risk), MERGE + args)


def approval_call(addresses: Addresses, operator: str) -> Call:
    return Call(addresses.ctf, SET_APPROVAL_FOR_ALL + encode(["address", "bool"], [operator, True]))
