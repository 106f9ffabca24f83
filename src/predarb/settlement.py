"""Settlement: turning resolved markets into realized P&L, once per execution.

For every unsettled execution, the net holdings (from its fills) are priced with each
venue's resolution. An execution settles only when every market it holds has resolved;
a venue that cannot answer now is asked again on the next run, and a settlement is
written once (the database refuses a second one). Two venues resolving one pair
differently is the resolution risk of cross-venue arbitrage: recorded, alerted, and
the pair blocked from further trading.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from predarb.domain import ZERO, Contract, ExecutionStatus, Resolution, Venue
from predarb.notify import messages
from predarb.notify.base import Alert, AlertKind
from predarb.store import Store
from predarb.store.records import ExecutionRecord, Holding
from predarb.venues.base import VenueClient, VenueError

log = logging.getLogger(__name__)

MISMATCH_BLOCK = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class SettleResult:
    settled: int
    pending: int
    errors: int


class Settler:
    def __init__(
        self,
        store: Store,
        venues: Mapping[Venue, VenueClient],
        notify: Callable[[Alert], Awaitable[None]],
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.venues = venues
        self.notify = notify
        self.clock = clock

    async def settle_once(self) -> SettleResult:
        settled = pending = errors = 0
        cache: dict[tuple[Venue, str], Resolution | None] = {}
        for ex in await self.store.executions(unsettled=True):
            if not ex.status.final and ex.status is not ExecutionStatus.PARTIAL:
                continue  # still being placed or recovered
            try:
                done = await self._settle(ex, cache)
            except VenueError as exc:
                errors += 1
                log.warning("settlement of %s deferred: %s", ex.id, exc)
                continue
            except Exception:
                errors += 1
                log.exception("settlement of %s failed", ex.id, extra={"execution": ex.id})
                continue
            if done:
                settled += 1
            else:
                pending += 1
        return SettleResult(settled, pending, errors)

    async def _settle(
        self, ex: ExecutionRecord, cache: dict[tuple[Venue, str], Resolution | None]
    ) -> bool:
        holdings = await self.store.holdings(ex.id)
        now = self.clock()
        held = [h for h in holdings if h.contracts != 0]
        if not held:
            # Nothing held: the execution's P&L is already final (no fill, or unwound).
            word = "nothing filled" if not holdings else "closed flat"
            await self.store.record_settlement(ex.id, [], word, now)
            return True
        lines: list[tuple[Holding, Decimal, bool]] = []
        for h in held:
            key = (h.venue, h.market_id)
            if key not in cache:
                cache[key] = await self.venues[h.venue].get_resolution(h.market_id)
            res = cache[key]
            if res is None:
                return False
            contract = Contract(h.venue, h.market_id, h.side, h.token_id)
            lines.append((h, res.payout(contract), res.void))
        mismatch = _mismatch(ex, lines)
        word = _describe(lines, mismatch)
        await self.store.record_settlement(ex.id, lines, word, now)
        record = await self.store.execution(ex.id)
        if record is not None:
            await self.notify(messages.settled(record))
        if mismatch:
            await self.store.block_pair(ex.pair_id, now + MISMATCH_BLOCK, mismatch)
            await self.notify(
                messages.info(f"RESOLUTION MISMATCH on {ex.event}: {mismatch}", AlertKind.MISMATCH)
            )
        return True


def _mismatch(ex: ExecutionRecord, lines: list[tuple[Holding, Decimal, bool]]) -> str:
    """An arbitrage holds one contract per world, so exactly one should pay $1 per
    contract; anything else (both, neither) means the venues disagreed."""
    if any(void for _, _, void in lines):
        return ""
    if ex.status is not ExecutionStatus.SUCCESS and ex.status is not ExecutionStatus.HEDGED:
        return ""
    per_contract = sum((per for _, per, _ in lines), ZERO)
    if per_contract == 1:
        return ""
    return (
        f"legs paid {per_contract} per contract in total instead of 1:"
        " the venues resolved this pair differently; pair blocked"
    )


def _describe(lines: list[tuple[Holding, Decimal, bool]], mismatch: str) -> str:
    if mismatch:
        return "venues disagreed"
    if any(void for _, _, void in lines):
        return "voided"
    winners = [f"{h.venue.value} {h.side}" for h, per, _ in lines if per > 0]
    return "won: " + ", ".join(winners) if winners else "no leg paid"
