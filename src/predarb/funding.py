"""Money on the Kalshi exchange shard a trade needs.

Kalshi runs several matching engines ("exchange shards"; new crypto events on 2, tennis
and baseball on 3) and checks collateral inside each: money on shard 0 does not pay for
an order on shard 3. The risk manager refuses such an opportunity (``shard_unfunded``)
before any leg is sent. Then ``ShardFunder``:

- with ``KALSHI_SHARD_FUNDING`` on, moves the shortfall from shard 0
  (``POST /portfolio/intra_exchange_instance_transfer``) and waits until the transfer
  is complete, within ``KALSHI_SHARD_FUNDING_CAP`` dollars a UTC day (counted in
  ``bot_state``, so a restart does not reset it);
- otherwise, or when the cap is reached or shard 0 is short too, tells the chat once
  per shard what to move, and the opportunity stays refused.

A transfer is sent once: a lost reply is not resent (the balances show later whether
it happened) and its amount counts against the cap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from predarb.domain import ZERO, Venue
from predarb.notify import messages
from predarb.notify.base import Alert, AlertKind
from predarb.store import Store
from predarb.venues.base import OrderStateUnknown, VenueError

log = logging.getLogger(__name__)

SOURCE_SHARD = 0  # where an account's money arrives
MOVED_PREFIX = "kalshi_shard_funding_moved:"  # + UTC day: dollars moved that day
DONE = "complete"


@runtime_checkable
class ShardTransfers(Protocol):
    async def transfer(self, amount: Decimal, destination: int, source: int = 0) -> str: ...

    async def transfer_status(self, transfer_id: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Funding:
    """The outcome of ``ShardFunder.cover``: money moved, or why not."""

    moved: bool
    reason: str = ""


class ShardFunder:
    def __init__(
        self,
        venue: ShardTransfers,
        store: Store,
        alert: Callable[[Alert], Awaitable[None]],
        clock: Callable[[], datetime],
        *,
        enabled: bool,
        cap: Decimal,
        poll_s: float = 0.2,
        timeout_s: float = 10.0,
    ) -> None:
        self.venue = venue
        self.store = store
        self.alert = alert
        self.clock = clock
        self.enabled = enabled
        self.cap = cap
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self._told: set[tuple[int, str]] = set()  # (shard, why) said in the chat
        self._pending: dict[int, str] = {}  # shard -> a transfer not yet complete

    async def cover(
        self, event: str, short: Mapping[tuple[Venue, int], Decimal], source_free: Decimal
    ) -> Funding:
        """Move ``short`` (dollars missing per Kalshi shard) from shard 0, which has
        ``source_free`` to spare, and wait for it; or say why not (once per shard)."""
        wanted = {
            shard: amount for (venue, shard), amount in short.items() if venue is Venue.KALSHI
        }
        if not wanted or SOURCE_SHARD in wanted:
            return Funding(False, "shard 0 itself is short: nothing to move from")
        total = sum(wanted.values(), ZERO)
        if not self.enabled:
            return await self._refuse(event, wanted, "off", "KALSHI_SHARD_FUNDING is off")
        moved_today = await self._moved_today()
        if moved_today + total > self.cap:
            why = (
                f"KALSHI_SHARD_FUNDING_CAP ${self.cap:.2f} reached (${moved_today:.2f} moved today)"
            )
            return await self._refuse(event, wanted, "cap", why)
        if source_free < total:
            return await self._refuse(event, wanted, "source", f"shard 0 has ${source_free:.2f}")
        for shard, amount in sorted(wanted.items()):
            outcome = await self._move(shard, amount)
            if not outcome.moved:
                return await self._refuse(event, wanted, "failed", outcome.reason)
        self._told = {t for t in self._told if t[0] not in wanted}
        return Funding(True)

    async def _move(self, shard: int, amount: Decimal) -> Funding:
        transfer_id = self._pending.get(shard)
        if transfer_id is None:  # a transfer still pending is waited for, never repeated
            await self._count(amount)  # before sending: a lost reply still counts
            try:
                transfer_id = await self.venue.transfer(amount, shard, SOURCE_SHARD)
            except OrderStateUnknown as exc:
                log.error("kalshi: transfer reply lost", extra={"shard": shard, "error": str(exc)})
                return Funding(False, "the transfer's reply was lost; the balances will show it")
            except VenueError as exc:
                await self._count(-amount)  # refused: nothing moved
                return Funding(False, f"transfer refused: {exc.message}")
            log.info(
                "kalshi: moving money to a shard",
                extra={"shard": shard, "amount": str(amount), "transfer_id": transfer_id},
            )
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                status = await self.venue.transfer_status(transfer_id)
            except VenueError as exc:
                status = f"unreadable ({exc.message})"
            if status == DONE:
                self._pending.pop(shard, None)
                return Funding(True)
            if time.monotonic() >= deadline:
                self._pending[shard] = transfer_id
                return Funding(False, f"transfer {transfer_id} still {status}")
            await asyncio.sleep(self.poll_s)

    async def _refuse(
        self, event: str, wanted: Mapping[int, Decimal], why: str, reason: str
    ) -> Funding:
        for shard, amount in sorted(wanted.items()):
            if (shard, why) in self._told:
                continue
            self._told.add((shard, why))
            source = "another shard" if shard == SOURCE_SHARD else f"shard {SOURCE_SHARD}"
            hint = (
                ""
                if shard == SOURCE_SHARD
                else ", or let the bot do it with KALSHI_SHARD_FUNDING=true within"
                " KALSHI_SHARD_FUNDING_CAP"
            )
            await self.alert(
                messages.info(
                    f"Kalshi exchange shard {shard} is ${amount:.2f} short for an arbitrage on"
                    f" {event} ({reason}); it is not traded. Kalshi pays an order only from"
                    f" its market's shard: move ${amount:.2f} from {source} to shard {shard}"
                    f" (kalshi.com, Account, Exchange indexes){hint}.",
                    AlertKind.BALANCE_LOW,
                )
            )
        return Funding(False, reason)

    def _key(self) -> str:
        return MOVED_PREFIX + self.clock().date().isoformat()

    async def _moved_today(self) -> Decimal:
        return Decimal(await self.store.get_state(self._key(), "0"))

    async def _count(self, amount: Decimal) -> None:
        moved = await self._moved_today() + amount
        await self.store.set_state(self._key(), str(moved), self.clock())
