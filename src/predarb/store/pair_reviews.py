"""Answers to pair reviews, kept in the store's ``bot_state`` across restarts.

One JSON object under ``REVIEWS_KEY``: pair id -> the pair as it was asked about (the
``predarb pairs --json`` object), its markets' rules, and the answer once there is one.
Reviews are few (a handful a day), so one row is simpler than a table of their own.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from predarb.store import Store
from predarb.store.records import iso

REVIEWS_KEY = "pair_reviews"
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


@dataclass
class Review:
    pair_id: str
    pair: dict[str, Any]  # matching.codec.pair_to_json
    rules: dict[str, str] = field(default_factory=dict)  # "venue:market" -> rules text
    status: str = PENDING
    asked_at: str = ""
    answered_at: str = ""
    answered_by: int = 0
    notified: bool = False  # the question reached the chat

    @property
    def answer(self) -> bool | None:
        return {APPROVED: True, REJECTED: False}.get(self.status)


class PairReviews:
    """The reviews repository over one ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Each change reads the one row and writes it back: an answer from the dashboard
        # and a question being marked sent must not overwrite each other.
        self._changing = asyncio.Lock()

    async def all(self) -> dict[str, Review]:
        raw = await self.store.get_state(REVIEWS_KEY)
        if not raw:
            return {}
        return {k: Review(**v) for k, v in json.loads(raw).items()}

    async def _save(self, reviews: dict[str, Review], now: datetime) -> None:
        body = {k: vars(r) for k, r in reviews.items()}
        await self.store.set_state(REVIEWS_KEY, json.dumps(body, sort_keys=True), now)

    async def ask(self, reviews: list[Review], now: datetime, limit: int) -> list[Review]:
        """Record up to ``limit`` new questions; returns those (not asked before)."""
        async with self._changing:
            known = await self.all()
            new = [r for r in reviews if r.pair_id not in known][:limit]
            for r in new:
                r.asked_at = iso(now)
                known[r.pair_id] = r
            if new:
                await self._save(known, now)
        return new

    async def mark_notified(self, pair_id: str, now: datetime) -> None:
        async with self._changing:
            known = await self.all()
            if pair_id in known and not known[pair_id].notified:
                known[pair_id].notified = True
                await self._save(known, now)

    async def answer(self, pair_id: str, approve: bool, by: int, now: datetime) -> Review | None:
        """Store an answer to a pending question; None if unknown or already answered."""
        async with self._changing:
            known = await self.all()
            review = known.get(pair_id)
            if review is None or review.status != PENDING:
                return None
            review.status = APPROVED if approve else REJECTED
            review.answered_at, review.answered_by = iso(now), by
            await self._save(known, now)
        return review

    async def answers(self) -> dict[str, bool]:
        return {k: a for k, r in (await self.all()).items() if (a := r.answer) is not None}

    async def pending(self) -> list[Review]:
        reviews = (await self.all()).values()
        return sorted((r for r in reviews if r.status == PENDING), key=lambda r: r.asked_at)
