"""A real EVM in the test process: py-evm through eth-tester, served as JSON-RPC over
loopback HTTP (so the bot talks to it exactly as to a Polygon endpoint, and a child
process can too), with the real ConditionalTokens contract deployed from its published
build artifact and the stand-ins of ``contracts/PROVENANCE.md``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from predarb.capital.contracts import Addresses

HERE = Path(__file__).parent / "contracts"
CTF_SHA256 = "08a1c8752460866482387a185ab5e1d1e3589f06a95d1322f24b5cb14bc33af8"
BOT_KEY = "0x" + "b0" * 32  # the bot's wallet in these tests
ZERO = "0x" + "00" * 20
USD = 10**6  # pUSD base units per dollar


def _wire(value: Any) -> Any:
    """eth-tester's results in JSON-RPC wire form: integers as hex quantities."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


def load_ctf() -> dict[str, Any]:
    raw = (HERE / "ConditionalTokens.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == CTF_SHA256, "ConditionalTokens.json changed"
    return dict(json.loads(raw))


def load_stand_ins() -> dict[str, Any]:
    return dict(json.loads((HERE / "StandIns.json").read_text())["contracts"])


class Node:
    """eth-tester behind a JSON-RPC HTTP endpoint; ``sent`` is set at each raw send."""

    def __init__(self) -> None:
        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        self.lock = threading.RLock()
        self.sent = threading.Event()
        self.raw_sends = 0
        self.hold_sends = False  # accept a raw send, then never answer it (a lost reply)

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        method, params = body["method"], body.get("params", [])
        with self.lock:
            if method == "eth_sendRawTransaction":
                self.raw_sends += 1
            try:
                response = self.w3.manager._make_request(method, params)
            except Exception as exc:  # as a node answers: a JSON-RPC error (geth's wording)
                text = str(exc)
                if "Invalid transaction nonce" in text:
                    text = f"nonce too low: {text}"
                response = {"error": {"code": -32000, "message": text}}
        out: dict[str, Any] = {"jsonrpc": "2.0", "id": body.get("id")}
        if "error" in response:
            out["error"] = response["error"]
        else:
            out["result"] = _wire(response.get("result"))
        if method == "eth_sendRawTransaction":
            self.sent.set()
        return out

    def mine(self, blocks: int = 1) -> None:
        with self.lock:
            self.tester.mine_blocks(blocks)


@contextmanager
def serve(node: Node) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if isinstance(body, list):
                answer: Any = [node.handle(b) for b in body]
            else:
                answer = node.handle(body)
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Market:
    condition_id: str
    tokens: tuple[int, int]  # position ids of outcome 0 (YES) and outcome 1 (NO)
    neg_risk: bool


class World:
    """The deployed contracts, an oracle, and the bot's funded wallet."""

    def __init__(self, node: Node) -> None:
        self.node = node
        w3 = node.w3
        self.w3 = w3
        self.deployer, self.oracle = w3.eth.accounts[0], w3.eth.accounts[1]
        self.bot = Account.from_key(BOT_KEY).address
        ctf = load_ctf()
        parts = load_stand_ins()
        self.ctf = self._deploy(ctf["abi"], ctf["bytecode"])
        self.pusd = self._deploy(
            parts["TestToken"]["abi"], parts["TestToken"]["bytecode"], "pUSD", "pUSD"
        )
        self.wrapped = self._deploy(
            parts["WrappedToken"]["abi"], parts["WrappedToken"]["bytecode"], self.pusd.address
        )
        adapter = parts["CollateralAdapter"]
        self.adapter = self._deploy(
            adapter["abi"], adapter["bytecode"], self.ctf.address, self.pusd.address, ZERO
        )
        self.neg_risk_adapter = self._deploy(
            adapter["abi"],
            adapter["bytecode"],
            self.ctf.address,
            self.pusd.address,
            self.wrapped.address,
        )
        self._send(self.deployer, {"to": self.bot, "value": 10**18})  # 1 POL for gas
        self._count = 0
        self.markets_made: list[Market] = []

    @property
    def addresses(self) -> Addresses:
        return Addresses(
            collateral=self.pusd.address,
            ctf=self.ctf.address,
            adapter=self.adapter.address,
            neg_risk_adapter=self.neg_risk_adapter.address,
        )

    def _deploy(self, abi: Any, bytecode: str, *args: Any) -> Any:
        with self.node.lock:
            factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
            tx = factory.constructor(*args).transact({"from": self.deployer})
            address = self.w3.eth.get_transaction_receipt(tx)["contractAddress"]
            return self.w3.eth.contract(address=address, abi=abi)

    def _send(self, sender: str, tx: dict[str, Any]) -> None:
        with self.node.lock:
            h = self.w3.eth.send_transaction({"from": sender, **tx})
            assert self.w3.eth.get_transaction_receipt(h)["status"] == 1

    def _as_bot(self, fn: Any) -> None:
        """A transaction from the bot's wallet, signed with its key (not unlocked)."""
        with self.node.lock:
            tx = fn.build_transaction(
                {"from": self.bot, "nonce": self.w3.eth.get_transaction_count(self.bot)}
            )
            signed = Account.sign_transaction(tx, BOT_KEY)
            h = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            assert self.w3.eth.get_transaction_receipt(h)["status"] == 1

    def market(self, *, neg_risk: bool = False) -> Market:
        """A prepared binary condition (the oracle reports it later)."""
        self._count += 1
        question = self._count.to_bytes(32, "big")
        with self.node.lock:
            self.ctf.functions.prepareCondition(self.oracle, question, 2).transact(
                {"from": self.deployer}
            )
            cid = self.ctf.functions.getConditionId(self.oracle, question, 2).call()
            held = self.wrapped.address if neg_risk else self.pusd.address
            tokens = tuple(
                self.ctf.functions.getPositionId(
                    held, self.ctf.functions.getCollectionId(b"\x00" * 32, cid, i).call()
                ).call()
                for i in (1, 2)
            )
        made = Market("0x" + cid.hex(), (tokens[0], tokens[1]), neg_risk)
        self.markets_made.append(made)
        return made

    def buy_both(self, market: Market, dollars: int) -> None:
        """The bot ends up with ``dollars`` of YES and of NO (a split of its pUSD)."""
        amount = dollars * USD
        with self.node.lock:
            self.pusd.functions.mint(self.bot, amount).transact({"from": self.deployer})
        cid = bytes.fromhex(market.condition_id[2:])
        if market.neg_risk:
            self._as_bot(self.pusd.functions.approve(self.wrapped.address, amount))
            self._as_bot(self.wrapped.functions.wrap(self.bot, amount))
            held = self.wrapped
        else:
            held = self.pusd
        self._as_bot(held.functions.approve(self.ctf.address, amount))
        self._as_bot(
            self.ctf.functions.splitPosition(held.address, b"\x00" * 32, cid, [1, 2], amount)
        )

    def drop(self, market: Market, outcome: int, shares: int) -> None:
        """The bot gives away ``shares`` of one outcome (it 'sold' them)."""
        self.give(market, outcome, shares, self.deployer)

    def give(self, market: Market, outcome: int, shares: int, to: str) -> None:
        with self.node.lock:
            fn = self.ctf.functions.safeTransferFrom(
                self.bot, to, market.tokens[outcome], shares * USD, b""
            )
        self._as_bot(fn)

    def resolve(self, market: Market, payouts: tuple[int, int]) -> None:
        with self.node.lock:
            q = self._question_of(market)
            self.ctf.functions.reportPayouts(q, list(payouts)).transact({"from": self.oracle})

    def _question_of(self, market: Market) -> bytes:
        for n in range(1, self._count + 1):
            q = n.to_bytes(32, "big")
            cid = self.ctf.functions.getConditionId(self.oracle, q, 2).call()
            if "0x" + cid.hex() == market.condition_id:
                return q
        raise KeyError(market.condition_id)

    def pusd_of(self, who: str) -> int:
        with self.node.lock:
            return int(self.pusd.functions.balanceOf(who).call())

    def position(self, market: Market, outcome: int) -> int:
        with self.node.lock:
            return int(self.ctf.functions.balanceOf(self.bot, market.tokens[outcome]).call())
