"""Settlement: turning resolved markets into realized P&L, once per execution.

For every unsettled execution, the net holdings (from its fills) are priced with each
venue's resolution: realized P&L = payouts - costs - fees of every leg. An execution
settles only when every market it holds has resolved; a venue that cannot answer now
is asked again on the next run, and a settlement is written once (the settlements
primary key and a guarded update refuse a second one).

Special cases, each alerted explicitly:
- nothing filled: settles at once with 0 P&L, silently (not a trade);
- nothing held any more (unwound): settles as "closed flat" with its realized loss;
- void: the venue refunds (Kalshi at cost when it names no payout; Polymarket pays a
  50/50 as 0.5 a share); alerted as VOIDED;
- the legs of a hedged arbitrage both win, both lose, or one venue voids while the
  other resolves: the venues disagreed. Recorded (resolution text and event log),
  alerted as MISMATCH, and the pair and its series are blocked from trading.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from predarb.domain import ZERO, Contract, ExecutionStatus, Resolution, Venue
from predarb.notify import messages
from predarb.notify.base import Alert
from predarb.store import Store
from predarb.store.records import ExecutionRecord, Holding
from predarb.store.repo import AlreadySettled
from predarb.venues.base import VenueClient, VenueError

log = logging.getLogger(__name__)

MISMATCH_BLOCK = timedelta(days=3650)
FIFTY_FIFTY = Decimal("0.5")
# Only a fully hedged arbitrage holds one contract per world, so only there does
# "exactly one leg pays" have to hold.
_HEDGED = (ExecutionStatus.SUCCESS, ExecutionStatus.HEDGED)

Line = tuple[Holding, Decimal, bool]  # holding, payout per contract, void
ResolutionCache = dict[tuple[Venue, str], Resolution | VenueError | None]


@dataclass(frozen=True, slots=True)
class SettleResult:
    settled: int  # settled in this run
    pending: int  # some market not resolved yet
    errors: int  # deferred (venue error) or failed (logged); tried again next run
    voided: int = 0
    mismatched: int = 0


@dataclass(frozen=True, slots=True)
class _Outcome:
    settled: bool
    voided: bool = False
    mismatched: bool = False


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
        self._lock = asyncio.Lock()  # one run at a time: the job and a manual call
        # Set by the engine when resolved Polymarket positions are redeemed by the bot.
        self.redeeming = False

    async def settle_once(self) -> SettleResult:
        async with self._lock:
            return await self._run()

    async def _run(self) -> SettleResult:
        settled = pending = errors = voided = mismatched = 0
        cache: ResolutionCache = {}
        for ex in await self.store.executions(unsettled=True):
            if not ex.status.final and ex.status is not ExecutionStatus.PARTIAL:
                continue  # still being placed or recovered
            extra = {"execution": ex.id, "event": ex.event}
            try:
                outcome = await self._settle(ex, cache)
            except VenueError as exc:
                errors += 1
                log.warning("settlement of %s deferred: %s", ex.id, exc, extra=extra)
                continue
            except AlreadySettled:
                log.info("execution %s was settled meanwhile", ex.id, extra=extra)
                continue
            except Exception:
                errors += 1
                log.exception("settlement of %s failed", ex.id, extra=extra)
                continue
            settled += outcome.settled
            pending += not outcome.settled
            voided += outcome.voided
            mismatched += outcome.mismatched
        if settled or errors:
            log.info(
                "settlement run: %d settled, %d pending, %d deferred or failed",
                settled,
                pending,
                errors,
                extra={"settled": settled, "pending": pending, "errors": errors},
            )
        return SettleResult(settled, pending, errors, voided, mismatched)

    async def _resolution(
        self, venue: Venue, market_id: str, cache: ResolutionCache
    ) -> Resolution | None:
        key = (venue, market_id)
        if key not in cache:
            try:
                cache[key] = await self.venues[venue].get_resolution(market_id)
            except VenueError as exc:
                cache[key] = exc  # one outage defers every execution in that market
        found = cache[key]
        if isinstance(found, VenueError):
            raise found
        return found

    async def _settle(self, ex: ExecutionRecord, cache: ResolutionCache) -> _Outcome:
        holdings = await self.store.holdings(ex.id)
        held = [h for h in holdings if h.contracts != 0]
        if not held:
            return await self._settle_flat(ex, holdings)
        lines: list[Line] = []
        for h in held:
            res = await self._resolution(h.venue, h.market_id, cache)
            if res is None:
                return _Outcome(False)
            lines.append(_line(h, res))
        now = self.clock()
        mismatch = _mismatch(ex, lines)
        if mismatch:
            # Block before recording: a crash in between re-blocks on the next run.
            series = await self._block(ex, lines, mismatch, now)
            mismatch = f"{mismatch}; blocked pair {ex.pair_id}" + (
                f" and series {', '.join(series)}" if series else ""
            )
        all_void = all(void for _, _, void in lines)
        await self.store.record_settlement(ex.id, lines, _describe(lines, mismatch), now)
        record = await self.store.execution(ex.id)
        assert record is not None
        if mismatch:
            await self.notify(messages.resolution_mismatch(record, mismatch))
        elif all_void:
            await self.notify(messages.voided(record))
        else:
            await self.notify(messages.settled(record, _money_back(lines, self.redeeming)))
        return _Outcome(True, voided=all_void and not mismatch, mismatched=bool(mismatch))

    async def _settle_flat(self, ex: ExecutionRecord, holdings: list[Holding]) -> _Outcome:
        """Nothing held: the execution's P&L is already final."""
        now = self.clock()
        if not holdings:
            await self.store.record_settlement(ex.id, [], "nothing filled", now)
            return _Outcome(True)
        await self.store.record_settlement(ex.id, [], "closed flat", now)
        record = await self.store.execution(ex.id)
        assert record is not None
        await self.notify(messages.settled(record))
        return _Outcome(True)

    async def _block(
        self, ex: ExecutionRecord, lines: list[Line], reason: str, now: datetime
    ) -> tuple[str, ...]:
        """Record the disagreement and block the pair and the series it belongs to."""
        series = await self.store.pair_series(ex.pair_id) or _kalshi_series(lines)
        await self.store.log_event(
            "resolution_mismatch",
            now,
            execution_id=ex.id,
            pair_id=ex.pair_id,
            reason=reason,
            series=list(series),
            legs=[
                {
                    "venue": h.venue.value,
                    "market": h.market_id,
                    "side": h.side,
                    "contracts": str(h.contracts),
                    "payout_per_contract": str(per),
                    "void": void,
                }
                for h, per, void in lines
            ],
        )
        await self.store.block_pair(ex.pair_id, now + MISMATCH_BLOCK, reason)
        if series:
            await self.store.block_series(series, now + MISMATCH_BLOCK, reason, now)
        log.error(
            "resolution mismatch on %s: %s",
            ex.event,
            reason,
            extra={"execution": ex.id, "pair": ex.pair_id, "series": list(series)},
        )
        return series


