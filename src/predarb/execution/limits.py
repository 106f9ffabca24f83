"""What one-legged results cost: the pair is blocked after a few of them, and trading
stops after a few in a day. Counted from the executions table, so the counters survive
restarts (and so do the block, in ``pair_blocks``, and the kill switch, in bot_state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from predarb.config import Settings
from predarb.store import Store


@dataclass(frozen=True, slots=True)
class OneLeggedVerdict:
    block_until: datetime | None  # block the pair until then
    block_reason: str
    trip_reason: str  # trip the kill switch with this reason ("" = no)


async def after_one_legged(
    store: Store, pair_id: str, now: datetime, day_start: datetime, settings: Settings
) -> OneLeggedVerdict:
    """Call after a one-legged result on ``pair_id`` has been recorded. A pair is blocked
    when it had ``EXECUTOR_PAIR_PARTIAL_LIMIT`` one-legged results within the block
    window; trading stops at ``EXECUTOR_DAILY_PARTIAL_LIMIT`` in the UTC day."""
    window = timedelta(hours=settings.executor_pair_block_hours)
    on_pair = await store.one_legged_count(now - window, pair_id)
    block_until, block_reason = None, ""
    if on_pair >= settings.executor_pair_partial_limit:
        block_until = now + window
        block_reason = (
            f"{on_pair} one-legged results on this pair within"
            f" {settings.executor_pair_block_hours:g} h (EXECUTOR_PAIR_PARTIAL_LIMIT)"
        )
        if pair_id not in await store.pair_blocks(now):
            await store.block_pair(pair_id, block_until, block_reason)
        else:
            block_until = None  # already blocked: no second alert
    today = await store.one_legged_count(day_start)
    trip = ""
    if today >= settings.executor_daily_partial_limit:
        trip = (
            f"{today} one-legged results today reached EXECUTOR_DAILY_PARTIAL_LIMIT"
            f" {settings.executor_daily_partial_limit}"
        )
    return OneLeggedVerdict(block_until, block_reason, trip)
