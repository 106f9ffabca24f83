"""Polymarket's gasless relayer: redemptions from a proxy (signature type 1) or Safe
(type 2) wallet, without POL.

The wire, as Polymarket's ``builder-relayer-client`` and ``polymarket-client`` speak it
(base ``https://relayer-v2.polymarket.com``):

- ``GET /nonce?address=<signer>&type=SAFE`` -> ``{"nonce": "3"}``;
  ``GET /relay-payload?address=<signer>&type=PROXY`` -> ``{"address": relay, "nonce"}``;
- ``POST /submit`` (headers ``RELAYER_API_KEY``, ``RELAYER_API_KEY_ADDRESS``) with
  ``{type, from, to, proxyWallet, data, nonce, signature, signatureParams, metadata}``
  -> ``{"transactionID", "state", "transactionHash"?}``;
- ``GET /transaction?id=`` -> ``[{transactionID, transactionHash, state, nonce, ...}]``,
  ``state`` one of ``STATE_NEW, STATE_EXECUTED, STATE_MINED, STATE_CONFIRMED,
  STATE_FAILED, STATE_INVALID``; ``GET /transactions`` (authed) lists the key's own.

SAFE: the EIP-712 ``SafeTx`` hash (domain ``{chainId, verifyingContract: safe}``) signed
as a personal message, ``v`` raised by 4 (Safe's eth_sign form), packed ``r‖s‖v``.
PROXY: ``proxy((uint8,address,uint256,bytes)[])`` on the proxy factory, and the hash
``keccak("rlx:" ‖ from ‖ to ‖ data ‖ relayerFee ‖ gasPrice ‖ gasLimit ‖ nonce ‖ relayHub ‖
relay)`` signed as a personal message.

The signed request is stored before it is submitted; a crash before the answer is
settled by the relayer's nonce: still the same, the same request goes again (a nonce
executes once); moved on, the relayer's own list says which transaction it became.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils.crypto import keccak

from predarb.capital.chain import Chain, ChainError
from predarb.capital.contracts import Call
from predarb.capital.routes import Outcome, Prepared, State
from predarb.config import Settings
from predarb.store.redemptions import Redemption

PROXY_FACTORY = "0xaB45c5A4B0c941a2F231C04C3f49182e1A254052"
RELAY_HUB = "0xD216153c06E857cD7f72665E0aF1d7D82172F494"
ZERO_ADDRESS = "0x" + "00" * 20
PROXY_SELECTOR = keccak(text="proxy((uint8,address,uint256,bytes)[])")[:4]
PROXY_CALL = 1  # typeCode of a plain call
PROXY_GAS_LIMIT = 10_000_000  # the official client's default when it cannot estimate
_DONE = {"STATE_MINED", "STATE_CONFIRMED"}
_FAILED = {"STATE_FAILED", "STATE_INVALID"}


class RelayerError(ChainError):
    """The relayer refused or could not be reached."""


def safe_tx_hash(chain_id: int, safe: str, call: Call, nonce: int) -> bytes:
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "SafeTx": [
                {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "data", "type": "bytes"},
                {"name": "operation", "type": "uint8"},
                {"name": "safeTxGas", "type": "uint256"},
                {"name": "baseGas", "type": "uint256"},
                {"name": "gasPrice", "type": "uint256"},
                {"name": "gasToken", "type": "address"},
                {"name": "refundReceiver", "type": "address"},
                {"name": "nonce", "type": "uint256"},
            ],
        },
        "primaryType": "SafeTx",
        "domain": {"chainId": chain_id, "verifyingContract": safe},
        "message": {
            "to": call.to,
            "value": call.value,
            "data": call.data,
            "operation": 0,
            "safeTxGas": 0,
            "baseGas": 0,
            "gasPrice": 0,
            "gasToken": ZERO_ADDRESS,
            "refundReceiver": ZERO_ADDRESS,
            "nonce": nonce,
        },
    }
    signable = encode_typed_data(full_message=typed)
    return keccak(b"\x19\x01" + signable.header + signable.body)


def proxy_data(calls: list[Call]) -> bytes:
    return PROXY_SELECTOR + encode(
        ["(uint8,address,uint256,bytes)[]"],
        [[(PROXY_CALL, c.to, c.value, c.data) for c in calls]],
    )


def proxy_tx_hash(
    signer: str, to: str, data: bytes, gas_limit: int, nonce: int, relay_hub: str, relay: str
) -> bytes:
    def word(n: int) -> bytes:
        return n.to_bytes(32, "big")

    return keccak(
        b"rlx:"
        + bytes.fromhex(signer[2:])
        + bytes.fromhex(to[2:])
        + data
        + word(0)  # relayer fee
        + word(0)  # gas price
        + word(gas_limit)
        + word(nonce)
        + bytes.fromhex(relay_hub[2:])
        + bytes.fromhex(relay[2:])
    )


def sign_personal(private_key: str, digest: bytes, *, safe: bool) -> str:
    sig = Account.sign_message(encode_defunct(primitive=digest), private_key)
    v = int(sig.v) + 4 if safe else int(sig.v)  # Safe reads v 31/32 as "eth_sign of it"
    r, s = int(sig.r).to_bytes(32, "big"), int(sig.s).to_bytes(32, "big")
    return "0x" + r.hex() + s.hex() + f"{v:02x}"


class RelayerRoute:
    """Signature types 1 (``PROXY``) and 2 (``SAFE``) through the gasless relayer."""

    def __init__(
        self,
        chain: Chain,
        private_key: str,
        kind: str,
        url: str,
        api_key: str,
        api_key_address: str,
        *,
        chain_id: int = 137,
        proxy_factory: str = PROXY_FACTORY,
        relay_hub: str = RELAY_HUB,
        timeout_s: float = 20,
    ) -> None:
        if kind not in ("PROXY", "SAFE"):
            raise ValueError(kind)
        self.name = kind.lower()
        self.kind = kind
        self.chain = chain
        self._key = private_key
        self.signer = chain.address
        self.wallet = chain.holder
        self.chain_id = chain_id
        self.proxy_factory = proxy_factory
        self.relay_hub = relay_hub
        self._auth = {"RELAYER_API_KEY": api_key, "RELAYER_API_KEY_ADDRESS": api_key_address}
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout_s)

    async def close(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, params: dict[str, str], *, auth: bool = False) -> Any:
        try:
            r = await self._http.get(path, params=params, headers=self._auth if auth else None)
        except httpx.HTTPError as exc:
            raise RelayerError(f"relayer GET {path}: {type(exc).__name__}") from None
        if r.status_code != 200:
            raise RelayerError(f"relayer GET {path}: HTTP {r.status_code} {r.text[:200]}")
        return r.json()

    async def _nonce(self) -> tuple[int, str]:
        """The relayer's nonce for our signer (and, for PROXY, the relay address)."""
        if self.kind == "SAFE":
            raw = await self._get("/nonce", {"address": self.signer, "type": "SAFE"})
            return int(raw["nonce"]), ""
        raw = await self._get("/relay-payload", {"address": self.signer, "type": "PROXY"})
        return int(raw["nonce"]), str(raw["address"])

    async def prepare(self, call: Call) -> Prepared:
        nonce, relay = await self._nonce()
        common = {"from": self.signer, "proxyWallet": self.wallet, "nonce": str(nonce)}
        if self.kind == "SAFE":
            digest = safe_tx_hash(self.chain_id, self.wallet, call, nonce)
            body = {
                "type": "SAFE",
                **common,
                "to": call.to,
                "data": "0x" + call.data.hex(),
                "signature": sign_personal(self._key, digest, safe=True),
                "signatureParams": {
                    "gasPrice": "0",
                    "operation": "0",
                    "safeTxnGas": "0",
                    "baseGas": "0",
                    "gasToken": ZERO_ADDRESS,
                    "refundReceiver": ZERO_ADDRESS,
                },
            }
        else:
            data = proxy_data([call])
            digest = proxy_tx_hash(
                self.signer,
                self.proxy_factory,
                data,
                PROXY_GAS_LIMIT,
                nonce,
                self.relay_hub,
                relay,
            )
            body = {
                "type": "PROXY",
                **common,
                "to": self.proxy_factory,
                "data": "0x" + data.hex(),
                "signature": sign_personal(self._key, digest, safe=False),
                "signatureParams": {
                    "gasPrice": "0",
                    "gasLimit": str(PROXY_GAS_LIMIT),
                    "relayerFee": "0",
                    "relayHub": self.relay_hub,
                    "relay": relay,
                },
            }
        body["metadata"] = "predarb redemption"
        return Prepared(nonce, "", json.dumps(body, separators=(",", ":")))

    async def send(self, row: Redemption) -> tuple[str, str]:
        try:
            r = await self._http.post(
                "/submit",
                content=row.signed,
                headers={**self._auth, "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise RelayerError(f"relayer POST /submit: {type(exc).__name__}") from None
        if r.status_code != 200:
            raise RelayerError(f"relayer POST /submit: HTTP {r.status_code} {r.text[:200]}")
        answer = r.json()
        return str(answer.get("transactionHash") or ""), str(answer["transactionID"])

    async def outcome(self, row: Redemption) -> Outcome:
        if not row.relayer_id:
            return await self._unanswered(row)
        found = await self._get("/transaction", {"id": row.relayer_id})
        tx = found[0] if isinstance(found, list) and found else None
        if not isinstance(tx, dict):
            return Outcome(State.PENDING)
        return await self._state_of(tx)

    async def _state_of(self, tx: dict[str, Any]) -> Outcome:
        state = str(tx.get("state", ""))
        tx_hash = str(tx.get("transactionHash") or "")
        relayer_id = str(tx.get("transactionID") or "")
        if state in _FAILED:
            return Outcome(State.FAILED, tx_hash=tx_hash, reason=f"relayer {state}")
        if state in _DONE and tx_hash:
            receipt = await self.chain.receipt(tx_hash)
            if receipt is not None:
                ok = State.MINED if receipt.ok else State.FAILED
                return Outcome(ok, receipt, tx_hash, "" if receipt.ok else "reverted")
        return Outcome(State.PENDING, tx_hash=tx_hash, relayer_id=relayer_id)

    async def _unanswered(self, row: Redemption) -> Outcome:
        """Written ahead, no answer recorded: did the relayer take it?"""
        nonce, _ = await self._nonce()
        if row.nonce is None or nonce <= row.nonce:
            return Outcome(State.RESEND)  # not taken: the same request (same nonce) again
        mine = await self._get("/transactions", {}, auth=True)
        for tx in mine if isinstance(mine, list) else []:
            if isinstance(tx, dict) and str(tx.get("nonce")) == str(row.nonce):
                return await self._state_of(tx)
        return Outcome(State.DROPPED, reason="its relayer nonce was used by another request")


def relayer_route(settings: Settings, chain: Chain) -> RelayerRoute | None:
    key, address = settings.poly_relayer_api_key, settings.poly_relayer_api_key_address
    if key is None or not address or settings.poly_private_key is None:
        return None
    return RelayerRoute(
        chain,
        settings.poly_private_key.get_secret_value(),
        "PROXY" if settings.poly_signature_type == 1 else "SAFE",
        settings.poly_relayer_url,
        key.get_secret_value(),
        address,
        chain_id=settings.poly_chain_id,
    )