def is_void(res: Resolution) -> bool:
    """Void or cancelled: flagged by the venue, or a 50/50 (every side pays half)."""
    values = set(res.payouts.values())
    return res.void or values == {FIFTY_FIFTY}


def _line(h: Holding, res: Resolution) -> Line:
    contract = Contract(h.venue, h.market_id, h.side, h.token_id)
    void = is_void(res)
    try:
        per = res.payout(contract)
    except KeyError:
        if not void:
            raise
        # A void that names no payout (Kalshi) refunds what was paid for the contracts.
        per = h.cost / h.contracts if h.contracts > 0 else ZERO
    return h, per, void


def _mismatch(ex: ExecutionRecord, lines: list[Line]) -> str:
    """An arbitrage holds one contract per world, so exactly one leg should pay $1 per
    contract; both, neither, or one venue voiding alone means the venues disagreed."""
    if ex.status not in _HEDGED:
        return ""
    voids = {void for _, _, void in lines}
    if voids == {True}:
        return ""
    if voids == {True, False}:
        gone = ", ".join(f"{h.venue.value} {h.market_id}" for h, _, void in lines if void)
        return f"voided on {gone} only, the other leg resolved"
    per_contract = sum((per for _, per, _ in lines), ZERO)
    if per_contract == 1:
        return ""
    what = "every leg lost" if per_contract == 0 else f"the legs paid {per_contract} per contract"
    return f"{what} (one leg should pay 1): the venues resolved this pair differently"


def _money_back(lines: list[Line], redeeming: bool) -> str:
    """When the payout is spendable: Kalshi pays by itself, Polymarket once redeemed."""
    poly = sum(
        (h.contracts * per for h, per, _ in lines if h.venue is Venue.POLYMARKET and per > 0),
        ZERO,
    )
    if poly <= 0:
        return ""
    if redeeming:
        return (
            f"polymarket ${poly:.2f} comes back when redeemed on chain (automatic);"
            " MONEY BACK says when"
        )
    return f"polymarket ${poly:.2f} stays locked until redeemed (polymarket.com: Redeem)"


def _describe(lines: list[Line], mismatch: str) -> str:
    if mismatch:
        return "MISMATCH: " + mismatch
    if all(void for _, _, void in lines):
        return "voided: " + ", ".join(f"{h.venue.value} {h.market_id}" for h, _, _ in lines)
    winners = [f"{h.venue.value} {h.side}" for h, per, _ in lines if per > 0]
    return "won: " + ", ".join(winners) if winners else "no leg paid"


def _kalshi_series(lines: list[Line]) -> tuple[str, ...]:
    """A Kalshi ticker starts with its series ticker (``KXNBAGAME-26NOV22LALBOS``)."""
    found = {h.market_id.split("-", 1)[0] for h, _, _ in lines if h.venue is Venue.KALSHI}
    return tuple(sorted(s for s in found if s))
