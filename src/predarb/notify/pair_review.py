"""Pairs reviewed from the phone: a likely-but-uncertain pair goes to the chat with
Approve / Reject / Show rules buttons; ``/pairs`` lists the questions still open.

The answer is stored (``store.pair_reviews``, kept across restarts) and takes effect at
once: the engine's current pairs are re-applied (an approved pair becomes tradable, a
rejected one is dropped) and every later match applies the same answers (``wrap``). Only
the configured chat's answers count: the Telegram gate stops strangers first, and each
button press is checked again here (its message's chat and, when configured, its user).
The chat side never waits for Telegram: ``/pairs`` and "Show rules" reply through the
notifier's queue, and a button's answer and edit run beside the command handling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from html import escape
from typing import Any, Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from predarb.domain import Market, Pair, Venue
from predarb.matching.codec import pair_to_json
from predarb.matching.matcher import Matcher
from predarb.matching.review import apply_answers, reviewable
from predarb.notify.telegram_replies import Replies
from predarb.store import Store
from predarb.store.pair_reviews import PairReviews, Review

log = logging.getLogger(__name__)

# New questions sent per match at most: the rest wait for the next match.
MAX_NEW_PER_MATCH = 5
RULES_CHARS = 1500  # of each market's rules in "Show rules" (a message holds 4096)
FLAG_MEANINGS = {
    "wording_differs": "the titles differ in a word neither market's fields explain",
    "window_edge_differs": "the windows end at different times on the same day",
    "terms_differ": "one market's rules require a stage the other's do not (ratified)",
    "source_differs": "the markets name different resolution sources or stations",
    "station_unknown": "a weather reading whose station is not named",
    "deadline_unverified": "neither market names a deadline",
    "opponent_unverified": "one market names only one side of the game",
    "date_unverified": "the event day comes from a close time only",
    "time_differs": "the reading times differ on the same day",
    "unknown_league": "the league is not in our tables",
    "ambiguous": "a market matches more than one market on the other venue",
    "low_confidence": "the evidence is thin",
    "unreadable_name": "a name has letters we cannot read",
    "too_many_sides": "more than two sides named",
    "source_unknown": "no resolution source named",
    "no_time": "no resolution time",
}


class HasPairs(Protocol):
    pairs: list[Pair]


class PairReview:
    def __init__(
        self,
        store: Store,
        chat_id: int,
        clock: Callable[[], datetime],
        *,
        allowed_users: Iterable[int] = (),
    ) -> None:
        self.reviews = PairReviews(store)
        self.chat_id = chat_id
        self.clock = clock
        # TELEGRAM_ALLOWED_USER_IDS, as for the commands; empty: anyone in the chat.
        self.allowed_users = frozenset(allowed_users)
        self.answers: dict[str, bool] = {}
        self.target: HasPairs | None = None  # the engine, whose pairs answers change
        self.bot: Any = None  # telegram.Bot, once the notifier has one
        self.replies: Replies | None = None  # the notifier's reply queue
        self._tasks: set[asyncio.Task[None]] = set()

    async def load(self) -> None:
        """The answers given before this start (call before the first match)."""
        self.answers = await self.reviews.answers()

    def attach(self, target: HasPairs) -> None:
        self.target = target

    # ---- the matcher side

    def wrap(self, matcher: Matcher) -> Callable[[Sequence[Market], Sequence[Market]], list[Pair]]:
        """``matcher.match`` with the answers applied and new questions sent."""

        def match(kalshi: Sequence[Market], poly: Sequence[Market]) -> list[Pair]:
            pairs = apply_answers(matcher.match(kalshi, poly), self.answers)
            asks = [
                _question(p, matcher.paired)
                for p in pairs
                if reviewable(p) and p.pair_id not in self.answers
            ]
            if asks:
                self._spawn(self.offer(asks))
            return pairs

        return match

    def _reply(self, key: str, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """Queue a reply to the chat (asked again, it replaces its unsent self)."""
        if self.replies is not None:
            self.replies.put(text, markup, key=key, replaces=True)
        else:
            self._spawn(self._send(text, markup))

    def _call(self, job: Any, what: str) -> None:
        """A button's answer or edit, run beside the command handling."""
        if self.replies is not None:
            self.replies.call(job, what)
        else:
            self._spawn(job)

    def _spawn(self, job: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(job)
        except RuntimeError:  # no loop (a CLI listing): the questions wait for the bot
            job.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def offer(self, asks: list[Review]) -> None:
        """Record new questions and send each one not yet in the chat (a few at a time)."""
        now = self.clock()
        await self.reviews.ask(asks, now, MAX_NEW_PER_MATCH)
        unsent = [r for r in await self.reviews.pending() if not r.notified]
        for review in unsent[:MAX_NEW_PER_MATCH]:
            if await self._send(question_text(review), buttons(review.pair_id)):
                await self.reviews.mark_notified(review.pair_id, now)

    async def _send(self, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
        if self.bot is None:
            return False
        try:
            await self.bot.send_message(
                self.chat_id, text[:4096], parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except TelegramError as exc:
            log.warning("telegram: a pair review was not sent (%s)", type(exc).__name__)
            return False
        return True

    # ---- the chat side

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        return [
            CallbackQueryHandler(self.on_button, pattern=r"^pair:(approve|reject|rules):"),
            CommandHandler("pairs", self.on_pairs),
        ]

    def _trusted(self, update: Update) -> bool:
        chat = update.effective_chat
        user = update.effective_user
        if chat is None or chat.id != self.chat_id:
            return False
        return not self.allowed_users or (user is not None and user.id in self.allowed_users)

    async def on_pairs(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not self._trusted(update):
            return
        pending = await self.reviews.pending()
        if not pending:
            self._reply("pairs", "No pairs waiting for review.")
            return
        self._reply("pairs", f"<b>{len(pending)} pairs waiting for review</b>")
        for review in pending[:20]:
            self._reply(f"pairs:{review.pair_id}", question_text(review), buttons(review.pair_id))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or not query.data or not self._trusted(update):
            return
        _, action, pair_id = query.data.split(":", 2)
        if action == "rules":
            self._call(query.answer(), "button answer")
            review = (await self.reviews.all()).get(pair_id)
            text = rules_text(review) if review else "That review is gone."
            self._reply(f"rules:{pair_id}", text)
            return
        user = update.effective_user
        review = await self.decide(pair_id, action == "approve", user.id if user else 0)
        if review is None:
            self._call(query.answer("Already answered."), "button answer")
            return
        word = "APPROVED: it trades from now on" if action == "approve" else "REJECTED"
        self._call(query.answer(word.split(":")[0].capitalize()), "button answer")
        text = f"{question_text(review)}\n\n<b>{word}</b>"
        self._call(query.edit_message_text(text, parse_mode=ParseMode.HTML), "review edit")

    async def decide(self, pair_id: str, approve: bool, by: int = 0) -> Review | None:
        """Store an answer (from the chat, or the dashboard with ``by`` 0) and apply it
        at once; None when the question is unknown or already answered."""
        review = await self.reviews.answer(pair_id, approve, by, self.clock())
        if review is not None:
            self.answers[pair_id] = approve
            self._apply_now()
        return review

    def _apply_now(self) -> None:
        """The engine's current pairs get the answers at once (a new list, which the
        engine's book watch picks up on its next turn)."""
        if self.target is not None:
            self.target.pairs = apply_answers(self.target.pairs, self.answers)


def _question(pair: Pair, markets: dict[tuple[Venue, str], Market]) -> Review:
    rules = {
        f"{c.venue.value}:{c.market_id}": m.rules
        for w in pair.worlds
        for c in w.contracts
        if (m := markets.get((c.venue, c.market_id))) is not None
    }
    return Review(pair.pair_id, pair_to_json(pair), rules)


def buttons(pair_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Approve", callback_data=f"pair:approve:{pair_id}"),
                InlineKeyboardButton("Reject", callback_data=f"pair:reject:{pair_id}"),
            ],
            [InlineKeyboardButton("Show rules", callback_data=f"pair:rules:{pair_id}")],
        ]
    )


def question_text(review: Review) -> str:
    pair = review.pair
    flags = pair.get("flags", [])
    lines = [
        "<b>PAIR TO REVIEW</b> (likely, not certain)",
        escape(str(pair.get("event", ""))),
    ]
    poly = "Polymarket US" if pair.get("polymarket_venue") == "polymarket_us" else "Polymarket"
    for e in pair.get("mapping", []):
        lines.append(
            f"Kalshi {escape(e['kalshi'])} {escape(e['kalshi_side']).upper()} ="
            f" {poly} {escape(e['polymarket'])} {escape(e['outcome'])}"
        )
    lines.append("why not certain:")
    lines.extend(f"- {escape(f)}: {escape(FLAG_MEANINGS.get(f, f))}" for f in flags)
    lines.append(f"evidence: {escape(str(pair.get('evidence', '')))}")
    lines.append(f"confidence {float(pair.get('confidence', 0)):.2f}, id {review.pair_id}")
    return "\n".join(lines)


def rules_text(review: Review) -> str:
    if not review.rules:
        return f"No rules text was listed for {review.pair_id}."
    parts = [f"<b>Rules</b> for {review.pair_id}"]
    for market, text in sorted(review.rules.items()):
        body = text if len(text) <= RULES_CHARS else text[:RULES_CHARS] + " ..."
        parts.append(f"<b>{escape(market)}</b>\n{escape(body) or '(none)'}")
    return "\n\n".join(parts)
