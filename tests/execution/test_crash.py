"""Crash test: the bot process is SIGKILLed at each step of an execution, restarted on
the same SQLite file and the same fake venues, and must end with no duplicate order,
every fill recorded and the right final state.

The fakes run here, in the test process, so their state outlives the child. Each
kill point runs in its own pair of fakes; all of them run at once.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.domain import ExecutionStatus, Venue
from predarb.store import Store
from tests.execution.world import POLY_ADDRESS, TICKER, Fakes, running_fakes

ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT_S = 90
# Children at once: nine Pythons starting together on two cores, beside another suite,
# took longer than any one child's limit.
CHILDREN_AT_ONCE = 4
_children = asyncio.Semaphore(CHILDREN_AT_ONCE)


@dataclass(frozen=True)
class KillPoint:
    point: str
    what: str
    expect: ExecutionStatus
    posts: tuple[int, int]  # orders that must reach (Kalshi, Polymarket), in total
    hold: str = ""  # a venue whose orders never leave (so the other leg answers first)
    books: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


MOVED = {"p_asks": [("0.56", "20")]}  # the NO leg dies; a hedge one cent worse is fine
GONE = {"p_asks": [("0.70", "20")]}  # the NO leg dies; only an unwind is left

KILL_POINTS = (
    KillPoint("after_write_ahead", "after the write-ahead", ExecutionStatus.FAILED, (0, 0)),
    KillPoint("after_mark_sent", "orders marked sent, none left", ExecutionStatus.FAILED, (0, 0)),
    KillPoint(
        "answered:kalshi",
        "after sending one leg (Kalshi filled, Polymarket never sent)",
        ExecutionStatus.HEDGED,
        (1, 1),
        hold="polymarket",
    ),
    KillPoint(
        "answered:polymarket",
        "after sending one leg (Polymarket filled, its reply not recorded)",
        ExecutionStatus.HEDGED,
        (1, 1),
        hold="kalshi",
    ),
    KillPoint(
        "after_all_answered",
        "after both legs filled, before recording fills",
        ExecutionStatus.SUCCESS,
        (1, 1),
    ),
    KillPoint(
        "after_result_recorded:0",
        "one leg's fills recorded, not the other's",
        ExecutionStatus.SUCCESS,
        (1, 1),
    ),
    KillPoint(
        "hedge_announced",
        "hedge written ahead, not sent",
        ExecutionStatus.HEDGED,
        (1, 2),
        books=MOVED,
    ),
    KillPoint(
        "after_hedge_recorded",
        "hedge filled and recorded, outcome not",
        ExecutionStatus.HEDGED,
        (1, 2),
        books=MOVED,
    ),
    KillPoint(
        "after_unwind_recorded",
        "unwind filled and recorded, outcome not",
        ExecutionStatus.UNWOUND,
        (2, 1),
        books=GONE,
    ),
)


async def _child(cfg: Path, db: Path, phase: str, env: dict[str, str]) -> tuple[int, str]:
    async with _children:
        return await _run_child(cfg, db, phase, env)


async def _run_child(cfg: Path, db: Path, phase: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.execution.crash_child",
        str(cfg),
        str(db),
        phase,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), CHILD_TIMEOUT_S)
    return proc.returncode or 0, out.decode()


async def _scenario(kp: KillPoint, tmp: Path, base_env: dict[str, str]) -> str:
    tmp.mkdir()
    async with running_fakes(tmp) as fakes:
        if kp.books:
            fakes.books(**kp.books)  # type: ignore[arg-type]
        cfg, db = tmp / "venues.json", tmp / "bot.sqlite3"
        cfg.write_text(fakes.cfg.dumps())
        env = {**base_env, "PREDARB_CRASH_AT": kp.point, "PREDARB_CRASH_HOLD": kp.hold}
        code, out = await _child(cfg, db, "trade", env)
        assert code == -9, f"{kp.point}: the child was not killed ({code}):\n{out}"
        code, out = await _child(cfg, db, "recover", base_env)
        assert code == 0, f"{kp.point}: recovery failed:\n{out}"
        await _check(kp, fakes, db)
    return f"{kp.point:<26} {kp.what:<66} -> {kp.expect.value}"


async def _check(kp: KillPoint, fakes: Fakes, db: Path) -> None:
    store = await Store.open(db)
    try:
        (ex,) = await store.executions()
        assert ex.status is kp.expect, f"{kp.point}: {ex.status} ({ex.note})"
        assert all(o.status.final for o in ex.orders), kp.point
        # No duplicate: each venue saw exactly the orders expected, each once.
        kalshi_ids = fakes.kalshi_orders()
        assert len(kalshi_ids) == len(set(kalshi_ids)), kp.point
        assert (fakes.kalshi.order_posts, fakes.poly_posts()) == kp.posts, kp.point
        ours = {o.client_order_id for o in ex.orders} | {o.venue_order_id for o in ex.orders}
        assert set(kalshi_ids) <= ours and set(fakes.poly_orders()) <= ours, kp.point
        # Every fill recorded: per order, and as positions the venues agree with.
        held = {Venue.KALSHI: Decimal(0), Venue.POLYMARKET: Decimal(0)}
        for o in ex.orders:
            rows = await store.query(
                "SELECT contracts FROM fills WHERE client_order_id = ?", (o.client_order_id,)
            )
            assert sum((Decimal(r[0]) for r in rows), Decimal(0)) == o.filled, (kp.point, o)
            held[o.venue] += o.filled if o.action == "buy" else -o.filled
        kalshi_pos = fakes.kalshi.exchange.positions.get(TICKER)
        assert held[Venue.KALSHI] == (kalshi_pos.contracts if kalshi_pos else 0), kp.point
        poly_pos = fakes.poly.wallet(POLY_ADDRESS).positions.get(fakes.cfg.poly_no_token, 0)
        assert held[Venue.POLYMARKET] == poly_pos, kp.point
    finally:
        await store.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_sigkill_at_every_step_then_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDARB_")}
    env["PYTHONPATH"] = str(ROOT)
    lines = await asyncio.gather(
        *(_scenario(kp, tmp_path / f"kp{i}", env) for i, kp in enumerate(KILL_POINTS))
    )
    with capsys.disabled():
        print("\nkill points (SIGKILL, restart, recovery):")
        for line in lines:
            print("  " + line)
    assert len(lines) == len(KILL_POINTS)
