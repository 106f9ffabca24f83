"""Positions reconciliation: what the database says we hold against what each venue
reports.

Local holdings are the net fills of every unsettled execution, summed per contract.
Kalshi nets YES against NO on one ticker (``position_fp`` is signed), so Kalshi is
compared per ticker as YES minus NO; Polymarket per token. A contract that only
settled executions held may stay on a venue until it is redeemed (Polymarket, the
paper ledger): that is not a difference.

An order in flight shows on the venue before its fill is stored, so a difference
alerts only once it has been seen on ``confirmations`` consecutive runs with the same
quantities, and then once until it changes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from predarb.domain import ZERO, Contract, Venue
from predarb.notify import messages
from predarb.notify.base import Alert
from predarb.store import Store
from predarb.store.redemptions import RedemptionStatus
from predarb.venues.base import VenueClient, VenueError

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (venue, ticker or token id)
MICRO = Decimal("0.000001")  # pUSD base units per dollar


@dataclass(frozen=True, slots=True)
class PositionDiff:
    venue: Venue
    contract: str  # readable name
    local: Decimal
    remote: Decimal

    @property
    def difference(self) -> Decimal:
        return self.remote - self.local


def position_key(venue: Venue, market_id: str, side: str, token_id: str) -> tuple[Key, Decimal]:
    """The key a contract is compared under, and the sign of its quantity there."""
    if venue is Venue.KALSHI:
        return (venue.value, market_id), Decimal(-1 if side.lower() == "no" else 1)
    if venue is Venue.POLYMARKET_US:  # one net position per market: long minus short
        return (venue.value, market_id), Decimal(-1 if token_id == "short" else 1)
    return (venue.value, token_id or f"{market_id}:{side.lower()}"), Decimal(1)


def _name(venue: Venue, market_id: str, side: str) -> str:
    if venue is Venue.KALSHI:
        return f"kalshi {market_id} (YES minus NO)"
    if venue is Venue.POLYMARKET_US:
        return f"polymarket_us {market_id} (long minus short)"
    return f"{venue.value} {market_id} {side}"


class Reconciler:
    def __init__(
        self,
        store: Store,
        venues: Mapping[Venue, VenueClient],
        notify: Callable[[Alert], Awaitable[None]],
        clock: Callable[[], datetime],
        *,
        confirmations: int = 2,
    ) -> None:
        self.store = store
        self.venues = venues
        self.notify = notify
        self.clock = clock
        self.confirmations = max(1, confirmations)
        self._seen: dict[Key, tuple[Decimal, Decimal, int]] = {}  # local, remote, runs
        self._alerted: dict[Key, tuple[Decimal, Decimal]] = {}

    async def reconcile_once(self) -> list[PositionDiff]:
        """Compare every venue; returns the confirmed differences (alerting new ones)."""
        diffs, _ = await self._compare()
        confirmed: list[PositionDiff] = []
        fresh: list[PositionDiff] = []
        for key, diff in diffs:
            if self._confirm(key, diff.local, diff.remote):
                confirmed.append(diff)
                if self._alerted.get(key) != (diff.local, diff.remote):
                    self._alerted[key] = (diff.local, diff.remote)
                    fresh.append(diff)
        if fresh:
            await self._record(fresh)
            await self.notify(
                messages.positions_mismatch([(d.contract, d.local, d.remote) for d in fresh])
            )
        return confirmed

    async def at_start(self) -> tuple[list[PositionDiff], dict[str, str]]:
        """One comparison before any trade, when nothing is in flight: every difference
        counts at once. Returns the differences (recorded, not told: the caller tells
        them) and the venues that could not be read (why). The periodic runs do not
        tell these differences again until they change."""
        diffs, unread = await self._compare()
        for key, d in diffs:
            self._seen[key] = (d.local, d.remote, self.confirmations)
            self._alerted[key] = (d.local, d.remote)
        if diffs:
            await self._record([d for _, d in diffs])
        return [d for _, d in diffs], unread

    async def _compare(self) -> tuple[list[tuple[Key, PositionDiff]], dict[str, str]]:
        """Every difference now (unconfirmed), and the venues that could not be read."""
        local, names = await self._local()
        await self._minus_redeemed(local)
        redeemable = {
            position_key(Venue(v), m, s, t)[0]
            for v, m, s, t in await self.store.settled_contracts()
            if v in Venue._value2member_map_
        }
        diffs: list[tuple[Key, PositionDiff]] = []
        unread: dict[str, str] = {}
        for venue, client in self.venues.items():
            try:
                positions = await client.get_positions()
            except VenueError as exc:
                log.warning("reconciliation of %s skipped: %s", venue.value, exc)
                unread[venue.value] = str(exc) or type(exc).__name__
                continue
            remote: dict[Key, Decimal] = {}
            for p in positions:
                key, sign = position_key(venue, *_parts(p.contract))
                remote[key] = remote.get(key, ZERO) + sign * p.contracts
                names.setdefault(key, _name(venue, p.contract.market_id, p.contract.side))
            keys = {k for k in local if k[0] == venue.value} | set(remote)
            for key in sorted(keys):
                mine, theirs = local.get(key, ZERO), remote.get(key, ZERO)
                if mine == theirs or (mine == 0 and key in redeemable):
                    self._seen.pop(key, None)
                    self._alerted.pop(key, None)
                    continue
                diffs.append((key, PositionDiff(venue, names[key], mine, theirs)))
        return diffs, unread

    async def _minus_redeemed(self, local: dict[Key, Decimal]) -> None:
        """Redeemed tokens are gone from the wallet, merged pairs too, even while their
        executions are not settled yet: not a difference."""
        for r in await self.store.redemptions(in_flight=False):
            if r.status is not RedemptionStatus.CONFIRMED or r.kind == "approve":
                continue
            for token in r.tokens:
                key = (Venue.POLYMARKET.value, token)
                if key not in local:
                    continue
                merged = Decimal(r.amount_units) * MICRO
                local[key] = ZERO if r.kind == "redeem" else max(ZERO, local[key] - merged)

    def _confirm(self, key: Key, mine: Decimal, theirs: Decimal) -> bool:
        last = self._seen.get(key)
        runs = last[2] + 1 if last is not None and last[:2] == (mine, theirs) else 1
        self._seen[key] = (mine, theirs, runs)
        return runs >= self.confirmations

    async def _local(self) -> tuple[dict[Key, Decimal], dict[Key, str]]:
        totals: dict[Key, Decimal] = {}
        names: dict[Key, str] = {}
        for h in await self.store.holdings():
            key, sign = position_key(h.venue, h.market_id, h.side, h.token_id)
            totals[key] = totals.get(key, ZERO) + sign * h.contracts
            names.setdefault(key, _name(h.venue, h.market_id, h.side))
        return totals, names

    async def _record(self, diffs: list[PositionDiff]) -> None:
        now = self.clock()
        for d in diffs:
            log.error(
                "position mismatch on %s: local %s, venue %s",
                d.contract,
                d.local,
                d.remote,
                extra={"venue": d.venue.value, "local": str(d.local), "remote": str(d.remote)},
            )
        await self.store.log_event(
            "positions_mismatch",
            now,
            differences=[
                {"contract": d.contract, "local": str(d.local), "venue": str(d.remote)}
                for d in diffs
            ],
        )


def _parts(c: Contract) -> tuple[str, str, str]:
    return c.market_id, c.side, c.token_id
