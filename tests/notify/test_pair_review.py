"""Pairs reviewed from the phone, end to end: the real python-telegram-bot polling the
fake Bot API, a real SQLite store, the real engine and matcher (venues listing markets
and books in memory). A flagged pair is asked about with buttons; an approval from the
chat makes it trade on the next opportunity, a rejection removes it, a stranger's press
changes nothing, and the answers outlive a restart."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest

from predarb import app
from predarb.config import Settings
from predarb.domain import Market, Venue
from predarb.engine import Engine
from predarb.matching.matcher import Matcher
from predarb.notify.base import FanOut
from predarb.notify.console import ConsoleNotifier
from predarb.notify.pair_review import PairReview
from predarb.notify.telegram import TelegramNotifier
from predarb.store import Store
from tests.fakes.telegram_server import TOKEN, FakeBotApi
from tests.notify.conftest import CHAT, STRANGER
from tests.notify.review_world import JAPAN, PERU, listing_venues

GROUP, OWNER = -1001234, 111

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
K = Venue.KALSHI


class Bot:
    def __init__(
        self,
        fake: FakeBotApi,
        store: Store,
        review: PairReview | None = None,
        *,
        chat: int = CHAT,
        allowed: frozenset[int] = frozenset(),
    ) -> None:
        settings = Settings(_env_file=None, executor_max_bet=Decimal(10))
        self.review = review or PairReview(store, CHAT, lambda: NOW)
        self.venues = listing_venues()
        clock = iter(NOW + timedelta(milliseconds=n) for n in range(10**6))
        self.engine = Engine(
            settings, store, self.venues, FanOut([]), mode="paper",
            matcher=self.review.wrap(Matcher()), clock=lambda: next(clock),
        )  # fmt: skip
        self.review.attach(self.engine)
        self.telegram = TelegramNotifier(
            TOKEN, chat, fake.base_url, self.engine.control, store, batch_window_s=0.2,
            clock=self.engine.clock, min_interval_s=0.01, poll_timeout_s=1.0,
            stop_timeout_s=2.0, review=self.review, allowed_users=allowed,
        )  # fmt: skip
        self.engine.notifier = FanOut([ConsoleNotifier(StringIO()), self.telegram])

    async def start(self) -> None:
        await self.review.load()
        await self.telegram.start()
        await self.telegram.ready.wait()
        await self.engine.start()

    def pair(self, km: Market) -> list[bool]:
        """Whether each current pair on ``km`` is tradable."""
        return [p.tradable for p in self.engine.pairs if km.market_id in p.markets(K)]


@pytest.fixture
async def bot(fake: FakeBotApi, store: Store) -> AsyncIterator[Bot]:
    built = Bot(fake, store)
    await built.start()
    yield built
    await built.engine.shutdown()


def _pair_id(fake: FakeBotApi, question: str) -> str:
    for call in fake.calls_of("sendMessage"):
        text = call.params.get("text", "")
        if "PAIR TO REVIEW" in text and question in text:
            markup = json.loads(call.params["reply_markup"])
            return str(markup["inline_keyboard"][0][0]["callback_data"]).split(":")[2]
    raise AssertionError(f"no review asked for {question}")


_HEADER = re.compile(r"<b>(\d+) pairs waiting for review</b>")


async def _listed(fake: FakeBotApi, chat: int) -> set[str]:
    """The pair ids one ``/pairs`` lists after its header: each pending question sent
    again, with its Approve / Reject buttons."""

    def sent() -> list[tuple[str, str]]:
        return [
            (c.params["text"], c.params.get("reply_markup", ""))
            for c in fake.calls_of("sendMessage")
            if int(c.params["chat_id"]) == chat
        ]

    def heads() -> list[int]:
        return [n for n, (text, _) in enumerate(sent()) if _HEADER.fullmatch(text)]

    def listed() -> list[str]:
        after = sent()[heads()[0] + 1 :]
        return [
            json.loads(markup)["inline_keyboard"][0][0]["callback_data"].split(":")[2]
            for text, markup in after
            if "PAIR TO REVIEW" in text and markup
        ]

    def complete() -> bool:
        if not heads():
            return False
        match = _HEADER.fullmatch(sent()[heads()[0]][0])
        return match is not None and len(listed()) >= int(match.group(1))

    await fake.wait_for(complete)
    assert len(heads()) == 1  # one answer to one command
    return set(listed())


async def _questions(fake: FakeBotApi) -> None:
    await fake.wait_for(lambda: sum("PAIR TO REVIEW" in s.text for s in fake.sent) >= 2, timeout=10)


async def test_an_approved_pair_trades_on_the_next_opportunity(
    fake: FakeBotApi, store: Store, bot: Bot
) -> None:
    await _questions(fake)
    pair_id = _pair_id(fake, "KXTRUMPJAPAN")
    asked = next(s for s in fake.sent if pair_id in s.text)
    assert "window_edge_differs" in asked.text
    assert bot.pair(JAPAN[0]) == [False]
    await bot.engine.tick()
    await bot.engine.drain()
    assert await store.executions() == []  # flagged: seen, priced, never traded

    fake.button(f"pair:approve:{pair_id}", CHAT)
    await fake.wait_for_calls("answerCallbackQuery", 1)
    await fake.wait_for_calls("editMessageText", 1)
    assert bot.pair(JAPAN[0]) == [True] and bot.pair(PERU[0]) == [False]

    await bot.engine.tick()
    await bot.engine.drain()
    (execution,) = await store.executions()
    assert execution.pair_id == pair_id
    assert {o.market_id for o in execution.orders} == {"KXTRUMPJAPAN-26JUL01-T", "7001"}

    # The answer is in the database: a restart's first match trades the pair at once.
    again = PairReview(store, CHAT, lambda: NOW)
    await again.load()
    assert again.answers == {pair_id: True}
    assert await again.reviews.pending() != []  # Peru still waits


async def test_a_rejection_removes_the_pair_and_a_strangers_press_changes_nothing(
    fake: FakeBotApi, store: Store, bot: Bot
) -> None:
    await _questions(fake)
    japan, peru = _pair_id(fake, "KXTRUMPJAPAN"), _pair_id(fake, "KXTRUMPPERU")

    fake.button(f"pair:approve:{japan}", STRANGER)
    fake.button(f"pair:reject:{peru}", STRANGER)
    fake.command("/pairs", CHAT)  # processed after the presses: its reply orders the wait
    listed = await _listed(fake, CHAT)
    assert listed == {japan, peru}  # /pairs lists each pending pair, with its buttons
    assert fake.calls_of("answerCallbackQuery") == []
    assert fake.sent_to(STRANGER) == []
    assert bot.pair(JAPAN[0]) == [False] and bot.pair(PERU[0]) == [False]
    assert len(await bot.review.reviews.pending()) == 2

    fake.button(f"pair:reject:{peru}", CHAT)
    await fake.wait_for_calls("answerCallbackQuery", 1)
    assert bot.pair(PERU[0]) == []
    await bot.engine.rematch()  # later matches keep it out
    assert bot.pair(PERU[0]) == [] and bot.pair(JAPAN[0]) == [False]
    assert [r.pair_id for r in await bot.review.reviews.pending()] == [japan]


async def test_in_a_group_a_strangers_press_changes_nothing(fake: FakeBotApi, store: Store) -> None:
    # Built as ``predarb run`` builds it: the answerers are TELEGRAM_ALLOWED_USER_IDS.
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        telegram_chat_id=GROUP,
        telegram_allowed_user_ids=str(OWNER),
    )
    review = app.pair_review(settings, store)
    assert review is not None and review.allowed_users == {OWNER}
    bot = Bot(fake, store, review, chat=GROUP, allowed=settings.allowed_user_ids)
    await bot.start()
    try:
        await _questions(fake)
        japan, peru = _pair_id(fake, "KXTRUMPJAPAN"), _pair_id(fake, "KXTRUMPPERU")

        # A member of the group who is not listed presses both buttons.
        fake.button(f"pair:approve:{japan}", GROUP, STRANGER)
        fake.button(f"pair:reject:{peru}", GROUP, STRANGER)
        fake.command("/pairs", GROUP, OWNER)  # after the presses: its reply orders the wait
        assert await _listed(fake, GROUP) == {japan, peru}
        assert fake.calls_of("answerCallbackQuery") == []
        assert bot.pair(JAPAN[0]) == [False] and bot.pair(PERU[0]) == [False]
        assert len(await bot.review.reviews.pending()) == 2

        fake.button(f"pair:approve:{japan}", GROUP, OWNER)
        await fake.wait_for_calls("answerCallbackQuery", 1)
        assert bot.pair(JAPAN[0]) == [True] and bot.pair(PERU[0]) == [False]
    finally:
        await bot.engine.shutdown()


async def test_show_rules_sends_both_markets_rules(fake: FakeBotApi, bot: Bot) -> None:
    await _questions(fake)
    pair_id = _pair_id(fake, "KXTRUMPJAPAN")
    fake.button(f"pair:rules:{pair_id}", CHAT)
    await fake.wait_for(lambda: any(s.text.startswith("<b>Rules</b>") for s in fake.sent))
    rules = next(s.text for s in fake.sent if s.text.startswith("<b>Rules</b>"))
    assert "kalshi:KXTRUMPJAPAN-26JUL01-T" in rules and "polymarket:7001" in rules
    assert "then the market resolves to Yes" in rules
    assert bot.pair(JAPAN[0]) == [False]  # looking is not answering


async def test_a_slow_pairs_listing_holds_no_button(fake: FakeBotApi, bot: Bot) -> None:
    """Issue 16: replies never hold command handling. While Telegram hangs on the /pairs
    listing, an Approve pressed after it acts and is answered at once."""
    await _questions(fake)
    japan = _pair_id(fake, "KXTRUMPJAPAN")
    fake.hold("sendMessage")
    fake.command("/pairs", CHAT)
    await fake.wait_for(lambda: fake.held("sendMessage") == 1, timeout=10)

    fake.button(f"pair:approve:{japan}", CHAT)
    # Shorter than python-telegram-bot's 5 s read timeout, which alone would free a
    # handler stuck on the held listing.
    await fake.wait_for_calls("editMessageText", 1, timeout=3)
    assert bot.pair(JAPAN[0]) == [True]
    assert fake.held("sendMessage") == 1  # the listing still on its way

    fake.release("sendMessage")
    await fake.wait_for(lambda: any("2 pairs waiting for review" in s.text for s in fake.sent))


async def test_the_cli_reads_the_answers_beside_the_bot(store: Store, tmp_path: Path) -> None:
    from predarb.runner import _answers
    from predarb.store.pair_reviews import PairReviews, Review

    reviews = PairReviews(store)
    await reviews.ask([Review("pr_a", {}), Review("pr_b", {}), Review("pr_c", {})], NOW, 5)
    await reviews.answer("pr_a", True, CHAT, NOW)
    await reviews.answer("pr_b", False, CHAT, NOW)
    assert await reviews.answer("pr_b", True, CHAT, NOW) is None  # answered once only
    path = tmp_path / "predarb.sqlite3"
    assert await _answers(Settings(_env_file=None, predarb_db_path=path)) == {
        "pr_a": True,
        "pr_b": False,
    }
    assert await _answers(Settings(_env_file=None, predarb_db_path=tmp_path / "none")) == {}
