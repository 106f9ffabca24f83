"""How a redemption reaches the chain: the bot's EOA pays its own gas, or Polymarket's
gasless relayer runs it from the proxy or Safe wallet. Both are written ahead the same
way: ``prepare`` signs (nothing leaves), the caller stores the result, ``send`` hands it
over, ``outcome`` says what became of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from predarb.capital.chain import Chain, Receipt
from predarb.capital.contracts import Call
from predarb.store.redemptions import Redemption


@dataclass(frozen=True, slots=True)
class Prepared:
    nonce: int
    tx_hash: str  # known before sending (EOA); "" until the relayer names it
    signed: str


class State(StrEnum):
    PENDING = "pending"  # not in a block yet
    MINED = "mined"
    FAILED = "failed"  # reverted, or refused for good
    DROPPED = "dropped"  # will never be mined
    RESEND = "resend"  # not mined, its nonce still free: the same bytes may go again


@dataclass(frozen=True, slots=True)
class Outcome:
    state: State
    receipt: Receipt | None = None
    tx_hash: str = ""
    reason: str = ""
    relayer_id: str = ""


class Route(Protocol):
    name: str

    async def prepare(self, call: Call) -> Prepared: ...

    async def send(self, row: Redemption) -> tuple[str, str]:
        """Hand the prepared transaction over; returns (tx hash, relayer id), either
        possibly empty. Raises ``ChainError`` when it may not have arrived."""
        ...

    async def outcome(self, row: Redemption) -> Outcome: ...


class EoaRoute:
    """Signature type 0: the wallet signs and pays gas in POL."""

    name = "eoa"

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    async def prepare(self, call: Call) -> Prepared:
        signed = await self.chain.sign(call)
        return Prepared(signed.nonce, signed.tx_hash, signed.raw)

    async def send(self, row: Redemption) -> tuple[str, str]:
        await self.chain.broadcast(row.signed)
        return row.tx_hash, ""

    async def outcome(self, row: Redemption) -> Outcome:
        receipt = await self.chain.receipt(row.tx_hash)
        if receipt is not None:
            state = State.MINED if receipt.ok else State.FAILED
            return Outcome(state, receipt, row.tx_hash, "" if receipt.ok else "reverted")
        if row.nonce is not None and await self.chain.latest_nonce() > row.nonce:
            return Outcome(State.DROPPED, reason="its nonce was used by another transaction")
        # Not mined and its nonce is free: it may never have left (a crash), or a node may
        # have dropped it. The same bytes again cannot make a second transaction.
        return Outcome(State.RESEND)
