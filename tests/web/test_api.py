"""The dashboard's JSON API over real HTTP against an engine on scripted venues: the
executions with legs, fills and execution quality, the P&L series, the live board of
opportunities, pairs, and the event stream that tells a page something changed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from predarb import reports_quality
from predarb.domain import (
    Action,
    Contract,
    ExecutionStatus,
    Fill,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Pair,
    PairKind,
    World,
)
from predarb.risk import RiskDecision
from predarb.web.board import OpportunityBoard
from tests.core.builders import K_YES, P_NO, T0, opportunity
from tests.fakes.scripted_venue import FILL, KILL
from tests.notify.seed import execution
from tests.notify.seed_quality import timed_execution
from tests.web.rig import Rig, dashboard_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with dashboard_rig(tmp_path) as built:
        yield built


async def test_executions_show_legs_fills_and_execution_quality(rig: Rig) -> None:
    kalshi = rig.engine.venues[K_YES.venue]
    poly = rig.engine.venues[P_NO.venue]
    kalshi.script, poly.script = [FILL], [FILL]  # type: ignore[attr-defined]
    await rig.engine.execute(opportunity(event="Lakers <b>vs</b> Celtics"))
    async with rig.bearer() as http:
        body = (await http.get("/api/executions")).json()
    (ex,) = body["executions"]
    assert ex["event"] == "Lakers <b>vs</b> Celtics" and ex["status"] == "success"
    assert ex["expected_cost"] == "4.75" and ex["contracts"] == "5"
    assert [(leg["venue"], leg["role"], leg["price_seen"]) for leg in ex["legs"]] == [
        ("kalshi", "leg", "0.4"),
        ("polymarket", "leg", "0.55"),
    ]
    for leg in ex["legs"]:
        assert leg["filled"] == "5" and leg["status"] == "filled"
        assert leg["slippage"] == "0" and leg["slippage_usd"] == "0.00"
        assert isinstance(leg["latency_ms"], int) and leg["latency_ms"] >= 0
        assert sum(Decimal(f["contracts"]) for f in leg["fills"]) == 5
    assert ex["quality"]["slippage_usd"] == "0.00"
    assert ex["quality"]["unhedged_ms"] is None
    assert body["next"] is None


async def test_slippage_is_measured_against_the_price_seen(rig: Rig) -> None:
    """A fill worse than the limit the calculator saw costs money: positive slippage."""
    opp = opportunity(event="Slipped")
    leg = opp.legs[0]
    order = OrderRequest("e1-0", leg.contract, Action.BUY, leg.price, leg.contracts)
    await rig.store.create_execution("e1", opp, "paper", [(order, "yes")], T0)
    # The venue filled 5 at 0.42 over the 0.40 limit the calculator saw.
    fill = Fill("f1", "e1-0", leg.contract, Action.BUY, Decimal("0.42"), leg.contracts, leg.fee, T0)
    result = OrderResult(
        "e1-0", OrderStatus.FILLED, "v1", leg.contracts, Decimal("0.42"), leg.fee, (fill,)
    )
    await rig.store.record_result("e1", result, T0)
    async with rig.bearer() as http:
        (ex,) = (await http.get("/api/executions")).json()["executions"]
    kalshi = ex["legs"][0]
    assert kalshi["price_seen"] == "0.4" and kalshi["avg_price"] == "0.42"
    assert kalshi["slippage"] == "0.02" and kalshi["slippage_usd"] == "0.10"
    assert ex["quality"]["slippage_usd"] == "0.10"


async def test_quality_is_the_one_the_phone_and_the_cli_show(rig: Rig) -> None:
    """A hedge that paid above its own limit is a hedge cost, not slippage of the
    execution: the page measures with ``reports_quality``, as /quality EXECUTION does."""
    await timed_execution(rig.store, "h-1", "Bulls @ Heat", one_leg="hedged", hedge_fill="0.58")
    measured = await reports_quality.of_execution(rig.store, "h-1")
    assert measured is not None
    async with rig.bearer() as http:
        (ex,) = (await http.get("/api/executions")).json()["executions"]
    q = ex["quality"]
    # The entry leg filled 5 at 0.41 for 0.40; the hedge 5 at 0.58 for 0.57 (priced 0.55).
    assert q["slippage_usd"] == "0.05" == f"{measured.slippage:.2f}"
    assert q["hedge_cost"] == "0.16" == f"{measured.hedge_cost:.2f}"
    assert q["fill_rate"] == "0.5" and q["unwind_cost"] == "0.00"
    assert (q["max_leg_latency_ms"], q["skew_ms"], q["unhedged_ms"]) == (340, 220, 900)
    assert [leg["slippage_usd"] for leg in ex["legs"]] == ["0.05", None, "0.05"]


async def test_a_one_legged_execution_shows_its_unhedged_window(rig: Rig) -> None:
    rig.engine.venues[K_YES.venue].script = [FILL]  # type: ignore[attr-defined]
    rig.engine.venues[P_NO.venue].script = [KILL]  # type: ignore[attr-defined]
    placement = await rig.engine.execute(opportunity(event="One leg"))
    assert placement.status is ExecutionStatus.EXPOSED
    async with rig.bearer() as http:
        (ex,) = (await http.get("/api/executions")).json()["executions"]
        open_ = (await http.get("/api/executions", params={"open": "1"})).json()["executions"]
    assert ex["status"] == "exposed" and [e["id"] for e in open_] == [ex["id"]]
    assert [leg["status"] for leg in ex["legs"]][:2] == ["filled", "canceled"]
    assert ex["legs"][1]["slippage"] is None and ex["legs"][1]["filled"] == "0"


async def test_executions_page_through_with_the_cursor(rig: Rig) -> None:
    for n in range(7):
        await execution(rig.store, f"e{n}", f"Event {n}", at=T0 + timedelta(minutes=n))
    seen: list[str] = []
    async with rig.bearer() as http:
        cursor = None
        while True:
            params = {"limit": "3", **({"before": cursor} if cursor else {})}
            body = (await http.get("/api/executions", params=params)).json()
            seen += [e["id"] for e in body["executions"]]
            cursor = body["next"]
            if cursor is None:
                break
        assert (await http.get("/api/executions", params={"limit": "x"})).status_code == 400
    assert seen == [f"e{n}" for n in reversed(range(7))]


async def test_pnl_is_the_cumulative_realized_series_and_agrees_with_reports(rig: Rig) -> None:
    from predarb import reports

    for n in range(4):
        await execution(rig.store, f"s{n}", f"Settled {n}", at=T0 + timedelta(hours=n), settle=True)
    await execution(rig.store, "open", "Still open", at=T0)
    async with rig.bearer() as http:
        body = (await http.get("/api/pnl")).json()
    report = await reports.pnl(rig.store, rig.engine.clock())
    per = [Decimal(p["pnl"]) for p in body["series"]]
    cumulative = [Decimal(p["cumulative"]) for p in body["series"]]
    assert len(per) == 4 and body["settled"] == 4
    assert cumulative == [sum(per[: i + 1], Decimal(0)) for i in range(4)]
    assert cumulative[-1] == report.all_time.realized
    all_time = body["windows"][2]
    assert all_time["label"] == "all time" and Decimal(all_time["realized"]) == cumulative[-1]
    assert {v["venue"] for v in body["per_venue"]} == {"kalshi", "polymarket"}


async def test_pnl_chart_points_are_thinned_keeping_the_last() -> None:
    from predarb.web.views import _thin

    points = [{"n": n} for n in range(5000)]
    thin = _thin(points, 1000)
    assert len(thin) == 1000 and thin[0] == {"n": 0} and thin[-1] == {"n": 4999}


def _pair(pair_id: str) -> Pair:
    return Pair(
        pair_id=pair_id,
        kind=PairKind.BINARY,
        event="Test event",
        worlds=(
            World("yes", (K_YES, P_NO)),
            World("no", (Contract(K_YES.venue, K_YES.market_id, "no"),)),
        ),
        confidence=0.97,
        tradable=True,
    )


def test_the_board_keeps_each_priced_pairs_opportunity_until_priced_without_one() -> None:
    board = OpportunityBoard()
    a, b = opportunity(pair_id="a"), opportunity(pair_id="b", k_price="0.41")
    board.priced([_pair("a"), _pair("b")], [a, b], T0)
    board.decided(b, RiskDecision(False, "cooldown", "event traded 2 s ago"))
    assert [s.opportunity.pair_id for s in board.sightings()] == ["a", "b"]
    assert board.entries["b"].decision == RiskDecision(False, "cooldown", "event traded 2 s ago")
    version = board.version
    board.priced([_pair("a")], [], T0)  # "a" priced again: no arbitrage any more
    assert list(board.entries) == ["b"] and board.version > version
    board.priced([_pair("c")], [], T0)  # nothing changes
    assert list(board.entries) == ["b"]


async def test_opportunities_show_refused_ones_with_the_reason(rig: Rig) -> None:
    await rig.engine.control.stop("test")
    opp = replace(opportunity(event="Refused one"), quote_ts=rig.engine.clock())
    assert rig.engine.watcher is rig.dashboard.board  # the dashboard watches the engine
    rig.engine.watcher.priced([_pair(opp.pair_id)], [opp], rig.engine.clock())
    await rig.engine._trade([opp])
    async with rig.bearer() as http:
        body = (await http.get("/api/opportunities")).json()
    (item,) = body["opportunities"]
    assert item["event"] == "Refused one" and item["pair_id"] == opp.pair_id
    assert item["decision"]["approved"] is False and item["decision"]["code"] == "kill_switch"
    assert item["decision"]["reason"]
    assert item["profit"] == "0.10412" and item["legs"][0]["venue"] == "kalshi"
    assert rig.engine.venues[K_YES.venue].placed == []  # type: ignore[attr-defined]


async def test_pairs_show_mapping_confidence_flags_and_blocks(rig: Rig) -> None:
    rig.engine.pairs = [_pair("p1"), replace(_pair("p2"), tradable=False, flags=("date_mismatch",))]
    await rig.store.block_pair("p2", rig.engine.clock() + timedelta(hours=6), "two one-legged")
    async with rig.bearer() as http:
        body = (await http.get("/api/pairs")).json()
    p1, p2 = body["pairs"]
    assert p1["confidence"] == 0.97 and p1["tradable"] and p1["blocked_until"] is None
    assert p1["mapping"][0]["kalshi"] == K_YES.market_id
    assert p2["flags"] == ["date_mismatch"] and p2["blocked_until"] is not None


class Events:
    """The server-sent events read so far, and a way to wait for one."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.changed = asyncio.Condition()

    async def read(self, http: httpx.AsyncClient) -> None:
        async with http.stream("GET", "/api/stream") as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            name = ""
            async for line in resp.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    async with self.changed:
                        self.got.append((name, json.loads(line.removeprefix("data: "))))
                        self.changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10), self.changed:
            await self.changed.wait_for(predicate)


