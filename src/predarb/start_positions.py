"""Before the first trade of a live start, the venues' positions are compared with the
database's: a database restored from an old backup, or a new one after the old was
lost, would otherwise trade events the bot already holds, with limits and exposure
counted from nothing.

Nothing is in flight at start (recovery has finished what a crash left), so a
difference counts at once, unlike the periodic reconciliation, which waits for a
second sighting. Any difference turns trading off (the kill switch, persisted, so a
restart does not clear it) and is told in one message listing each contract; trading
stays off until the user has looked and sends ``/start``. A venue whose positions
cannot be read holds a safety halt (no new executions) until a comparison succeeds,
tried again every ``RETRY_S``.

Paper and demo are not compared: their "venue" is the bot's own in-memory ledger,
empty at each start and filled by the same fills the database records, so a
comparison would say nothing about real money.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal

from predarb.control import Control
from predarb.events import HALT_POSITIONS
from predarb.notify import messages
from predarb.notify.base import Alert
from predarb.reconcile import Reconciler
from predarb.trading_state import TradingState

log = logging.getLogger(__name__)

RETRY_S = 30.0  # how soon a venue that could not be read at start is read again


class StartPositions:
    def __init__(
        self,
        reconciler: Reconciler,
        state: TradingState,
        control: Control,
        alert: Callable[[Alert], Awaitable[None]],
        *,
        live: bool,
    ) -> None:
        self.reconciler = reconciler
        self.state = state
        self.control = control
        self.alert = alert
        self.done = not live
        self._told: set[tuple[str, Decimal, Decimal]] = set()

    async def check(self) -> None:
        """Compare (at start, then as a job until every venue was read once)."""
        if self.done:
            return
        try:
            diffs, unread = await self.reconciler.at_start()
        except Exception as exc:  # a database or venue fault: compared later
            log.exception("positions at start not compared")
            diffs, unread = [], {"every venue": type(exc).__name__}
        fresh = [d for d in diffs if (d.contract, d.local, d.remote) not in self._told]
        if fresh:
            self._told.update((d.contract, d.local, d.remote) for d in fresh)
            await self.control.stop(
                f"positions differ from the venues' at start ({len(diffs)} contract(s)):"
                " check them, then send /start"
            )
            await self.alert(
                messages.positions_at_start([(d.contract, d.local, d.remote) for d in fresh])
            )
        if unread:
            # The reason names the venues only: a new error text is no new alert.
            log.warning("positions at start not compared: %s", unread)
            await self.state.halt(
                HALT_POSITIONS,
                f"the positions on {', '.join(sorted(unread))} could not be read at start",
            )
            return
        self.done = True
        await self.state.halt(HALT_POSITIONS, "")
        if not diffs:
            log.info("positions at start match the venues'", extra={"code": "positions_match"})
