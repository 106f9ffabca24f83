"""Command replies, sent by a task of their own so that no reply ever holds the handling
of the next command (a 429 from Telegram waits here, not in front of a ``/stop``).
Every other call to Telegram a command makes (a button's answer, an edit, a photo) and
a long job it starts (an unwind) runs as a tracked task beside them (``call``).

Replies to ``/stop`` and ``/start`` go first. A read-only command asked again before its
previous reply left replaces that reply (the newest ``/status`` is the one worth
reading), so a flood of commands costs a handful of messages, not a backlog of minutes
at Telegram's one message a second. A reply lost to a network error, a 5xx or a 429 is
sent again, ``REPLY_ATTEMPTS`` times at most; one Telegram refuses (400) is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from predarb.notify import messages
from predarb.notify.delivery import retry_after_s

log = logging.getLogger(__name__)

REPLY_ATTEMPTS = 4
REPLY_BACKOFF_S = 0.5

SendReply = Callable[[str, InlineKeyboardMarkup | None], Awaitable[object]]


@dataclass
class _Reply:
    key: str  # the command it answers; replies of one read-only command replace each other
    chunks: list[tuple[str, InlineKeyboardMarkup | None]]
    first: bool


class Replies:
    def __init__(self, send: SendReply) -> None:
        self.send = send
        self._pending: list[_Reply] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()

    def put(
        self,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        *,
        key: str = "",
        first: bool = False,
        replaces: bool = False,
    ) -> None:
        """Queue a reply; returns at once. ``first`` jumps the queue (stop, start);
        ``replaces`` lets it take the place of an unsent reply with the same ``key``."""
        parts = messages.split(text)
        chunks = [(c, markup if n == len(parts) - 1 else None) for n, c in enumerate(parts)]
        reply = _Reply(key, chunks, first)
        if replaces:
            for n, old in enumerate(self._pending):
                if old.key == key:
                    self._pending[n] = reply
                    return
        if first:
            ahead = sum(1 for r in self._pending if r.first)
            self._pending.insert(ahead, reply)
        else:
            self._pending.append(reply)
        self._ready.set()

    def call(self, job: Coroutine[Any, Any, object], what: str) -> None:
        """Run ``job`` beside the command handling and the replies; returns at once. A
        failure is logged (a TelegramError briefly: the chat simply sees less)."""
        task = asyncio.create_task(self._guarded(job, what), name=f"telegram-{what}")
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _guarded(self, job: Coroutine[Any, Any, object], what: str) -> None:
        try:
            await job
        except TelegramError as exc:
            log.info("telegram: %s not done (%s)", what, type(exc).__name__)
        except Exception:
            log.exception("telegram: %s failed", what)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="telegram-replies")

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop sending; calls still under way get ``grace_s`` to finish (an unwind
        half done is worth finishing), then are cancelled."""
        calls = set(self._calls)
        if calls and grace_s > 0:
            await asyncio.wait(calls, timeout=grace_s)
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            if not self._pending:
                self._ready.clear()
                continue
            reply = self._pending.pop(0)
            for text, markup in reply.chunks:
                try:
                    await self._send(text, markup)
                except Exception as exc:  # dropped, logged: the bot answers the next one
                    log.warning("telegram reply dropped (%s)", type(exc).__name__)
                    break

    async def _send(self, text: str, markup: InlineKeyboardMarkup | None) -> None:
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                await self.send(text, markup)
                return
            except BadRequest:
                raise  # sending it again would not change Telegram's mind
            except (RetryAfter, NetworkError) as exc:  # a 429, a timeout, a reset, a 5xx
                if attempt == REPLY_ATTEMPTS:
                    raise
                if isinstance(exc, RetryAfter):
                    wait = retry_after_s(exc)
                else:
                    wait = REPLY_BACKOFF_S * 2 ** (attempt - 1)
                log.warning("telegram reply not delivered (%s); retrying", exc.message)
            await asyncio.sleep(wait)
