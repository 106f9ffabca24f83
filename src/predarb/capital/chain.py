"""The bot's own Polygon wallet (signature type 0, an EOA) over JSON-RPC, through web3.py.

Transactions are signed here and their hash is known before they leave: the caller
stores the signed bytes and the hash first (a write-ahead), then broadcasts. After a crash
the same bytes are broadcast again, which cannot make a second transaction: one nonce,
one transaction. Endpoint failures raise ``ChainError``; nothing here retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_abi.abi import decode, encode
from eth_account import Account
from eth_typing import ChecksumAddress, HexStr
from web3 import AsyncHTTPProvider, AsyncWeb3

from predarb.capital import contracts as c

GWEI = 10**9
_GAS_HEADROOM = Decimal("1.3")  # over the node's estimate


class ChainError(Exception):
    """The JSON-RPC endpoint failed or refused; the message says how."""


class GasTooHigh(ChainError):
    """The network's fee is above the configured cap: try again later."""


@dataclass(frozen=True, slots=True)
class SignedTx:
    tx_hash: str
    raw: str  # 0x-hex signed transaction
    nonce: int
    gas_limit: int
    max_fee_wei: int


@dataclass(frozen=True, slots=True)
class Receipt:
    ok: bool
    block: int
    gas_used: int
    gas_price_wei: int
    collateral_in: int  # pUSD base units paid to the wallet by this transaction

    @property
    def cost_wei(self) -> int:
        return self.gas_used * self.gas_price_wei


@dataclass(frozen=True, slots=True)
class GasPolicy:
    priority_gwei: Decimal = Decimal(30)
    max_fee_gwei: Decimal = Decimal(500)

    @property
    def priority_wei(self) -> int:
        return int(self.priority_gwei * GWEI)

    @property
    def cap_wei(self) -> int:
        return int(self.max_fee_gwei * GWEI)


