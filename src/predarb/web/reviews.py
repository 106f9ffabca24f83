"""Pair review on the dashboard: the same questions the chat is asked, answered the same
way (``notify.pair_review.PairReview.decide``: stored in ``store.pair_reviews`` and
applied to the engine's pairs at once), so an answer given on either side counts on
both. The routes sit behind the dashboard's guard like stop and start: the token, and
for a cookie-borne POST the dashboard's own origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from predarb.store.pair_reviews import Review

if TYPE_CHECKING:
    from predarb.notify.pair_review import PairReview

ACTIONS = {"approve": True, "reject": False}


def review_json(review: Review) -> dict[str, Any]:
    from predarb.notify.pair_review import FLAG_MEANINGS

    pair = review.pair
    return {
        "pair_id": review.pair_id,
        "event": pair.get("event", ""),
        "kind": pair.get("kind", ""),
        "confidence": pair.get("confidence", 0),
        "flags": [{"flag": f, "meaning": FLAG_MEANINGS.get(f, f)} for f in pair.get("flags", [])],
        "mapping": pair.get("mapping", []),
        "evidence": pair.get("evidence", ""),
        "asked_at": review.asked_at,
        "rules": dict(sorted(review.rules.items())),
    }


class ReviewApi:
    """``GET /api/reviews`` and ``POST /api/reviews/{pair_id}/{approve|reject}``."""

    def __init__(
        self, review: PairReview | None, announce: Callable[[str], Awaitable[None]]
    ) -> None:
        self.review = review  # None: the bot runs without a matcher's questions
        self.announce = announce

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/reviews", self.pending)
        app.router.add_post("/api/reviews/{pair_id}/{action}", self.answer)

    async def pending(self, request: web.Request) -> web.Response:
        if self.review is None:
            return web.json_response({"reviews": []})
        pending = await self.review.reviews.pending()
        return web.json_response({"reviews": [review_json(r) for r in pending]})

    async def answer(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        pair_id = request.match_info["pair_id"]
        if action not in ACTIONS:
            raise web.HTTPNotFound()
        if self.review is None:
            return web.json_response({"error": "no pair reviews in this run"}, status=404)
        decided = await self.review.decide(pair_id, ACTIONS[action])
        if decided is None:
            known = (await self.review.reviews.all()).get(pair_id)
            if known is None:
                return web.json_response({"error": f"no review {pair_id}"}, status=404)
            return web.json_response(
                {"pair_id": pair_id, "status": known.status, "changed": False,
                 "message": f"Already answered ({known.status})."},
                status=409,
            )  # fmt: skip
        word = "approved: it trades from now on" if ACTIONS[action] else "rejected"
        event = str(decided.pair.get("event", pair_id))
        await self.announce(f"Pair {word} (from the dashboard): {event}")
        return web.json_response(
            {"pair_id": pair_id, "status": decided.status, "changed": True,
             "message": f"{event}: {word}."}
        )  # fmt: skip
