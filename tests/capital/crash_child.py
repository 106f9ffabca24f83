"""The redeemer in a process of its own, for the crash test.

    python -m tests.capital.crash_child CONFIG DB

One redemption run against the JSON-RPC node of the parent (its chain outlives this
process), on the SQLite file DB. ``PREDARB_CRASH_AT`` names a redeemer crash point:
reaching it, the process SIGKILLs itself. The last line printed is a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from predarb.capital import redeemer as redeemer_module
from predarb.capital.contracts import Addresses
from predarb.capital.redeemer import Condition
from predarb.store import Store
from tests.capital.helpers import Alerts, Lookup, redeemer


def _arm(point: str) -> None:
    def crash(name: str) -> None:
        if name == point:
            print(f"killed at {name}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    redeemer_module.crash_point = crash


class _World:
    """What ``helpers.redeemer`` reads of a ``World``: its addresses."""

    def __init__(self, addresses: Addresses) -> None:
        self.addresses = addresses


async def main(cfg: dict[str, object], db: Path) -> dict[str, object]:
    if point := os.environ.get("PREDARB_CRASH_AT"):
        _arm(point)
    lookup = Lookup()
    for cid, neg_risk, tokens in cfg["conditions"]:  # type: ignore[attr-defined]
        cond = Condition(cid, neg_risk, (tokens[0], tokens[1]))
        for t in tokens:
            lookup.by_token[t] = cond
    store = await Store.open(db)
    world = _World(Addresses(**cfg["addresses"]))  # type: ignore[arg-type]
    r = redeemer(store, str(cfg["url"]), world, lookup, Alerts(), confirmations=1)  # type: ignore[arg-type]
    try:
        result = await r.run_once()
        return {"sent": result.sent, "confirmed": result.confirmed, "errors": result.errors}
    finally:
        await r.chain.close()
        await store.close()


if __name__ == "__main__":
    summary = asyncio.run(main(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])))
    print(json.dumps(summary), flush=True)