class Chain:
    def __init__(
        self,
        rpc_url: str,
        private_key: str,
        addresses: c.Addresses,
        gas: GasPolicy,
        *,
        holder: str | None = None,
        expected_chain_id: int | None = None,
        timeout_s: float = 20,
    ) -> None:
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        self._account = Account.from_key(private_key)
        self.address: ChecksumAddress = self._account.address  # signs and pays gas (an EOA)
        # holds the positions and the pUSD: the EOA itself, or its proxy or Safe wallet
        self.holder: str = AsyncWeb3.to_checksum_address(holder) if holder else self.address
        self.addresses = addresses
        self.gas = gas
        self._chain_id: int | None = None
        self._expected_chain_id = expected_chain_id

    async def _rpc(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except ChainError:
            raise
        except Exception as exc:  # web3 raises many types; all mean "not now"
            raise ChainError(f"{what}: {type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        await self.w3.provider.disconnect()

    async def chain_id(self) -> int:
        if self._chain_id is None:
            found = int(await self._rpc("eth_chainId", self.w3.eth.chain_id))
            if self._expected_chain_id is not None and found != self._expected_chain_id:
                # Signing for another chain would be harmless there but useless here.
                expected = self._expected_chain_id
                raise ChainError(f"POLY_RPC_URL serves chain {found}, not POLY_CHAIN_ID {expected}")
            self._chain_id = found
        return self._chain_id

    async def native_balance(self) -> int:
        return int(await self._rpc("eth_getBalance", self.w3.eth.get_balance(self.address)))

    async def block_number(self) -> int:
        return int(await self._rpc("eth_blockNumber", self.w3.eth.block_number))

    async def latest_nonce(self) -> int:
        return int(
            await self._rpc(
                "eth_getTransactionCount",
                self.w3.eth.get_transaction_count(self.address, "latest"),
            )
        )

    async def _call(self, to: str, data: bytes) -> bytes:
        out = await self._rpc("eth_call", self.w3.eth.call({"to": to, "data": data}))
        return bytes(out)

    async def position_balances(self, token_ids: list[int]) -> list[int]:
        data = c.BALANCE_OF_BATCH + encode(
            ["address[]", "uint256[]"], [[self.holder] * len(token_ids), token_ids]
        )
        (values,) = decode(["uint256[]"], await self._call(self.addresses.ctf, data))
        return [int(v) for v in values]

    async def payouts(self, condition_id: str) -> tuple[int, tuple[int, int]]:
        """(denominator, numerators of the two outcomes); a denominator of 0 means the
        condition has not been resolved on chain yet."""
        cid = c.condition_bytes(condition_id)
        (den,) = decode(
            ["uint256"],
            await self._call(self.addresses.ctf, c.PAYOUT_DENOMINATOR + encode(["bytes32"], [cid])),
        )
        if not den:
            return 0, (0, 0)
        nums = []
        for i in range(len(c.BINARY_INDEX_SETS)):
            args = encode(["bytes32", "uint256"], [cid, i])
            (n,) = decode(
                ["uint256"], await self._call(self.addresses.ctf, c.PAYOUT_NUMERATORS + args)
            )
            nums.append(int(n))
        return int(den), (nums[0], nums[1])

    async def collateral_balance(self) -> int:
        data = c.ERC20_BALANCE_OF + encode(["address"], [self.holder])
        (value,) = decode(["uint256"], await self._call(self.addresses.collateral, data))
        return int(value)

    async def is_approved(self, operator: str) -> bool:
        data = c.IS_APPROVED_FOR_ALL + encode(["address", "address"], [self.holder, operator])
        (ok,) = decode(["bool"], await self._call(self.addresses.ctf, data))
        return bool(ok)

    async def sign(self, call: c.Call) -> SignedTx:
        """Sign ``call`` at the next free nonce (pending ones included), with the gas
        estimate plus headroom and an EIP-1559 fee under the configured cap."""
        nonce = int(
            await self._rpc(
                "eth_getTransactionCount",
                self.w3.eth.get_transaction_count(self.address, "pending"),
            )
        )
        block = await self._rpc("eth_getBlock", self.w3.eth.get_block("latest"))
        base = int(block.get("baseFeePerGas") or 0)
        priority = self.gas.priority_wei
        if base + priority > self.gas.cap_wei:
            raise GasTooHigh(
                f"base fee {Decimal(base) / GWEI:.1f} gwei + tip is above POLY_GAS_MAX_FEE_GWEI"
            )
        max_fee = min(2 * base + priority, self.gas.cap_wei)
        tx: dict[str, Any] = {
            "from": self.address,
            "to": AsyncWeb3.to_checksum_address(call.to),
            "data": call.data,
            "value": call.value,
            "nonce": nonce,
            "chainId": await self.chain_id(),
            "maxPriorityFeePerGas": priority,
            "maxFeePerGas": max_fee,
        }
        estimate = int(await self._rpc("eth_estimateGas", self.w3.eth.estimate_gas(tx)))  # type: ignore[arg-type]
        tx["gas"] = int(estimate * _GAS_HEADROOM)
        signed = self._account.sign_transaction(tx)
        return SignedTx(
            tx_hash="0x" + bytes(signed.hash).hex(),
            raw="0x" + bytes(signed.raw_transaction).hex(),
            nonce=nonce,
            gas_limit=tx["gas"],
            max_fee_wei=max_fee,
        )

    async def broadcast(self, raw: str) -> None:
        """Send signed bytes; a node that already has them is not an error."""
        try:
            await self.w3.eth.send_raw_transaction(HexStr(raw))
        except Exception as exc:
            text = str(exc).lower()
            # Already in the pool, or its nonce already used (mined, most likely): the
            # receipt, not this answer, says what became of it.
            if any(k in text for k in ("already known", "known transaction", "nonce too low")):
                return
            raise ChainError(f"eth_sendRawTransaction: {type(exc).__name__}: {exc}") from None

    async def receipt(self, tx_hash: str) -> Receipt | None:
        try:
            rc = await self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except Exception as exc:
            if type(exc).__name__ == "TransactionNotFound":
                return None
            raise ChainError(f"eth_getTransactionReceipt: {type(exc).__name__}: {exc}") from None
        return Receipt(
            ok=int(rc["status"]) == 1,
            block=int(rc["blockNumber"]),
            gas_used=int(rc["gasUsed"]),
            gas_price_wei=int(rc.get("effectiveGasPrice") or 0),
            collateral_in=self._collateral_in(rc.get("logs") or []),
        )

    def _collateral_in(self, logs: list[Any]) -> int:
        me = self.holder.lower().removeprefix("0x").rjust(64, "0")
        token = self.addresses.collateral.lower()
        total = 0
        for log in logs:
            topics = [_hex(t) for t in log.get("topics", [])]
            if (
                str(log.get("address", "")).lower() == token
                and len(topics) == 3
                and topics[0] == c.TRANSFER_TOPIC
                and topics[2].removeprefix("0x") == me
            ):
                data = _hex(log.get("data", "0x"))
                total += int(data, 16) if len(data) > 2 else 0
        return total


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value).lower()
