"""Alert delivery through the SQLite outbox: at least once, batched, within Telegram's limits.

``enqueue`` writes the alert to the outbox and returns; a background ``run`` loop waits
up to ``batch_window_s`` to collect a burst (not at all for urgent alerts), packs the
pending rows into as few messages as fit, sends them, and marks rows sent only once
Telegram confirmed. A 429 waits the time Telegram asks for; network errors and Telegram
refusing the chat are retried with a capped backoff; nothing is dropped. Rows left unsent
by a crash or an outage are sent after the next start. Urgent alerts go in their own
messages, with sound; routine ones are sent silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram.error import BadRequest, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from predarb.notify import messages
from predarb.notify.base import Alert
from predarb.store import Store

log = logging.getLogger(__name__)

# send_text(html, silent, as_html): deliver one message or raise a telegram error.
SendText = Callable[[str, bool, bool], Awaitable[None]]

_TAG = re.compile(r"<[^>]+>")
PAGE = 50


@dataclass(frozen=True, slots=True)
class _Pending:
    row_id: int | None  # None: held in memory because the outbox write failed
    text: str
    urgent: bool
    memo: Alert | None = None


def plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


def retry_after_s(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that the type will become timedelta; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class OutboxSender:
    def __init__(
        self,
        store: Store,
        send_text: SendText,
        clock: Callable[[], datetime],
        *,
        ready: asyncio.Event,
        batch_window_s: float = 1.0,
        min_interval_s: float = 1.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.store = store
        self.send_text = send_text
        self.clock = clock
        self.ready = ready
        self.batch_window_s = batch_window_s
        self.min_interval_s = min_interval_s
        self.max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self._memory: list[Alert] = []
        self._last_send = 0.0
        self.delivered = 0  # alerts confirmed by Telegram, for the tests and the logs

    async def enqueue(self, alert: Alert) -> None:
        """Persist the alert and wake the loop; never raises."""
        try:
            await self.store.enqueue_alert(alert.kind.value, alert.html, alert.urgent, self.clock())
        except Exception:
            # The outbox is unusable (disk full, locked): still deliver from memory.
            log.exception("outbox write failed; holding the %s alert in memory", alert.kind.value)
            self._memory.append(alert)
        self._wake.set()
        if alert.urgent:
            self._urgent.set()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            await self._wake.wait()
            if not self._urgent.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), self.batch_window_s)
            self._wake.clear()
            self._urgent.clear()
            await self.ready.wait()
            try:
                await self.drain()
            except Exception:
                log.exception("alert delivery failed; retrying")
                await asyncio.sleep(self.max_backoff_s)
                self._wake.set()

    async def drain(self) -> None:
        """Send everything pending, retrying until Telegram confirmed each message."""
        while True:
            pending = await self._pending()
            if not pending:
                return
            urgent = [p for p in pending if p.urgent]
            routine = [p for p in pending if not p.urgent]
            for group in (urgent, routine):
                for bundle in messages.bundles([p.text for p in group]):
                    members = [group[i] for i in bundle.members]
                    await self._deliver(bundle.messages, members)

    async def _pending(self) -> list[_Pending]:
        try:
            rows = await self.store.pending_alerts(limit=PAGE)
        except Exception:
            log.exception("outbox read failed; retrying")
            await asyncio.sleep(self.max_backoff_s)
            return []
        out = [_Pending(r[0], r[2], r[3]) for r in rows]
        out.extend(_Pending(None, a.html, a.urgent, a) for a in self._memory)
        return out

    async def _deliver(self, texts: Sequence[str], members: Sequence[_Pending]) -> None:
        silent = not any(p.urgent for p in members)
        for text in texts:
            await self._send_one(text, silent, [p.row_id for p in members if p.row_id])
        ids = [p.row_id for p in members if p.row_id is not None]
        if ids:
            await self.store.mark_alerts(ids, self.clock(), sent=True)
        for p in members:
            if p.memo is not None:
                self._memory.remove(p.memo)
        self.delivered += len(members)

    async def _send_one(self, text: str, silent: bool, ids: list[int]) -> None:
        backoff = 0.5
        as_html = True
        while True:
            await self._pace()
            try:
                await self.send_text(text if as_html else plain(text), silent, as_html)
                return
            except RetryAfter as exc:
                wait = retry_after_s(exc)
                log.warning("telegram rate limit: waiting %.1fs", wait)
                await asyncio.sleep(wait)
                continue
            except BadRequest as exc:
                if as_html:
                    # Most likely markup Telegram would not parse: send the text plain.
                    log.warning("telegram refused the HTML (%s); sending plain text", exc.message)
                    as_html = False
                    continue
                log.error("telegram refused an alert: %s; retrying", exc.message)
            except Exception as exc:  # network, 5xx, 403, timeouts: the alert must still go
                log.warning(
                    "alert not delivered (%s); retrying in %.1fs", type(exc).__name__, backoff
                )
            if ids:
                await self._count_attempt(ids)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    async def _count_attempt(self, ids: list[int]) -> None:
        try:
            await self.store.mark_alerts(ids, self.clock(), sent=False)
        except Exception:
            log.exception("outbox attempt count failed")

    async def _pace(self) -> None:
        """At most one message per ``min_interval_s``: Telegram's per-chat rate."""
        loop = asyncio.get_running_loop()
        wait = self._last_send + self.min_interval_s - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_send = loop.time()
