"""The chat commands: one gate for every update, then each command's reply.

The gate lets through only what may command the bot: from the configured chat, from an
allowed user when ``TELEGRAM_ALLOWED_USER_IDS`` is set (messages and button presses
alike), not an edit, and not stale: a message sent before this start, or more than
``MAX_AGE_S`` ago, does nothing (a ``/start`` queued for hours must not turn trading on),
and a button acts only on a message this run sent. ``/stop`` acts the moment its update
is fetched (``fast_path``), ahead of any queue of commands; replies are sent by a task
of their own (``Replies``), so they never hold the handling of the next command.

Only parsing and replying live here; the figures come from ``reports`` (through
``Control``) and the texts from ``messages``, as the CLI uses them too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from predarb import reports, reports_periods, reports_quality
from predarb.control import Control
from predarb.notify import messages, report_texts
from predarb.notify.telegram_replies import Replies, SendReply
from predarb.store import Store

log = logging.getLogger(__name__)

STOP_REASON = "stopped from Telegram (/stop)"
MAX_AGE_S = 60.0  # an older command is not acted on
# Telegram dates messages to the second, and the box's clock is only so exact (the
# Kalshi signatures already need it within 5 s).
CLOCK_SLACK_S = 2.0
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]
ACTIONS = ("stop", "start")
NOT_ALLOWED = "user not in TELEGRAM_ALLOWED_USER_IDS"  # as a stranger: never answered
MAX_DAYS = 90  # of /quality and /daily
PNL_BUTTONS = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton(by.capitalize(), callback_data=f"pnl:{by}") for by in row]
        for row in (("day", "week", "month"), ("kind", "category", "pair"))
    ]
)


def _days(args: list[str] | None, default: int) -> int | None:
    """The DAYS argument of a command (``default`` without one), or None if bad."""
    if not args:
        return default
    try:
        days = int(args[0])
    except ValueError:
        return None
    return days if 1 <= days <= MAX_DAYS else None


def command_of(message: Message | None, bot_username: str = "") -> str:
    """The command a message carries (``/stop@ourbot now`` is ``stop``), or "" (also
    for a command addressed to another bot)."""
    text = (message.text or "") if message is not None else ""
    if not text.startswith("/") or len(text) < 2:
        return ""
    name, _, to = text[1:].split(maxsplit=1)[0].partition("@")
    if to and bot_username and to.lower() != bot_username.lower():
        return ""
    return name.lower()


class Commands:
    def __init__(
        self,
        chat_id: int,
        control: Control,
        store: Store,
        clock: Callable[[], datetime],
        send: SendReply,
        *,
        allowed_users: Iterable[int] = (),
    ) -> None:
        self.chat_id = chat_id
        self.control = control
        self.store = store
        self.clock = clock
        self.allowed_users = frozenset(allowed_users)
        self.replies = Replies(send)
        self.started_at = time.time()  # wall-clock, as Telegram dates its messages
        self._done: set[int] = set()  # update ids the fast path already acted on
        self.bot_username = ""
        self.wired: frozenset[str] = frozenset()  # the control commands that act (/help)

    def begin(self) -> None:
        """From now on, commands sent earlier are stale."""
        self.started_at = time.time()
        self.replies.start()

    # -- the gate ------------------------------------------------------------------

    def refusal(self, update: object) -> str:
        """Why ``update`` may not command the bot ("" when it may)."""
        if not isinstance(update, Update):
            return "not an update"
        chat = update.effective_chat
        if chat is None or chat.id != self.chat_id:
            return "stranger"
        user = update.effective_user
        if self.allowed_users and (user is None or user.id not in self.allowed_users):
            return NOT_ALLOWED
        if update.edited_message is not None or update.edited_channel_post is not None:
            return "edited message"
        if update.callback_query is not None:
            if update.callback_query.data not in ACTIONS:
                return ""  # other buttons (pair review) stay good across restarts
            shown = update.callback_query.message
            if shown is None or shown.date.timestamp() < self.started_at - CLOCK_SLACK_S:
                return "button on a message from before this start"
            return ""
        message = update.message
        if message is None:
            return "not a command"
        sent = message.date.timestamp()
        if sent < self.started_at - CLOCK_SLACK_S:
            return "sent before this start"
        if time.time() - sent > MAX_AGE_S:
            return f"more than {MAX_AGE_S:g} s old"
        return ""

    async def gate(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs first for every update: anything that may not command the bot stops
        here (strangers unanswered); so does what the fast path already did."""
        if isinstance(update, Update) and update.update_id in self._done:
            self._done.discard(update.update_id)
            raise ApplicationHandlerStop
        reason = self.refusal(update)
        if not reason:
            return
        user = update.effective_user if isinstance(update, Update) else None
        chat = update.effective_chat if isinstance(update, Update) else None
        log.warning(
            "telegram: ignored an update (%s)",
            reason,
            extra={
                "chat_id": chat.id if chat else None,
                "user_id": user.id if user else None,
                "username": user.username if user else None,
            },
        )
        if isinstance(update, Update) and reason not in ("stranger", NOT_ALLOWED):
            await self._tell_ignored(update, reason)
        raise ApplicationHandlerStop

    async def _tell_ignored(self, update: Update, reason: str) -> None:
        """Our own chat is told when a stop or start did nothing: it may matter."""
        query = update.callback_query
        if query is not None and reason.startswith("button"):
            text = "This button is from before a restart: send /status again."
            self.replies.call(query.answer(text), "button answer")
            return
        command = command_of(update.message, self.bot_username)
        if command in ACTIONS and update.message is not None:
            when = f"{update.message.date:%H:%M:%S} UTC"
            self.replies.put(
                f"Ignored /{command} sent at {when}: {reason}. Send it again if you still mean it.",
                key=f"ignored-{command}",
                replaces=True,
            )

    # -- /stop ahead of everything ---------------------------------------------------

    async def fast_path(self, update: object) -> None:
        """Called for each update as it is fetched, before it waits in the queue:
        ``/stop`` (or its button) acts at once."""
        if not isinstance(update, Update) or self.refusal(update):
            return
        query = update.callback_query
        if command_of(update.message, self.bot_username) == "stop":
            self._done.add(update.update_id)
            await self._act("stop")
        elif query is not None and query.data == "stop":
            self._done.add(update.update_id)
            await self._act("stop")
            self.replies.call(query.answer(), "button answer")

    async def _act(self, action: str) -> None:
        text = await (self._stop() if action == "stop" else self._start())
        self.replies.put(text, key=action, first=True)

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        table: dict[str, Handler] = {
            "status": self.status,
            "stop": self.stop,
            "start": self.start,
            "trades": self.trades,
            "pnl": self.pnl,
            "positions": self.positions,
            "balance": self.balance,
            "help": self.help,
            "quality": self.quality,
            "daily": self.daily,
        }
        # /pairs is answered by notify.pair_review, beside these.
        out: list[BaseHandler[Any, Any, Any]] = [
            CommandHandler(name, handler) for name, handler in table.items()
        ]
        out.append(CallbackQueryHandler(self.button, pattern=r"^(stop|start)$"))
        out.append(CallbackQueryHandler(self.refresh_status, pattern=r"^status:refresh$"))
        out.append(CallbackQueryHandler(self.pnl_button, pattern=r"^pnl:[a-z]+$"))
        return out

    def _reply(self, key: str, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        self.replies.put(text, markup, key=key, replaces=True)

    async def _status(self) -> tuple[str, InlineKeyboardMarkup]:
        report = await self.control.status()
        action = "stop" if self.control.enabled else "start"
        button = InlineKeyboardButton(f"{action.capitalize()} trading", callback_data=action)
        refresh = InlineKeyboardButton("Refresh", callback_data="status:refresh")
        return messages.status_text(report, self.clock()), InlineKeyboardMarkup([[button, refresh]])

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._reply("status", *await self._status())

    async def refresh_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The Refresh button: the status message itself is brought up to date."""
        query = update.callback_query
        if query is None:
            return
        self.replies.call(query.answer(), "button answer")
        text, markup = await self._status()
        # A BadRequest "message is not modified" (nothing changed) is only logged.
        edit = query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
        self.replies.call(edit, "status refresh")

    async def _stop(self) -> str:
        was_on = await self.control.stop(STOP_REASON)
        return messages.stop_reply(was_on)

    async def _start(self) -> str:
        if self.control.enabled:  # a venue halted alone (fee mismatch) resumes
            return messages.start_reply(None, True, await self.control.resume_venues())
        return messages.start_reply(await self.control.start(), was_on=False)

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._act("stop")  # when the fast path could not see it first

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._act("start")

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data not in ACTIONS:
            return
        await self._act(str(query.data))
        self.replies.call(query.answer(), "button answer")

    async def trades(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._reply("trades", messages.trades_text(await self.store.executions(limit=10)))

    async def pnl(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/pnl``: today, this week, all time, with a button per breakdown;
        ``/pnl day|week|month|kind|category|pair``: that breakdown."""
        by = (context.args or [""])[0].lower()
        if by:
            await self._breakdown(by)
            return
        text = messages.pnl_text(await reports.pnl(self.store, self.clock()))
        self._reply("pnl", text, PNL_BUTTONS)

    async def pnl_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or not query.data:
            return
        self.replies.call(query.answer(), "button answer")
        await self._breakdown(query.data.removeprefix("pnl:"))

    async def _breakdown(self, by: str) -> None:
        if by not in reports_periods.GROUPS:
            self._reply("pnl", f"Usage: /pnl [{'|'.join(reports_periods.GROUPS)}]")
            return
        text = report_texts.breakdown_text(await reports_periods.breakdown(self.store, by))
        self._reply(f"pnl:{by}", text)

    async def quality(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/quality [DAYS]``: execution quality over the last DAYS days (7);
        ``/quality EXECUTION``: that one execution's."""
        args = context.args or []
        if args and not args[0].isdigit():
            one = await reports_quality.of_execution(self.store, args[0])
            if one is None:
                self._reply(
                    "quality",
                    f"Usage: /quality [DAYS] or /quality EXECUTION; no execution"
                    f" {escape(args[0])} (ids: /trades)",
                )
                return
            self._reply(f"quality:{one.execution_id}", report_texts.execution_quality_text(one))
            return
        days = _days(args, default=7)
        if days is None:
            usage = f"Usage: /quality [DAYS], DAYS from 1 to {MAX_DAYS}, or /quality EXECUTION"
            self._reply("quality", usage)
            return
        report = await reports_quality.quality(self.store, self.clock(), days)
        self._reply("quality", report_texts.quality_text(report))

    async def daily(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/daily [N]``: the last N UTC days (7), one line each."""
        days = _days(context.args, default=7)
        if days is None:
            self._reply("daily", f"Usage: /daily [DAYS], DAYS from 1 to {MAX_DAYS}")
            return
        windows = await reports_periods.daily(self.store, self.clock(), days)
        self._reply("daily", report_texts.daily_text(windows))

    async def positions(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        executions = await self.store.executions(unsettled=True)
        text = messages.positions_text(executions, await self.store.holdings())
        self._reply("positions", text)

    async def balance(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._reply("balance", messages.balance_text(await self.control.status()))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._reply("help", messages.help_text(self.wired))
