"""What the ``user_orders`` and ``fill`` channels said about our orders, for the
adapter's lookups (no I/O but ``asyncio.Event``).

The placer and the follow-up of unknown orders wait between REST lookups; with the
stream up, ``wait`` returns as soon as the order's news arrives (or at once when the
stream already saw it end), so the next lookup finds it done instead of a fixed delay
later. The stream also gives each client order id its venue id, which turns a lookup
that would scan every order into one ``GET /portfolio/orders/{id}``. REST stays the
record: news is never taken as the order's state, and a break of the stream wakes every
waiter, since news may have been lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from predarb.domain import Fill
from predarb.venues.kalshi.wire_orders import WireOrder

REMEMBERED = 5000  # orders whose news is kept (a few days of trading)
FINAL = ("executed", "canceled")


class OrderNewsBoard:
    def __init__(self) -> None:
        self.live = False  # a stream feeds the board (else ``wait`` is a plain delay)
        self.venue_ids: OrderedDict[str, str] = OrderedDict()  # client id -> venue id
        self.status: OrderedDict[str, str] = OrderedDict()  # venue id -> last status
        self.fills: OrderedDict[str, dict[str, Fill]] = OrderedDict()  # venue id -> fills
        self._waiters: dict[str, list[asyncio.Event]] = {}
        self._told: OrderedDict[str, None] = OrderedDict()  # ends already reported

    def order(self, o: WireOrder) -> None:
        if o.client_order_id:
            self.venue_ids[o.client_order_id] = o.order_id
            _trim(self.venue_ids)
        self.status[o.order_id] = o.status
        _trim(self.status)
        self._wake([o.order_id, o.client_order_id])

    def fill(self, order_id: str, client_order_id: str, fill: Fill) -> None:
        self.fills.setdefault(order_id, {})[fill.fill_id] = fill
        _trim(self.fills)
        if client_order_id:
            self.venue_ids.setdefault(client_order_id, order_id)
        self._wake([order_id, client_order_id])

    def broke(self) -> None:
        """The stream broke: whatever it would have said may be lost."""
        for events in self._waiters.values():
            for event in events:
                event.set()
        self._waiters.clear()

    def ended(self, client_order_id: str, venue_order_id: str = "") -> bool:
        vid = venue_order_id or self.venue_ids.get(client_order_id, "")
        return self.status.get(vid) in FINAL

    async def wait(self, client_order_id: str, venue_order_id: str, timeout_s: float) -> bool:
        """Until news of this order, or a break of the stream (True: look it up now),
        or ``timeout_s`` (False). At once when the stream already saw the order end."""
        if timeout_s <= 0:
            await asyncio.sleep(0)
            return False
        if not self.live:
            await asyncio.sleep(timeout_s)
            return False
        vid = venue_order_id or self.venue_ids.get(client_order_id, "")
        if self.ended(client_order_id, vid) and vid not in self._told:
            # Once: a lookup that still finds it open (REST lags a cancel by a moment)
            # then waits its delay again, not in a loop.
            self._told[vid] = None
            _trim(self._told)
            return True
        event = asyncio.Event()
        keys = [k for k in (client_order_id, venue_order_id) if k]
        for key in keys:
            self._waiters.setdefault(key, []).append(event)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout_s)
        finally:
            for key in keys:
                left = [e for e in self._waiters.get(key, []) if e is not event]
                if left:
                    self._waiters[key] = left
                else:
                    self._waiters.pop(key, None)
        return event.is_set()

    def _wake(self, keys: Iterable[str]) -> None:
        for key in keys:
            for event in self._waiters.pop(key, []) if key else []:
                event.set()


def _trim(d: OrderedDict[str, Any]) -> None:
    while len(d) > REMEMBERED:
        d.popitem(last=False)
