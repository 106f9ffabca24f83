"""The balance job's rows in ``bot_state``, the one record of the money that /balance,
``predarb status``, the capital view and the dashboard all read: each venue's total
(``balance:<venue>``) and, for a venue that holds cash per exchange shard (Kalshi),
each shard's (``shard_balances:<venue>``, written with the total from one read).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from predarb.domain import Venue
from predarb.store import Store
from predarb.store.state import BALANCE_PREFIX

SHARD_BALANCE_PREFIX = "shard_balances:"  # + venue: "0=98.0186,3=0" (Kalshi shards)


def stored_balances(
    state: Mapping[str, str],
) -> tuple[dict[Venue, Decimal], dict[Venue, dict[int, Decimal]]]:
    """Each venue's total and, for a venue paying per shard, each shard's cash, from
    ``bot_state`` rows (key -> value)."""
    totals: dict[Venue, Decimal] = {}
    shards: dict[Venue, dict[int, Decimal]] = {}
    for key, value in state.items():
        if key.startswith(BALANCE_PREFIX):
            name = key.removeprefix(BALANCE_PREFIX)
            if name in Venue._value2member_map_:
                totals[Venue(name)] = Decimal(value)
        elif key.startswith(SHARD_BALANCE_PREFIX):
            name = key.removeprefix(SHARD_BALANCE_PREFIX)
            if name in Venue._value2member_map_ and (parsed := parse_shard_balances(value)):
                shards[Venue(name)] = parsed
    return totals, shards


async def read_balances(
    store: Store,
) -> tuple[dict[Venue, Decimal], dict[Venue, dict[int, Decimal]]]:
    """``stored_balances`` of the store's rows."""
    rows = await store.query(
        "SELECT key, value FROM bot_state WHERE key LIKE ? OR key LIKE ?",
        (BALANCE_PREFIX + "%", SHARD_BALANCE_PREFIX + "%"),
    )
    return stored_balances({str(k): str(v) for k, v in rows})


def shard_balances_text(shards: Mapping[int, Decimal]) -> str:
    return ",".join(f"{i}={amount}" for i, amount in sorted(shards.items()))


def parse_shard_balances(text: str) -> dict[int, Decimal]:
    out: dict[int, Decimal] = {}
    for item in filter(None, text.split(",")):
        index, _, amount = item.partition("=")
        out[int(index)] = Decimal(amount)
    return out
