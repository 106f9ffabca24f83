"""The Telegram channel: push alerts (through the SQLite outbox) and chat commands.

python-telegram-bot runs inside the bot's own asyncio loop, started and stopped by hand
(no ``run_polling``). ``start`` returns at once: connecting, ``getMe`` and polling are
retried in a background task, so Telegram being down never delays trading; alerts wait
in the outbox meanwhile. The trading core only sees the ``Notifier`` interface.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from telegram import BotCommand, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from predarb.control import Control, utcnow
from predarb.notify import messages
from predarb.notify.base import Alert, AlertKind, Notifier
from predarb.notify.delivery import OutboxSender
from predarb.notify.pair_review import PairReview
from predarb.notify.telegram_commands import Commands
from predarb.notify.telegram_control import ControlCommands, Operations
from predarb.store import Store

log = logging.getLogger(__name__)

AnyApp = Application[Any, Any, Any, Any, Any, Any]
GROUP_CHATS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL})


class _FetchedQueue(asyncio.Queue[object]):
    """The application's update queue: each update is shown to ``fast`` as it is
    fetched, before it waits behind the updates already queued."""

    def __init__(self, fast: Callable[[object], Awaitable[None]]) -> None:
        super().__init__()
        self._fast = fast

    async def put(self, item: object) -> None:
        try:
            await self._fast(item)
        except Exception:
            log.exception("telegram: the fast path failed; the update is handled in turn")
        await super().put(item)


class TelegramNotifier(Notifier):
    """Alerts to, and commands from, the one chat ``chat_id``.

    ``send`` never raises and never waits for Telegram: it writes the alert to the
    outbox and wakes the sender. ``stop`` returns within about ``stop_timeout_s``.
    """

    def __init__(
        self,
        token: str,
        chat_id: int,
        base_url: str,
        control: Control,
        store: Store,
        *,
        batch_window_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        min_interval_s: float = 1.0,
        poll_timeout_s: float = 10.0,
        stop_timeout_s: float = 5.0,
        review: PairReview | None = None,
        allowed_users: frozenset[int] = frozenset(),
        operations: Operations | None = None,
    ) -> None:
        self._token = token
        self.review = review  # pairs reviewed from the chat (notify.pair_review)
        self.chat_id = chat_id
        self.base_url = base_url
        self.store = store
        self.clock = clock
        self.poll_timeout_s = poll_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.commands = Commands(
            chat_id, control, store, clock, self._send_reply, allowed_users=allowed_users
        )
        # /settings /set /blacklist /unblock /mute /unwind /chart (notify.telegram_control)
        self.operations = operations
        self.control_commands = (
            ControlCommands(
                operations,
                store,
                clock,
                self._control_reply,
                self._send_photo,
                self.commands.replies.call,
                balances=control.balances,
            )
            if operations is not None
            else None
        )
        if review is not None:  # its /pairs and buttons reply through the same queue
            review.replies = self.commands.replies
        if self.control_commands is not None:
            self.commands.wired = self.control_commands.wired()
        self.ready = asyncio.Event()  # set once getMe succeeded: sending may begin
        self.polling = asyncio.Event()  # set once commands are being received
        self.sender = OutboxSender(
            store,
            self._send_text,
            clock,
            ready=self.ready,
            batch_window_s=batch_window_s,
            min_interval_s=min_interval_s,
        )
        self.app: AnyApp | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._charts: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self.app is not None:
            return  # started already (the engine starts its notifiers): one poller only
        app = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(self.base_url)
            .update_queue(_FetchedQueue(self.commands.fast_path))
            .build()
        )
        app.add_handler(TypeHandler(Update, self.commands.gate), group=-1)
        for handler in self.commands.handlers():
            app.add_handler(handler)
        for handler in self.review.handlers() if self.review else ():
            app.add_handler(handler)
        for handler in self.control_commands.handlers() if self.control_commands else ():
            app.add_handler(handler)
        app.add_error_handler(self._on_handler_error)
        self.app = app
        self.commands.begin()
        self._tasks = [
            asyncio.create_task(self._connect(app), name="telegram-connect"),
            asyncio.create_task(self.sender.run(), name="telegram-sender"),
        ]
        self.sender.wake()  # alerts left unsent by the previous run

    async def send(self, alert: Alert) -> None:
        if self.operations is not None and self.operations.runtime.is_muted(alert.kind):
            log.info("telegram: %s alert muted (/unmute %s)", alert.kind.value, alert.kind.value)
            return
        await self.sender.enqueue(alert)
        if alert.kind is AlertKind.DAILY_SUMMARY and self.control_commands is not None:
            # The day's picture follows its summary (sent once connected; not queued).
            task = asyncio.create_task(self._chart_when_ready(), name="telegram-daily-chart")
            self._charts.add(task)
            task.add_done_callback(self._charts.discard)

    async def _chart_when_ready(self) -> None:
        assert self.control_commands is not None
        try:
            await self.ready.wait()
            await self.control_commands.send_chart()
        except Exception:
            log.exception("telegram: the daily chart failed")

    async def stop(self) -> None:
        for task in [*self._tasks, *self._charts]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._charts, return_exceptions=True)
        self._tasks = []
        await self.commands.replies.stop(grace_s=self.stop_timeout_s)
        app, self.app = self.app, None
        if app is None:
            return
        if app.updater is not None and app.updater.running:
            await self._bounded(app.updater.stop(), "stop polling")
        if app.running:
            await self._bounded(app.stop(), "stop the application")
        await self._bounded(app.shutdown(), "shut down")
        await self._bounded(app.bot.shutdown(), "close connections")

    async def _bounded(self, step: Awaitable[None], what: str) -> None:
        try:
            await asyncio.wait_for(step, self.stop_timeout_s)
        except Exception as exc:
            log.warning("telegram: %s failed (%s)", what, type(exc).__name__)

    async def _connect(self, app: AnyApp) -> None:
        """getMe until it answers, then start the application and the long poll."""
        delay = 0.5
        while True:
            try:
                await app.initialize()
                break
            except InvalidToken:
                # The exception text carries the token: never log it.
                log.error("telegram: TELEGRAM_BOT_TOKEN was rejected; alerts stay in the outbox")
                return
            except Exception as exc:
                log.warning(
                    "telegram unreachable (%s); retrying in %.1fs", type(exc).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        log.info("telegram: connected as @%s", app.bot.username)
        self.commands.bot_username = app.bot.username or ""
        self.ready.set()
        if self.review is not None:
            self.review.bot = app.bot
        await self._warn_if_group(app)
        await app.start()
        if app.updater is None:
            return
        await app.updater.start_polling(
            timeout=timedelta(seconds=self.poll_timeout_s),
            bootstrap_retries=-1,
            error_callback=_on_poll_error,
        )
        self.polling.set()
        try:
            menu = messages.menu(self.commands.wired)
            await app.bot.set_my_commands([BotCommand(n, d) for n, d in menu])
        except TelegramError as exc:
            log.warning("telegram: setMyCommands failed (%s)", type(exc).__name__)

    async def _warn_if_group(self, app: AnyApp) -> None:
        """In a group every member can command the bot unless the users are listed."""
        if self.commands.allowed_users:
            return
        try:
            kind = (await app.bot.get_chat(self.chat_id)).type
        except Exception as exc:  # never worth failing the connection for
            log.warning("telegram: getChat failed (%s)", type(exc).__name__)
            kind = ChatType.GROUP if self.chat_id < 0 else ChatType.PRIVATE
        if kind not in GROUP_CHATS:
            return
        text = (
            f"TELEGRAM_CHAT_ID {self.chat_id} is a {kind} and TELEGRAM_ALLOWED_USER_IDS is"
            " not set: every member of it can stop and start trading. Set it to the user ids"
            " allowed to command the bot."
        )
        log.warning("telegram: %s", text)
        await self.send(messages.info(f"WARNING: {text}", AlertKind.INFO))

    async def _send_reply(self, text: str, markup: InlineKeyboardMarkup | None) -> None:
        if self.app is None:
            raise RuntimeError("telegram is stopped")
        await self.app.bot.send_message(
            self.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
        )

    def _control_reply(self, key: str, text: str, markup: InlineKeyboardMarkup | None) -> None:
        # A listing asked again replaces its unsent reply; the answer to a change never.
        self.commands.replies.put(text, markup, key=key, replaces=key in ("settings", "limits"))

    async def _send_photo(self, png: bytes, caption: str) -> None:
        if self.app is None:
            raise RuntimeError("telegram is stopped")
        await self.app.bot.send_photo(self.chat_id, png, caption=caption, parse_mode=ParseMode.HTML)

    async def _send_text(self, text: str, silent: bool, as_html: bool) -> None:
        if self.app is None:
            raise RuntimeError("telegram is stopped")
        await self.app.bot.send_message(
            self.chat_id,
            text,
            parse_mode=ParseMode.HTML if as_html else None,
            disable_notification=silent,
        )

    async def _on_handler_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: a command failed", exc_info=context.error)


def _on_poll_error(exc: TelegramError) -> None:
    if isinstance(exc, Conflict):
        log.error(
            "telegram: 409 Conflict: another process is polling TELEGRAM_BOT_TOKEN (a second"
            " predarb, on this machine with another PREDARB_DB_PATH or on another machine, or"
            " another program using the same bot). Commands reach only one of them: stop the"
            " other, or give each bot its own token. Retrying."
        )
    else:
        log.warning("telegram: polling failed (%s); retrying", type(exc).__name__)