async def test_the_stream_tells_open_pages_about_an_execution_and_its_alert(rig: Rig) -> None:
    events = Events()
    async with rig.bearer() as http:
        reader = asyncio.create_task(events.read(http))
        try:
            await events.wait_for(lambda: any(n == "update" for n, _ in events.got))  # at once
            before = len(events.got)
            await rig.engine.execute(opportunity(event="Streamed"))
            await events.wait_for(
                lambda: any(
                    n == "update" and "executions" in d["parts"] for n, d in events.got[before:]
                )
            )
            alerts = [d for n, d in events.got if n == "alert"]
            assert alerts and "EXECUTED" in alerts[0]["text"]
        finally:
            reader.cancel()


async def test_status_counts_open_positions_and_exposure(rig: Rig) -> None:
    for n in range(6):
        await execution(rig.store, f"x{n}", f"Event {n}", settle=n % 2 == 0)
    async with rig.bearer() as http:
        body = (await http.get("/api/status")).json()
    # Three open, each 5 x 0.40 + 5 x 0.55 plus $0.07 of fees.
    assert body["open_positions"] == 3 and body["exposure"] == "14.46"


async def test_executions_and_pnl_show_only_the_databases_own_mode(rig: Rig) -> None:
    """A file from before modes stopped sharing one: the dashboard of a paper bot shows
    no live row, in its executions list nor in its P&L series."""
    from predarb import reports

    await execution(rig.store, "paper-open", "Paper open", at=T0)
    await execution(rig.store, "paper-won", "Paper won", at=T0, settle=True)
    for n in range(2):
        at = T0 + timedelta(hours=n)
        await execution(rig.store, f"live-{n}", f"Live {n}", at=at, settle=True, mode="live")
    await rig.store.set_state(reports.MODE, "paper", T0)
    async with rig.bearer() as http:
        listed = (await http.get("/api/executions")).json()["executions"]
        opened = (await http.get("/api/executions", params={"open": "1"})).json()["executions"]
        pnl = (await http.get("/api/pnl")).json()
    assert sorted(e["id"] for e in listed) == ["paper-open", "paper-won"]
    assert {e["mode"] for e in listed} == {"paper"}
    assert [e["id"] for e in opened] == ["paper-open"]
    assert [p["execution"] for p in pnl["series"]] == ["paper-won"] and pnl["settled"] == 1
    report = await reports.pnl(rig.store, rig.engine.clock())
    assert Decimal(pnl["series"][-1]["cumulative"]) == report.all_time.realized
