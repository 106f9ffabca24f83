"""Pair review on the dashboard over real HTTP: the engine with the real matcher lists two
flagged pairs (tests.notify.review_world), the dashboard shows them waiting for review
with their flags and rules, and an answer from it is stored where the phone's answers
are, takes effect at once (an approved pair trades on the next opportunity, a rejected
one is gone) and is guarded like stop and start."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pytest

from predarb.config import Settings
from predarb.domain import Market, Venue
from predarb.engine import Engine
from predarb.matching.matcher import Matcher
from predarb.notify.base import FanOut
from predarb.notify.console import ConsoleNotifier
from predarb.notify.pair_review import PairReview
from predarb.store import Store
from predarb.web import Access, Dashboard
from tests.notify.review_world import JAPAN, PERU, listing_venues
from tests.web.rig import TOKEN

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@dataclass
class ReviewRig:
    engine: Engine
    dashboard: Dashboard
    review: PairReview
    store: Store
    console: StringIO

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.dashboard.url, timeout=10, **kwargs)

    def bearer(self) -> httpx.AsyncClient:
        return self.client(headers={"Authorization": f"Bearer {TOKEN}"})

    def pair(self, km: Market) -> list[bool]:
        """Whether each current pair on ``km`` is tradable."""
        return [p.tradable for p in self.engine.pairs if km.market_id in p.markets(Venue.KALSHI)]

    async def questions_recorded(self) -> None:
        """The first match's questions are written by a task of their own: await it."""
        await asyncio.wait_for(asyncio.gather(*self.review._tasks), timeout=10)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[ReviewRig]:
    """Assembled as ``runner.run_engine`` does with the dashboard on and no Telegram."""
    store = await Store.open(tmp_path / "reviews.sqlite3")
    review = PairReview(store, 0, lambda: NOW)
    await review.load()
    clock = iter(NOW + timedelta(milliseconds=n) for n in range(10**6))
    engine = Engine(
        Settings(_env_file=None, executor_max_bet=Decimal(10)), store, listing_venues(),
        FanOut([]), mode="paper", matcher=review.wrap(Matcher()), clock=lambda: next(clock),
    )  # fmt: skip
    review.attach(engine)
    sock = socket.create_server(("127.0.0.1", 0))
    access = Access("127.0.0.1", int(sock.getsockname()[1]), TOKEN, generated=False)
    dashboard = Dashboard(engine, access, sock, say=lambda _: None, review=review)
    console = StringIO()
    engine.notifier = FanOut([ConsoleNotifier(console), dashboard.feed])
    await dashboard.start()
    await engine.start()
    built = ReviewRig(engine, dashboard, review, store, console)
    await built.questions_recorded()
    try:
        yield built
    finally:
        await engine.shutdown()
        await dashboard.close()
        await store.close()


def _by_ticker(reviews: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(r["mapping"][0]["kalshi"]): r for r in reviews}


async def test_a_pair_approved_from_the_dashboard_trades_on_the_next_opportunity(
    rig: ReviewRig,
) -> None:
    async with rig.bearer() as http:
        body = (await http.get("/api/reviews")).json()
        waiting = _by_ticker(body["reviews"])
        assert set(waiting) == {JAPAN[0].market_id, PERU[0].market_id}
        japan = waiting[JAPAN[0].market_id]
        assert {"flag": "window_edge_differs", "meaning": (
            "the windows end at different times on the same day")} in japan["flags"]  # fmt: skip
        rules = japan["rules"]
        assert isinstance(rules, dict)
        assert "then the market resolves to Yes" in rules[f"kalshi:{JAPAN[0].market_id}"]
        assert rules[f"polymarket:{JAPAN[1].market_id}"].startswith('Resolves "Yes"')
        await rig.engine.tick()
        await rig.engine.drain()
        assert await rig.store.executions() == []  # flagged: priced, never traded

        answer = await http.post(f"/api/reviews/{japan['pair_id']}/approve")
        assert answer.status_code == 200
        assert answer.json()["status"] == "approved" and answer.json()["changed"] is True
        assert rig.pair(JAPAN[0]) == [True] and rig.pair(PERU[0]) == [False]

        await rig.engine.tick()
        await rig.engine.drain()  # executions run as tasks of their own
        (execution,) = await rig.store.executions()
        assert execution.pair_id == japan["pair_id"]
        assert {o.market_id for o in execution.orders} == {JAPAN[0].market_id, "7001"}

        again = await http.post(f"/api/reviews/{japan['pair_id']}/reject")
        assert again.status_code == 409 and again.json()["status"] == "approved"
        assert rig.pair(JAPAN[0]) == [True]  # a second answer changes nothing
        still = (await http.get("/api/reviews")).json()["reviews"]
        assert [r["mapping"][0]["kalshi"] for r in still] == [PERU[0].market_id]
        assert (await http.post("/api/reviews/pr_unknown/approve")).status_code == 404
        assert (await http.post(f"/api/reviews/{japan['pair_id']}/maybe")).status_code == 404
    assert "approved: it trades from now on (from the dashboard)" in rig.console.getvalue()

    # Stored where the phone's answers are: a restart (or the Telegram side) applies it.
    restarted = PairReview(rig.store, 4242, lambda: NOW)
    await restarted.load()
    assert restarted.answers == {str(japan["pair_id"]): True}


