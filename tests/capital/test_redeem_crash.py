"""Crash test: the redeemer process is SIGKILLed after writing a redemption ahead and
after sending it (before it is mined), restarted on the same SQLite file against the same
chain, and the chain must see exactly one redemption."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from predarb.store import Store
from predarb.store.redemptions import RedemptionStatus
from tests.capital.evm import USD, Node, World, serve
from tests.capital.helpers import record_buys

ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT_S = 60


async def _child(cfg: Path, db: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.capital.crash_child",
        str(cfg),
        str(db),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), CHILD_TIMEOUT_S)
    return proc.returncode or 0, out.decode()


def _redemptions_on_chain(world: World) -> int:
    with world.node.lock:
        return len(world.ctf.events.PayoutRedemption().get_logs(from_block=0))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "mined_while_down"),
    [("redeem:after_write_ahead", False), ("redeem:after_send", True)],
    ids=["written-ahead-not-sent", "sent-not-mined"],
)
async def test_sigkill_mid_redemption_leaves_exactly_one(
    tmp_path: Path, point: str, mined_while_down: bool
) -> None:
    node = Node()
    world = World(node)
    m = world.market()
    world.buy_both(m, 6)
    world.drop(m, 1, 6)  # 6 YES
    world.resolve(m, (1, 0))
    with world.node.lock:
        approve = world.ctf.functions.setApprovalForAll(world.adapter.address, True)
    world._as_bot(approve)
    db = tmp_path / "bot.sqlite3"
    store = await Store.open(db)
    await record_buys(store, "e1", m, [(0, 6)])
    await store.close()
    before = world.pusd_of(world.bot)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDARB_")}
    env["PYTHONPATH"] = str(ROOT)
    with serve(node) as url:
        cfg = tmp_path / "chain.json"
        tokens = [str(t) for t in m.tokens]
        cfg.write_text(
            json.dumps(
                {
                    "url": url,
                    "addresses": asdict(world.addresses),
                    "conditions": [[m.condition_id, False, tokens]],
                }
            )
        )
        node.tester.disable_auto_mine_transactions()  # a send stays pending until mined
        code, out = await _child(cfg, db, {**env, "PREDARB_CRASH_AT": point})
        assert code == -9, f"the child was not killed ({code}):\n{out}"
        assert node.raw_sends == (1 if point.endswith("after_send") else 0), out
        if mined_while_down:
            node.mine()
        node.tester.enable_auto_mine_transactions()
        for _ in range(3):  # restarted, as the schedule would, blocks passing between runs
            code, out = await _child(cfg, db, env)
            assert code == 0, out
            node.mine()

    assert _redemptions_on_chain(world) == 1
    assert world.pusd_of(world.bot) - before == 6 * USD
    store = await Store.open(db)
    try:
        rows = await store.redemptions()
        assert [(r.kind, r.status) for r in rows] == [("redeem", RedemptionStatus.CONFIRMED)]
        assert rows[0].received is not None and rows[0].received == 6
    finally:
        await store.close()
