"""One view of the money, per venue and per sub-account (a Kalshi exchange shard):
free balance, money held in open positions, money waiting to be redeemed, and what the
next trades need. Read from the database only (no I/O to venues).

Balances are the ``bot_state`` rows the balance job writes (``balance_rows.read_balances``:
``balance:<venue>`` for a venue's total, ``shard_balances:<venue>`` for its cash on each
exchange shard), the same rows /balance and status show. A venue with shards is shown
by its shards (``kalshi/0``, ``kalshi/3``), each of which must fund its own trades
(collateral is checked inside each shard).

Waiting to be redeemed: the Polymarket payouts of settled executions whose tokens no
confirmed redemption has brought back yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from predarb.balance_rows import read_balances
from predarb.domain import Venue
from predarb.store import Store
from predarb.store.records import from_micros
from predarb.store.state import this_mode

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Account:
    name: str  # "polymarket", "kalshi", "kalshi/2"
    venue: Venue
    free: Decimal
    to_redeem: Decimal
    needed: Decimal  # to fund the next trades: the largest bet plus the balance floor

    @property
    def short(self) -> Decimal:
        """What is missing for the next trade, counting money on its way back."""
        return max(ZERO, self.needed - self.free - self.to_redeem)

    @property
    def spare(self) -> Decimal:
        return max(ZERO, self.free - self.needed)


@dataclass(frozen=True, slots=True)
class CapitalView:
    accounts: tuple[Account, ...]
    held: dict[Venue, Decimal]  # money in open positions, per venue (shards share it)

    def lines(self) -> list[str]:
        out = []
        for a in self.accounts:
            parts = [f"free ${a.free:.2f}"]
            if "/" not in a.name:
                parts.append(f"in positions ${self.held.get(a.venue, ZERO):.2f}")
            if a.to_redeem:
                parts.append(f"to redeem ${a.to_redeem:.2f}")
            parts.append(f"next trades need ${a.needed:.2f}")
            out.append(f"{a.name}: " + ", ".join(parts) + (" SHORT" if a.short else ""))
        for venue, amount in sorted(self.held.items()):
            if amount and not any(a.name == venue.value for a in self.accounts):
                out.append(f"{venue.value} in positions ${amount:.2f}")
        return out

    def advice(self) -> list[str]:
        """For each account that cannot fund its next trade: where to move money from."""
        out = []
        for acc in self.accounts:
            if acc.short <= 0:
                continue
            donors = sorted(
                (a for a in self.accounts if a is not acc and a.spare >= acc.short),
                key=lambda a: a.spare,
                reverse=True,
            )
            amount = acc.short.quantize(Decimal("0.01"))
            if not donors:
                out.append(f"{acc.name} needs ${amount} more and no account has it spare")
                continue
            donor = donors[0]
            how = (
                "an intra-exchange shard transfer"
                if donor.venue is acc.venue
                else "withdraw and deposit"
            )
            out.append(
                f"move ${amount} from {donor.name} (spare ${donor.spare:.2f}) to {acc.name}"
                f" (free ${acc.free:.2f}, next trades need ${acc.needed:.2f}): {how}"
            )
        return out


async def capital_view(store: Store, *, needed: Decimal) -> CapitalView:
    free = await _balances(store)
    held = await _in_positions(store)
    waiting = await waiting_to_redeem(store)
    accounts = []
    for name, balance in sorted(free.items()):
        venue = Venue(name.split("/", 1)[0])
        accounts.append(
            Account(
                name=name,
                venue=venue,
                free=balance,
                to_redeem=waiting if venue is Venue.POLYMARKET else ZERO,
                needed=needed,
            )
        )
    return CapitalView(tuple(accounts), held)


async def _balances(store: Store) -> dict[str, Decimal]:
    """Each account's free cash: a venue's total, or each of its shards instead."""
    totals, shards = await read_balances(store)
    found: dict[str, Decimal] = {}
    for venue in {*totals, *shards}:
        per_shard = shards.get(venue)
        if per_shard:
            found.update({f"{venue.value}/{i}": b for i, b in per_shard.items()})
        else:
            found[venue.value] = totals[venue]
    return found


async def _in_positions(store: Store) -> dict[Venue, Decimal]:
    rows = await store.query(
        "SELECT f.venue, COALESCE(SUM(f.cost_micros + f.fee_micros), 0) FROM fills f"
        " JOIN executions e ON e.id = f.execution_id WHERE e.settled_at IS NULL"
        f" AND {this_mode('e')} GROUP BY f.venue"
    )
    return {Venue(str(v)): from_micros(int(m)) for v, m in rows}


async def waiting_to_redeem(store: Store) -> Decimal:
    """Polymarket payouts settled but not yet brought back by a confirmed redemption."""
    rows = await store.query(
        "SELECT COALESCE(SUM(s.payout_micros), 0) FROM settlements s"
        " WHERE s.venue = 'polymarket' AND s.payout_micros > 0 AND NOT EXISTS ("
        "  SELECT 1 FROM fills f, redemptions r, json_each(r.tokens) t"
        "  WHERE f.execution_id = s.execution_id AND f.market_id = s.market_id"
        "  AND f.side = s.side"
        # the key reconciliation uses: the token id, or market:side without one (sim)
        "  AND COALESCE(NULLIF(f.token_id, ''), f.market_id || ':' || lower(f.side)) = t.value"
        "  AND r.kind = 'redeem' AND r.status = 'confirmed')"
    )
    return from_micros(int(rows[0][0]))
