"""Bringing Polymarket money back: redeem resolved positions, merge YES+NO pairs.

On Polymarket a winning position stays outcome tokens until redeemed, and a YES held
together with a NO of the same market is worth $1 a pair only once merged. Each run:

1. finishes what is in flight (a crash included): a transaction with no receipt whose
   nonce is still free is sent again, the same signed bytes (one nonce, one
   transaction); one mined counts once it is ``confirmations`` blocks deep;
2. looks at every Polymarket token the bot ever filled, grouped by condition, and reads
   the chain: a resolved condition with a balance is redeemed, an open one holding both
   outcomes is merged (the smaller balance), one transaction per condition;
3. after each confirmation, asks the CLOB to re-read the wallet
   (``/balance-allowance/update``) and says in the chat that the money is back.

Every transaction is written ahead (signed bytes and hash committed first), like an order.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from predarb.capital import contracts as c
from predarb.capital.chain import Chain, ChainError
from predarb.capital.routes import Outcome, Prepared, Route, State
from predarb.notify import messages
from predarb.notify.base import Alert
from predarb.store import Store
from predarb.store.redemptions import Redemption, RedemptionStatus

log = logging.getLogger(__name__)

UNIT = Decimal("0.000001")  # one pUSD base unit
MAX_FAILURES = 3  # reverted transactions for one condition before it waits for a human


def crash_point(name: str) -> None:
    """Replaced by the crash test to kill the process at ``name``."""


@dataclass(frozen=True, slots=True)
class Condition:
    condition_id: str
    neg_risk: bool
    tokens: tuple[str, str]  # outcome 0 (index set 1) and outcome 1 (index set 2)


class ConditionLookup(Protocol):
    async def condition_of(self, token_id: str) -> Condition: ...


@dataclass
class RedeemResult:
    sent: int = 0
    confirmed: int = 0
    failed: int = 0
    pending: int = 0
    received: Decimal = Decimal(0)
    errors: list[str] = field(default_factory=list)


class Redeemer:
    def __init__(
        self,
        store: Store,
        chain: Chain,
        route: Route,
        conditions: ConditionLookup,
        notify: Callable[[Alert], Awaitable[None]],
        clock: Callable[[], datetime],
        *,
        confirmations: int = 5,
        merge: bool = True,
        refresh: Callable[[Sequence[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.chain = chain
        self.route = route
        self.conditions = conditions
        self.notify = notify
        self.clock = clock
        self.confirmations = max(1, confirmations)
        self.merge = merge
        self.refresh = refresh
        self._lock = asyncio.Lock()  # one run at a time: the schedule and settlement
        self._known: dict[str, Condition] = {}

    async def run_once(self) -> RedeemResult:
        async with self._lock:
            result = RedeemResult()
            try:
                await self._finish_in_flight(result)
                await self._start_new(result)
                await self._finish_in_flight(result)
            except ChainError as exc:
                result.errors.append(str(exc))
                log.warning("redemption run deferred: %s", exc)
            return result

    # -- what is in flight -------------------------------------------------------

    async def _finish_in_flight(self, result: RedeemResult) -> None:
        for row in await self.store.redemptions(in_flight=True):
            outcome = await self.route.outcome(row)
            await self._advance(row, outcome, result)

    async def _advance(self, row: Redemption, outcome: Outcome, result: RedeemResult) -> None:
        now = self.clock()
        if outcome.state is State.RESEND:
            tx_hash, relayer_id = await self.route.send(row)
            await self.store.update_redemption(
                row.id,
                RedemptionStatus.SENT,
                now,
                tx_hash=tx_hash or row.tx_hash,
                relayer_id=relayer_id or row.relayer_id,
            )
            result.pending += 1
        elif outcome.state is State.PENDING:
            if outcome.tx_hash and outcome.tx_hash != row.tx_hash:
                await self.store.update_redemption(row.id, row.status, now, tx_hash=outcome.tx_hash)
            result.pending += 1
        elif outcome.state in (State.FAILED, State.DROPPED):
            status = (
                RedemptionStatus.FAILED
                if outcome.state is State.FAILED
                else RedemptionStatus.DROPPED
            )
            fields: dict[str, object] = {"error": outcome.reason}
            if outcome.receipt is not None:
                fields.update(
                    block_number=outcome.receipt.block,
                    gas_used=outcome.receipt.gas_used,
                    gas_cost_wei=outcome.receipt.cost_wei,
                )
            await self.store.update_redemption(row.id, status, now, **fields)
            await self.store.log_event(
                f"{row.kind}_{status.value}", now, condition=row.condition_id, reason=outcome.reason
            )
            if row.kind != "approve":
                result.failed += 1
                await self.notify(messages.redemption_failed(row, outcome.reason))
        else:  # mined
            await self._mined(row, outcome, result)

    async def _mined(self, row: Redemption, outcome: Outcome, result: RedeemResult) -> None:
        receipt = outcome.receipt
        assert receipt is not None
        now = self.clock()
        depth = await self.chain.block_number() - receipt.block + 1
        if depth < self.confirmations:
            if row.status is not RedemptionStatus.MINED:
                await self.store.update_redemption(
                    row.id,
                    RedemptionStatus.MINED,
                    now,
                    tx_hash=outcome.tx_hash or row.tx_hash,
                    block_number=receipt.block,
                )
            result.pending += 1
            return
        received = Decimal(receipt.collateral_in) * UNIT
        await self.store.update_redemption(
            row.id,
            RedemptionStatus.CONFIRMED,
            now,
            tx_hash=outcome.tx_hash or row.tx_hash,
            block_number=receipt.block,
            gas_used=receipt.gas_used,
            gas_cost_wei=receipt.cost_wei,
            received=received,
        )
        await self.store.log_event(
            f"{row.kind}_confirmed",
            now,
            condition=row.condition_id,
            tx_hash=outcome.tx_hash or row.tx_hash,
            received=str(received),
            gas_used=receipt.gas_used,
        )
        if row.kind == "approve":
            return
        result.confirmed += 1
        result.received += received
        log.info(
            "%s of %s confirmed: %s pUSD back",
            row.kind,
            row.condition_id,
            received,
            extra={"tx": outcome.tx_hash or row.tx_hash, "gas_used": receipt.gas_used},
        )
        if self.refresh is not None:
            try:
                await self.refresh(row.tokens)
            except Exception as exc:  # the CLOB re-reads by itself later; never fatal
                log.warning("CLOB balance refresh failed: %s", exc)
        confirmed = await self.store.redemption(row.id)
        assert confirmed is not None
        await self.notify(messages.money_back(confirmed))

    # -- new work ----------------------------------------------------------------

    async def _start_new(self, result: RedeemResult) -> None:
        history = await self.store.redemptions()
        busy = {(r.condition_id, r.kind) for r in history if r.status.in_flight}
        failures: dict[str, int] = {}
        for r in history:
            if r.status is RedemptionStatus.FAILED:
                failures[r.condition_id] = failures.get(r.condition_id, 0) + 1
        for cond in await self._held_conditions():
            if failures.get(cond.condition_id, 0) >= MAX_FAILURES:
                continue
            if any(cid == cond.condition_id for cid, _ in busy):
                continue  # one transaction per condition at a time
            call, kind, amount, expected = await self._plan(cond)
            if call is None:
                continue
            if not await self._approved(call.to, busy):
                continue
            await self._send_new(cond, call, kind, amount, expected, result)

    async def _held_conditions(self) -> list[Condition]:
        out: dict[str, Condition] = {}
        for token, _execution in await self.store.polymarket_tokens():
            cond = self._known.get(token)
            if cond is None:
                try:
                    cond = await self.conditions.condition_of(token)
                except Exception as exc:  # a venue outage: ask again next run
                    log.warning("no condition for token %s yet: %s", token, exc)
                    continue
                for t in cond.tokens:
                    self._known[t] = cond
            out.setdefault(cond.condition_id, cond)
        return list(out.values())

    async def _plan(self, cond: Condition) -> tuple[c.Call | None, str, int, Decimal]:
        balances = await self.chain.position_balances([int(t) for t in cond.tokens])
        if not any(balances):
            return None, "", 0, Decimal(0)
        den, nums = await self.chain.payouts(cond.condition_id)
        addresses = self.chain.addresses
        if den:
            units = sum(b * n for b, n in zip(balances, nums, strict=True)) // den
            if not units:
                return None, "", 0, Decimal(0)  # only losing tokens: gas for nothing
            call = c.redeem_call(addresses, cond.condition_id, cond.neg_risk)
            return call, "redeem", 0, Decimal(units) * UNIT
        pair = min(balances)
        if self.merge and pair > 0:
            call = c.merge_call(addresses, cond.condition_id, cond.neg_risk, pair)
            return call, "merge", pair, Decimal(pair) * UNIT
        return None, "", 0, Decimal(0)

    async def _approved(self, operator: str, busy: set[tuple[str, str]]) -> bool:
        """The adapter may move the wallet's positions: approved once, on the CTF."""
        if await self.chain.is_approved(operator):
            return True
        if (operator, "approve") in busy:
            return False
        call = c.approval_call(self.chain.addresses, operator)
        prepared = await self.route.prepare(call)
        now = self.clock()
        row_id = f"approve-{operator.lower()}-{prepared.nonce}"
        try:
            await self._write_ahead(row_id, "approve", operator, False, (), 0, Decimal(0), prepared)
        except sqlite3.IntegrityError:
            return False
        busy.add((operator, "approve"))
        await self._send(row_id, now)
        return False  # the redemption follows once the approval is confirmed

    async def _send_new(
        self,
        cond: Condition,
        call: c.Call,
        kind: str,
        amount: int,
        expected: Decimal,
        result: RedeemResult,
    ) -> None:
        prepared = await self.route.prepare(call)
        row_id = f"{kind}-{cond.condition_id}-{prepared.nonce}"
        try:
            await self._write_ahead(
                row_id,
                kind,
                cond.condition_id,
                cond.neg_risk,
                cond.tokens,
                amount,
                expected,
                prepared,
            )
        except sqlite3.IntegrityError:
            log.info("a %s of %s is already in flight", kind, cond.condition_id)
            return
        crash_point(f"{kind}:after_write_ahead")
        await self._send(row_id, self.clock())
        crash_point(f"{kind}:after_send")
        result.sent += 1
        log.info(
            "%s of %s sent: %s pUSD expected",
            kind,
            cond.condition_id,
            expected,
            extra={"tx": prepared.tx_hash, "nonce": prepared.nonce},
        )

    async def _write_ahead(
        self,
        row_id: str,
        kind: str,
        condition_id: str,
        neg_risk: bool,
        tokens: Sequence[str],
        amount: int,
        expected: Decimal,
        prepared: Prepared,
    ) -> None:
        await self.store.create_redemption(
            redemption_id=row_id,
            kind=kind,
            condition_id=condition_id,
            neg_risk=neg_risk,
            route=self.route.name,
            wallet=self.chain.holder,
            tokens=tokens,
            amount_units=amount,
            expected=expected,
            nonce=prepared.nonce,
            tx_hash=prepared.tx_hash,
            signed=prepared.signed,
            now=self.clock(),
        )

    async def _send(self, row_id: str, now: datetime) -> None:
        row = await self.store.redemption(row_id)
        assert row is not None
        try:
            tx_hash, relayer_id = await self.route.send(row)
        except ChainError as exc:
            # It may have arrived: the next run looks before sending the same bytes again.
            log.warning("sending %s failed, looked up next run: %s", row_id, exc)
            return
        await self.store.update_redemption(
            row_id,
            RedemptionStatus.SENT,
            now,
            tx_hash=tx_hash or row.tx_hash,
            relayer_id=relayer_id,
        )
