"""What the open pages are told, as server-sent events: every alert (the dashboard is
one of the bot's channels, beside the console and Telegram) and "something changed,
fetch again".

``send`` only appends to memory and wakes the streams: like every notifier, it never
waits, so a slow browser never slows trading.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from predarb.notify.base import Alert, Notifier
from predarb.store.records import iso

RECENT_ALERTS = 50
QUEUE_BOUND = 100  # a stream this far behind is dropped; its page reconnects


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


class Hub:
    """One queue per open stream; ``None`` in a queue ends that stream."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[bytes | None]] = set()

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_BOUND)
        self.queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        self.queues.discard(queue)

    def publish(self, message: bytes) -> None:
        for queue in list(self.queues):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self.end(queue)

    def end(self, queue: asyncio.Queue[bytes | None]) -> None:
        self.queues.discard(queue)
        while not queue.empty():  # make room for the end mark
            queue.get_nowait()
        queue.put_nowait(None)

    def close(self) -> None:
        for queue in list(self.queues):
            self.end(queue)


class DashboardFeed(Notifier):
    """The dashboard as an alert channel: the recent alerts, pushed to open pages."""

    def __init__(self, hub: Hub, clock: Callable[[], datetime]) -> None:
        self.hub = hub
        self.clock = clock
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_ALERTS)

    def note(self, kind: str, text: str, urgent: bool = False) -> None:
        item = {"at": iso(self.clock()), "kind": kind, "text": text, "urgent": urgent}
        self.recent.appendleft(item)
        self.hub.publish(event("alert", item))

    async def send(self, alert: Alert) -> None:
        self.note(alert.kind.value, alert.plain, alert.urgent)