async def test_a_rejection_removes_the_pair_and_unguarded_answers_change_nothing(
    rig: ReviewRig,
) -> None:
    async with rig.bearer() as http:
        waiting = _by_ticker((await http.get("/api/reviews")).json()["reviews"])
    peru = str(waiting[PERU[0].market_id]["pair_id"])
    path = f"/api/reviews/{peru}/reject"
    base = rig.dashboard.url.rstrip("/")
    cookie = {rig.dashboard.access.cookie_name: rig.dashboard.access.session}
    async with rig.client() as anonymous:
        assert (await anonymous.post(path)).status_code == 401
    async with rig.client(headers={"Authorization": "Bearer wrong"}) as wrong:
        assert (await wrong.post(path)).status_code == 401
    async with rig.client(cookies=cookie, headers={"Origin": "http://evil.example"}) as forged:
        assert (await forged.post(path)).status_code == 403  # a cross-site form or fetch
    assert rig.pair(PERU[0]) == [False]
    assert len(await rig.review.reviews.pending()) == 2

    # The page's own request: the session cookie from the dashboard's origin.
    async with rig.client(cookies=cookie, headers={"Origin": base}) as page:
        answer = await page.post(path)
    assert answer.status_code == 200 and answer.json()["status"] == "rejected"
    assert rig.pair(PERU[0]) == []
    await rig.engine.rematch()  # later matches keep it out
    assert rig.pair(PERU[0]) == [] and rig.pair(JAPAN[0]) == [False]
    assert rig.review.answers == {peru: False}


async def test_the_pairs_page_shows_the_rules_and_approves_in_the_browser(
    rig: ReviewRig, tmp_path: Path
) -> None:
    from tests.web.browser import chromium

    async with chromium(tmp_path / "profile") as browser:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        await page.goto(f"{rig.dashboard.url}pairs?token={TOKEN}")
        japan = page.locator("[data-review]", has_text=JAPAN[0].market_id)
        await japan.wait_for()
        assert await page.locator("[data-review]").count() == 2
        assert "window_edge_differs" in await japan.inner_text()

        await japan.locator("button[data-rules]").click()
        await japan.locator("pre").first.wait_for()
        assert "then the market resolves to Yes" in await japan.inner_text()

        await japan.locator("button[data-answer=approve]").click()
        await japan.wait_for(state="detached")  # the question leaves the list
        await page.locator("#notice", has_text="approved").wait_for()
        assert await page.locator("[data-review]").count() == 1
        assert rig.pair(JAPAN[0]) == [True]
        row = page.locator("tr[data-pair]", has_text=JAPAN[0].market_id)
        assert (await row.locator("td").nth(3).inner_text()) == "yes"  # tradable now

        peru = page.locator("[data-review]", has_text=PERU[0].market_id)
        await peru.locator("button[data-answer=reject]").click()
        await page.locator("#no-reviews").wait_for()
        assert rig.pair(PERU[0]) == []
    assert not errors, errors
