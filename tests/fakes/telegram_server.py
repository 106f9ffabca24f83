"""A fake Telegram Bot API over real HTTP on loopback (aiohttp.web), per
shared/telegram-bot-api.md: ``POST /bot<TOKEN>/<method>``, form-encoded parameters
(strings raw, everything else JSON), ``{"ok": true, "result": ...}`` replies.

Test hooks: queue updates (commands, button presses), inject errors (429 with
retry_after, 409 on getUpdates, 5xx), hold a method's answers until released (a slow
Telegram), go down (refuse connections and reset the ones already open) and come back,
and await what the bot sent instead of sleeping.

``getUpdates`` pages as the Bot API server does: ``offset`` confirms (forgets) every
update before it, a negative one keeps only the last ``-offset``, and ``limit`` (default
100) is clamped to 1..100; ``batches`` records how many updates each call returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "predarb", "username": "predarb_test_bot"}
MAX_EMPTY_WAIT_S = 0.5
MAX_UPDATES = 100  # getUpdates' limit: its default and its largest value


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: dict[str, str]  # raw form values
    status: int  # the HTTP status the fake answered

    def json(self, key: str, default: Any = None) -> Any:
        if key not in self.params:
            return default
        try:
            return json.loads(self.params[key])
        except ValueError:
            return self.params[key]

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True, slots=True)
class Sent:
    """A sendMessage the fake accepted."""

    chat_id: int
    text: str
    parse_mode: str | None
    silent: bool
    reply_markup: Any


@dataclass(frozen=True, slots=True)
class Photo:
    """A sendPhoto the fake accepted: the file as uploaded (multipart/form-data)."""

    chat_id: int
    data: bytes
    filename: str
    content_type: str
    caption: str | None
    parse_mode: str | None


@dataclass(slots=True)
class _Failure:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class FakeBotApi:
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    photos: list[Photo] = field(default_factory=list)
    port: int = 0
    known_chats: set[int] = field(default_factory=set)  # the chats getChat finds
    chat_types: dict[int, str] = field(default_factory=dict)  # getChat's type; else private
    batches: list[int] = field(default_factory=list)  # updates each getUpdates returned
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _next_update_id: int = 1000
    _next_message_id: int = 1
    _failures: dict[str, deque[_Failure]] = field(default_factory=dict)
    _down: bool = False
    _holds: dict[str, asyncio.Event] = field(default_factory=dict)
    _held: dict[str, int] = field(default_factory=dict)
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        for gate in self._holds.values():  # nothing held keeps the server from closing
            gate.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def go_down(self) -> None:
        """Refuse new connections and reset every request on connections already open."""
        self._down = True
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def come_up(self) -> None:
        self._down = False
        if self._site is None:
            await self._listen()

    # -- test hooks: input -----------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        self._next_update_id += 1
        update = {"update_id": self._next_update_id, **update}
        self._updates.append(update)
        self._notify()
        return self._next_update_id

    def command(
        self,
        text: str,
        chat_id: int,
        user_id: int | None = None,
        *,
        date: float | None = None,
        edited: bool = False,
    ) -> int:
        """A command message; ``date`` (epoch seconds) when it was sent, ``edited`` for
        an ``edited_message`` update."""
        name = text.split()[0]
        message: dict[str, Any] = {
            "message_id": self._message_id(),
            "date": int(time.time() if date is None else date),
            "chat": {"id": chat_id, "type": "private"},
            "from": _user(user_id or chat_id),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(name)}],
        }
        if edited:
            message["edit_date"] = int(time.time())
        return self.push_update({"edited_message" if edited else "message": message})

    def button(self, data: str, chat_id: int, user_id: int | None = None) -> int:
        message = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER,
            "text": "Status",
        }
        return self.push_update(
            {
                "callback_query": {
                    "id": f"cb{self._next_update_id + 1}",
                    "from": _user(user_id or chat_id),
                    "chat_instance": "ci1",
                    "data": data,
                    "message": message,
                }
            }
        )

    def fail(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        description: str = "",
    ) -> None:
        """The next ``times`` calls of ``method`` answer with this error."""
        text = description or {
            409: "Conflict: terminated by other getUpdates request",
            429: f"Too Many Requests: retry after {retry_after}",
        }.get(status, "Internal Server Error")
        queue = self._failures.setdefault(method, deque())
        queue.extend(_Failure(status, text, retry_after) for _ in range(times))

    def hold(self, method: str) -> None:
        """Calls of ``method`` wait, unanswered, until ``release``: a slow Telegram."""
        self._holds[method] = asyncio.Event()

    def release(self, method: str) -> None:
        gate = self._holds.pop(method, None)
        if gate is not None:
            gate.set()

    def held(self, method: str) -> int:
        """Calls of ``method`` waiting for ``release`` now."""
        return self._held.get(method, 0)

    @property
    def unconfirmed(self) -> int:
        """Updates queued and not yet confirmed by a later ``offset``."""
        return len(self._updates)

    # -- test hooks: output -----------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent_to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        assert self._changed is not None
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[Sent]:  # noqa: ASYNC109
        await self.wait_for(lambda: len(self.sent) >= n, timeout)
        return list(self.sent)

    async def wait_for_calls(self, method: str, n: int, timeout: float = 5.0) -> list[Call]:  # noqa: ASYNC109
        await self.wait_for(lambda: len(self.calls_of(method)) >= n, timeout)
        return self.calls_of(method)

    # -- the server ---------------------------------------------------------------

    def _message_id(self) -> int:
        self._next_message_id += 1
        return self._next_message_id

    def _notify(self) -> None:
        async def notify() -> None:
            assert self._changed is not None
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())

    def _record(self, method: str, params: dict[str, str], status: int) -> None:
        self.calls.append(Call(method, params, status))
        self._notify()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self._down:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)
        method = request.match_info["method"]
        # Form-encoded, or multipart/form-data when a file is uploaded (sendPhoto).
        params: dict[str, str] = {}
        files: dict[str, web.FileField] = {}
        for k, v in (await request.post()).items():
            if isinstance(v, web.FileField):
                files[k] = v
            else:
                params[k] = str(v)
        if request.match_info["token"] != self.token:
            self._record(method, params, 401)
            return _error(401, "Unauthorized")
        queue = self._failures.get(method)
        if queue:
            failure = queue.popleft()
            self._record(method, params, failure.status)
            return _error(failure.status, failure.description, failure.retry_after)
        gate = self._holds.get(method)
        if gate is not None:
            self._held[method] = self.held(method) + 1
            self._notify()
            try:
                await gate.wait()
            finally:
                self._held[method] -= 1
        if method == "sendPhoto":
            return self._send_photo(params, files)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            self._record(method, params, 404)
            return _error(404, "Not Found: method not found")
        result = await handler(params)
        self._record(method, params, 200)
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, params: dict[str, str]) -> Any:
        return BOT_USER

    async def _m_getChat(self, params: dict[str, str]) -> Any:
        chat_id = int(params["chat_id"])
        if chat_id not in self.known_chats:
            raise web.HTTPBadRequest(
                text=json.dumps(
                    {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
                ),
                content_type="application/json",
            )
        return {  # a ChatFullInfo: the Bot API always includes the last two
            "id": chat_id,
            "type": self.chat_types.get(chat_id, "private"),
            "first_name": "Op",
            "accent_color_id": 0,
            "max_reaction_count": 11,
        }

    async def _m_deleteWebhook(self, params: dict[str, str]) -> Any:
        return True

    async def _m_setMyCommands(self, params: dict[str, str]) -> Any:
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, str]) -> Any:
        return True

    async def _m_getUpdates(self, params: dict[str, str]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or MAX_UPDATES), 1), MAX_UPDATES)
        if offset > 0:  # every update before it is confirmed: never sent again
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:  # only the last -offset updates are kept
            self._updates = self._updates[offset:]
        wait = min(float(params.get("timeout") or 0), MAX_EMPTY_WAIT_S)
        if not self._updates and wait > 0:
            assert self._changed is not None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait), self._changed:
                    await self._changed.wait_for(lambda: bool(self._updates))
        batch = self._updates[:limit]
        self.batches.append(len(batch))
        return batch

    async def _m_sendMessage(self, params: dict[str, str]) -> Any:
        chat_id = int(params["chat_id"])
        text = params["text"]
        self.sent.append(
            Sent(
                chat_id=chat_id,
                text=text,
                parse_mode=params.get("parse_mode"),
                silent=params.get("disable_notification") == "true",
                reply_markup=json.loads(params["reply_markup"])
                if "reply_markup" in params
                else None,
            )
        )
        return self._message(chat_id, text)

    def _send_photo(self, params: dict[str, str], files: dict[str, web.FileField]) -> web.Response:
        """``photo`` must be an uploaded file (or ``attach://NAME`` naming one)."""
        name = params.get("photo", "photo").removeprefix("attach://")
        upload = files.get(name)
        if upload is None:
            self._record("sendPhoto", params, 400)
            return _error(400, "Bad Request: there is no photo in the request")
        chat_id = int(params["chat_id"])
        self.photos.append(
            Photo(
                chat_id=chat_id,
                data=upload.file.read(),
                filename=upload.filename,
                content_type=upload.content_type,
                caption=params.get("caption"),
                parse_mode=params.get("parse_mode"),
            )
        )
        self._record("sendPhoto", params, 200)
        message = self._message(chat_id, "")
        message.pop("text")
        message["photo"] = [
            {
                "file_id": f"photo{len(self.photos)}",
                "file_unique_id": f"u{len(self.photos)}",
                "width": 800,
                "height": 500,
            }
        ]
        return web.json_response({"ok": True, "result": message})

    async def _m_editMessageText(self, params: dict[str, str]) -> Any:
        return self._message(int(params.get("chat_id") or 0), params["text"])

    def _message(self, chat_id: int, text: str) -> dict[str, Any]:
        return {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "text": text,
        }


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Op", "username": f"user{user_id}"}


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
