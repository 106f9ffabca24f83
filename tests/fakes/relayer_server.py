"""A fake of Polymarket's gasless relayer (``relayer-v2``), speaking the wire of
``builder-relayer-client`` / ``polymarket-client`` (see ``predarb.capital.relayer``).

It checks what the real one checks before it relays: the API key headers, the nonce,
and the signature (recomputed from the request: the Safe's EIP-712 ``SafeTx`` hash, or the
proxy factory's ``rlx:`` hash), recovering the signer. Then it runs the inner call on the
test chain from the user's wallet (impersonated: an unlocked eth-tester account) and
reports its state as the relayer does.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from aiohttp import web
from eth_abi.abi import decode
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from predarb.capital.contracts import Call
from predarb.capital.relayer import PROXY_SELECTOR, proxy_tx_hash, safe_tx_hash
from tests.capital.evm import Node

RELAY = "0x" + "5e" * 20  # the relay address /relay-payload names


class FakeRelayer:
    def __init__(self, node: Node, *, api_key: str, key_address: str, chain_id: int) -> None:
        self.node = node
        self.api_key, self.key_address, self.chain_id = api_key, key_address, chain_id
        self.wallets: dict[str, str] = {}  # signer (lower) -> its proxy or Safe wallet
        self.nonces: dict[tuple[str, str], int] = {}
        self.transactions: list[dict[str, Any]] = []
        self.submits = 0
        self.refusals: list[str] = []
        self.lose_replies = 0  # take this many submits, then answer 502 as if lost
        self._ids = itertools.count(1)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/nonce", self._nonce)
        app.router.add_get("/relay-payload", self._relay_payload)
        app.router.add_post("/submit", self._submit)
        app.router.add_get("/transaction", self._transaction)
        app.router.add_get("/transactions", self._transactions)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _refuse(self, why: str, status: int = 400) -> web.Response:
        self.refusals.append(why)
        return web.json_response({"error": why}, status=status)

    async def _nonce(self, request: web.Request) -> web.Response:
        key = (request.query["address"].lower(), request.query["type"])
        return web.json_response({"nonce": str(self.nonces.get(key, 0))})

    async def _relay_payload(self, request: web.Request) -> web.Response:
        key = (request.query["address"].lower(), request.query["type"])
        return web.json_response({"address": RELAY, "nonce": str(self.nonces.get(key, 0))})

    def _authed(self, request: web.Request) -> bool:
        h = request.headers
        return h.get("RELAYER_API_KEY") == self.api_key and (
            h.get("RELAYER_API_KEY_ADDRESS", "").lower() == self.key_address.lower()
        )

    async def _submit(self, request: web.Request) -> web.Response:
        self.submits += 1
        if not self._authed(request):
            return self._refuse("invalid authorization", 401)
        body = json.loads(await request.text())
        kind, signer = body["type"], body["from"].lower()
        wallet = self.wallets.get(signer)
        if wallet is None or body["proxyWallet"].lower() != wallet.lower():
            return self._refuse("proxy wallet does not belong to the signer")
        nonce = int(body["nonce"])
        if nonce != self.nonces.get((signer, kind), 0):
            return self._refuse(f"invalid nonce {nonce}")
        data = bytes.fromhex(body["data"][2:])
        params = body["signatureParams"]
        if kind == "SAFE":
            digest = safe_tx_hash(self.chain_id, wallet, Call(body["to"], data), nonce)
            sig = bytes.fromhex(body["signature"][2:])
            if sig[64] not in (31, 32):
                return self._refuse("safe signature v must be 31/32")
            sig = sig[:64] + bytes([sig[64] - 4])
            calls = [Call(body["to"], data)]
        elif kind == "PROXY":
            digest = proxy_tx_hash(
                body["from"],
                body["to"],
                data,
                int(params["gasLimit"]),
                nonce,
                params["relayHub"],
                params["relay"],
            )
            sig = bytes.fromhex(body["signature"][2:])
            if data[:4] != PROXY_SELECTOR:
                return self._refuse("not a proxy() call")
            (raw_calls,) = decode(["(uint8,address,uint256,bytes)[]"], data[4:])
            calls = [Call(to, bytes(d), v) for _, to, v, d in raw_calls]
        else:
            return self._refuse(f"unknown type {kind}")
        recovered = Account.recover_message(encode_defunct(primitive=digest), signature=sig)
        if recovered.lower() != signer:
            return self._refuse("invalid signature")
        self.nonces[(signer, kind)] = nonce + 1
        tx: dict[str, Any] = {
            "transactionID": f"rtx-{next(self._ids)}",
            "transactionHash": "",
            "from": body["from"],
            "to": body["to"],
            "proxyAddress": wallet,
            "data": body["data"],
            "nonce": str(nonce),
            "value": "0",
            "state": "STATE_NEW",
            "type": kind,
            "metadata": body.get("metadata", ""),
        }
        self.transactions.append(tx)
        self.execute(tx, calls)
        if self.lose_replies:
            self.lose_replies -= 1
            return web.json_response({"error": "bad gateway"}, status=502)
        return web.json_response(
            {
                "transactionID": tx["transactionID"],
                "state": tx["state"],
                "transactionHash": tx["transactionHash"],
            }
        )

    def execute(self, tx: dict[str, Any], calls: list[Call]) -> None:
        """Relay it: the wallet makes the call (only single calls are needed here)."""
        (call,) = calls
        with self.node.lock:
            h = self.node.w3.eth.send_transaction(
                {
                    "from": tx["proxyAddress"],
                    "to": Web3.to_checksum_address(call.to),
                    "data": call.data,
                    "value": call.value,
                }
            )
            ok = self.node.w3.eth.get_transaction_receipt(h)["status"] == 1
        tx["transactionHash"] = "0x" + bytes(h).hex()
        tx["state"] = "STATE_MINED" if ok else "STATE_FAILED"

    async def _transaction(self, request: web.Request) -> web.Response:
        wanted = request.query.get("id", "")
        return web.json_response([t for t in self.transactions if t["transactionID"] == wanted])

    async def _transactions(self, request: web.Request) -> web.Response:
        if not self._authed(request):
            return self._refuse("invalid authorization", 401)
        return web.json_response(self.transactions)
