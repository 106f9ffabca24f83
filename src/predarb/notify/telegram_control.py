"""Control from the phone without a redeploy: ``/settings``, ``/limits``, ``/set``,
``/blacklist``, ``/unblock``, ``/mute`` and ``/unmute``, ``/unwind`` (with a
confirmation button) and ``/chart`` (a photo).

Every update reaches these handlers only through the notifier's gate (the configured
chat, allowed users, nothing stale); a button is checked again here. A change is made
by ``RuntimeSettings`` (validated by the configuration's own rules, stored, applied to
risk at once); the replies are one line saying what changed or why not. Nothing here
waits for Telegram or for an unwind: replies are queued, and a photo, a button's answer,
an edit or the unwind itself runs beside the command handling (``Call``), so a slow
sendPhoto never holds the next ``/start`` or ``/status``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from predarb import reports_periods
from predarb.domain import Venue
from predarb.notify import control_texts
from predarb.notify.chart import balance_series, render
from predarb.runtime_settings import RuntimeSettings, SettingRefused
from predarb.store import Store

log = logging.getLogger(__name__)

CONFIRM_S = 300.0  # an unwind button acts this long after it was shown, and only once
Reply = Callable[[str, str, InlineKeyboardMarkup | None], None]  # key, text, markup
SendPhoto = Callable[[bytes, str], Awaitable[None]]  # png, caption (HTML)
Call = Callable[[Coroutine[Any, Any, object], str], None]  # a job run beside, and its name
Unwind = Callable[[str], Awaitable[str]]  # execution id -> the result, one line
Unblock = Callable[[str], Awaitable[bool]]  # pair id or series -> was it blocked
Balances = Callable[[], Awaitable[dict[Venue, Decimal]]]
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


class Confirmations:
    """``/unwind`` prompts waiting for a tap: each acts once, and only within ``ttl_s``
    of being shown. Expired ones are forgotten whenever a new one is made, so prompts
    never tapped do not pile up over a long run."""

    def __init__(
        self, ttl_s: float = CONFIRM_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.monotonic = monotonic
        self._pending: dict[str, tuple[str, float]] = {}  # token -> (execution, shown at)

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, execution_id: str) -> str:
        now = self.monotonic()
        for token in [t for t, (_, at) in self._pending.items() if now - at > self.ttl_s]:
            del self._pending[token]
        token = secrets.token_hex(6)
        self._pending[token] = (execution_id, now)
        return token

    def take(self, token: str) -> str | None:
        """The execution ``token`` confirms, once; None when spent, unknown or expired."""
        pending = self._pending.pop(token, None)
        if pending is None or self.monotonic() - pending[1] > self.ttl_s:
            return None
        return pending[0]


@dataclass(frozen=True, slots=True)
class Operations:
    """What the phone may change, handed over by the composition root."""

    runtime: RuntimeSettings
    unwind: Unwind | None = None
    unblock: Unblock | None = None


class ControlCommands:
    def __init__(
        self,
        ops: Operations,
        store: Store,
        clock: Callable[[], datetime],
        reply: Reply,
        send_photo: SendPhoto,
        call: Call,
        *,
        balances: Balances | None = None,
    ) -> None:
        self.runtime = ops.runtime
        self.store = store
        self.clock = clock
        self.reply = reply
        self.send_photo = send_photo
        self.call = call
        self.unwind_execution = ops.unwind
        self.unblock_pair = ops.unblock
        self.balances = balances
        self.confirmations = Confirmations()

    def wired(self) -> frozenset[str]:
        """The commands that act here (``/unwind`` and ``/unblock`` only when their
        operation was handed over): the menu and /help list these."""
        missing = {"unwind": self.unwind_execution, "unblock": self.unblock_pair}
        return frozenset(self._table()) - {name for name, op in missing.items() if op is None}

    def _table(self) -> dict[str, Handler]:
        return {
            "settings": self.settings,
            "limits": self.limits,
            "set": self.set,
            "blacklist": self.blacklist,
            "unblock": self.unblock,
            "mute": self.mute,
            "unmute": self.unmute,
            "unwind": self.unwind,
            "chart": self.chart,
        }

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        out: list[BaseHandler[Any, Any, Any]] = [
            CommandHandler(name, handler) for name, handler in self._table().items()
        ]
        out.append(CallbackQueryHandler(self.unwind_button, pattern=r"^unwind:(yes|no):"))
        return out

    # -- reading ---------------------------------------------------------------------

    async def settings(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        blocks = await self.store.pair_blocks(self.clock())
        self.reply("settings", control_texts.settings_text(self.runtime, blocks), None)

    async def limits(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.reply("limits", control_texts.limits_text(self.runtime.limits()), None)

    # -- changing --------------------------------------------------------------------

    async def set(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        if len(args) != 2:
            self.reply("set", "Usage: /set NAME VALUE (or VALUE default); /limits lists them", None)
            return
        try:
            limit = await self.runtime.set_limit(args[0], args[1])
        except SettingRefused as exc:
            self.reply("set", f"Refused: {escape(str(exc))}", None)
            return
        self.reply(
            "set", f"{limit.name} is now <b>{escape(limit.value)}</b> ({limit.source}).", None
        )

    async def blacklist(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        if len(args) < 2 or args[0] not in ("add", "remove"):
            listed = ", ".join(sorted(self.runtime.blacklist)) or "empty"
            self.reply(
                "blacklist",
                f"Usage: /blacklist add|remove X (series, league, category or pair).\n"
                f"Blacklist: {escape(listed)}",
                None,
            )
            return
        item = " ".join(args[1:])
        try:
            if args[0] == "add":
                changed = await self.runtime.blacklist_add(item)
                text = "never traded from now on" if changed else "was already blacklisted"
            else:
                changed = await self.runtime.blacklist_remove(item)
                text = "no longer blacklisted" if changed else "was not blacklisted"
        except SettingRefused as exc:
            self.reply("blacklist", f"Refused: {escape(str(exc))}", None)
            return
        self.reply("blacklist", f"{escape(item.strip().lower())}: {text}.", None)

    async def unblock(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        if len(args) != 1 or self.unblock_pair is None:
            self.reply("unblock", "Usage: /unblock PAIR (a pair id or series; see /settings)", None)
            return
        was = await self.unblock_pair(args[0])
        text = "unblocked: it may trade again" if was else "was not blocked"
        self.reply("unblock", f"{escape(args[0])}: {text}.", None)

    async def mute(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._mute(context, on=True)

    async def unmute(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._mute(context, on=False)

    async def _mute(self, context: ContextTypes.DEFAULT_TYPE, *, on: bool) -> None:
        args = context.args or []
        word = "mute" if on else "unmute"
        if len(args) != 1:
            self.reply(word, f"Usage: /{word} KIND; /settings lists what is muted", None)
            return
        try:
            kind = await self.runtime.mute(args[0], on)
        except SettingRefused as exc:
            self.reply(word, f"Refused: {escape(str(exc))}", None)
            return
        state = "muted: not sent to this chat" if on else "unmuted"
        self.reply(word, f"{escape(kind.value)} alerts {state}.", None)

    # -- /unwind, confirmed ------------------------------------------------------------

    async def unwind(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        from predarb.execution.manual_unwind import holding_text, refusal

        args = context.args or []
        if len(args) != 1 or self.unwind_execution is None:
            self.reply(
                "unwind", "Usage: /unwind EXECUTION (an id from /positions or /trades)", None
            )
            return
        ex = await self.store.execution(args[0])
        why = refusal(ex)
        if why or ex is None:
            self.reply("unwind", f"{escape(args[0])} cannot be unwound: {escape(why)}.", None)
            return
        token = self.confirmations.add(ex.id)
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Sell back", callback_data=f"unwind:yes:{token}"),
                    InlineKeyboardButton("Cancel", callback_data=f"unwind:no:{token}"),
                ]
            ]
        )
        text = (
            f"<b>Unwind {escape(ex.id)}</b> ({escape(ex.event)})?\n"
            f"Sells back {escape(holding_text(ex))} at the bids now, in up to"
            f" {self.runtime.current.executor_unwind_steps} price steps. Nothing is sent"
            " until you tap Sell back."
        )
        self.reply(f"unwind:{token}", text, markup)

    async def unwind_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or not query.data or self.unwind_execution is None:
            return
        _, answer, token = query.data.split(":", 2)
        execution_id = self.confirmations.take(token)  # before any wait: one press acts
        if execution_id is None:
            self._answer(query, "This confirmation has expired: send /unwind again.")
            return
        if answer != "yes":
            self._answer(query, "Cancelled")
            self._edit(query, f"Unwind of {escape(execution_id)} cancelled: nothing sent.")
            return
        self._answer(query, "Selling back")
        self._edit(query, f"Unwinding {escape(execution_id)}...")
        self.call(self._unwind(execution_id), f"unwind {execution_id}")

    async def _unwind(self, execution_id: str) -> None:
        assert self.unwind_execution is not None
        try:
            result = await self.unwind_execution(execution_id)
        except Exception as exc:
            log.exception("telegram: the unwind of %s failed", execution_id)
            result = f"the unwind failed ({type(exc).__name__}); see the log and /positions"
        self.reply(f"unwound:{execution_id}", f"{escape(execution_id)}: {escape(result)}", None)

    def _answer(self, query: Any, text: str) -> None:
        self.call(query.answer(text), "button answer")

    def _edit(self, query: Any, text: str) -> None:
        self.call(query.edit_message_text(text, parse_mode=ParseMode.HTML), "confirmation edit")

    # -- /chart --------------------------------------------------------------------------

    async def chart(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.call(self.send_chart(), "chart")

    async def send_chart(self) -> None:
        """The picture, to the chat (``/chart``, and after each daily summary)."""
        points = await reports_periods.cumulative(self.store)
        balances: dict[Venue, Decimal] = await self.balances() if self.balances else {}
        now = self.clock()
        history = balance_series(await self.store.balance_history(), balances, now)
        png = await render(points, history, now)
        total = points[-1].cumulative if points else 0
        caption = f"Cumulative realized P&amp;L: ${total:,.2f} ({len(points)} settled)"
        try:
            await self.send_photo(png, caption)
        except TelegramError as exc:
            log.warning("telegram: chart not sent (%s)", type(exc).__name__)
