"""The chat commands: one gate for every update, then each command's reply.

Only parsing and replying live here; the figures come from ``reports`` (through
``Control``) and the texts from ``messages``, as the CLI uses them too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from predarb import reports
from predarb.control import Control
from predarb.notify import messages
from predarb.notify.delivery import retry_after_s
from predarb.store import Store

log = logging.getLogger(__name__)

STOP_REASON = "stopped from Telegram (/stop)"
# A reply lost to a network error or a 5xx is sent again, this many times at most, a
# little later each time: the user asked and is looking at the chat.
REPLY_ATTEMPTS = 4
REPLY_BACKOFF_S = 0.5
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


class Commands:
    def __init__(
        self, chat_id: int, control: Control, store: Store, clock: Callable[[], datetime]
    ) -> None:
        self.chat_id = chat_id
        self.control = control
        self.store = store
        self.clock = clock

    async def gate(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs first for every update: anything not from our chat stops here, unanswered."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is not None and chat.id == self.chat_id:
            return
        user = update.effective_user if isinstance(update, Update) else None
        log.warning(
            "telegram: ignored an update from a stranger",
            extra={
                "chat_id": chat.id if chat else None,
                "user_id": user.id if user else None,
                "username": user.username if user else None,
            },
        )
        raise ApplicationHandlerStop

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
        }
        out: list[BaseHandler[Any, Any, Any]] = [
            CommandHandler(name, table[name]) for name, _ in messages.COMMANDS
        ]
        out.append(CallbackQueryHandler(self.button, pattern=r"^(stop|start)$"))
        return out

    async def _reply(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        chunks = messages.split(text)
        for n, chunk in enumerate(chunks):
            await self._send(context, chunk, markup if n == len(chunks) - 1 else None)

    async def _send(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chunk: str,
        markup: InlineKeyboardMarkup | None,
    ) -> None:
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                await context.bot.send_message(
                    self.chat_id, chunk, parse_mode=ParseMode.HTML, reply_markup=markup
                )
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

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        report = await self.control.status()
        action = "stop" if self.control.enabled else "start"
        button = InlineKeyboardButton(f"{action.capitalize()} trading", callback_data=action)
        markup = InlineKeyboardMarkup([[button]])
        await self._reply(context, messages.status_text(report, self.clock()), markup)

    async def _stop(self) -> str:
        was_on = await self.control.stop(STOP_REASON)
        return messages.stop_reply(was_on)

    async def _start(self) -> str:
        if self.control.enabled:
            return messages.start_reply(None, was_on=True)
        return messages.start_reply(await self.control.start(), was_on=False)

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(context, await self._stop())

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(context, await self._start())

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        await query.answer()
        await self._reply(context, await (self._stop() if query.data == "stop" else self._start()))

    async def trades(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(context, messages.trades_text(await self.store.executions(limit=10)))

    async def pnl(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(context, messages.pnl_text(await reports.pnl(self.store, self.clock())))

    async def positions(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        executions = await self.store.executions(unsettled=True)
        text = messages.positions_text(executions, await self.store.holdings())
        await self._reply(context, text)

    async def balance(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(context, messages.balance_text(await self.control.status()))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(context, messages.help_text())
