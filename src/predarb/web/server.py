"""The dashboard's HTTP server (aiohttp.web), on the engine's own event loop.

Pages are one shell each (``static/page.html``) filled in by ``static/app.js`` from the
JSON API; an open page holds one server-sent event stream and fetches again when told
that something changed. Stop and start are the engine's one persisted kill switch,
the same ``Control`` that Telegram's /stop and /start use, and each change is
announced on every channel.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Callable, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from predarb.notify import messages
from predarb.notify.base import Alert, AlertKind
from predarb.store.pair_reviews import REVIEWS_KEY
from predarb.store.records import iso
from predarb.web import views
from predarb.web.access import SECURITY_HEADERS, Access, guard
from predarb.web.board import OpportunityBoard
from predarb.web.feed import DashboardFeed, Hub, event
from predarb.web.reviews import ReviewApi

if TYPE_CHECKING:
    from predarb.engine import Engine
    from predarb.notify.pair_review import PairReview

log = logging.getLogger(__name__)

STOP_REASON = "stopped from the dashboard"
WATCH_INTERVAL_S = 0.5  # how often open pages learn that something changed
HEARTBEAT_S = 15.0  # keeps proxies and SSH tunnels from closing an idle stream
BALANCE_POINTS = 2000
PARTS = ("status", "executions", "opportunities", "pairs", "reviews", "pnl")
PAGES = {
    "/": "overview",
    "/opportunities": "opportunities",
    "/pairs": "pairs",
    "/trades": "trades",
    "/pnl": "pnl",
}
_STATIC = resources.files("predarb.web") / "static"
ASSETS = {
    "app.js": ("application/javascript", (_STATIC / "app.js").read_bytes()),
    "style.css": ("text/css", (_STATIC / "style.css").read_bytes()),
}
SHELL = (_STATIC / "page.html").read_text()


class Dashboard:
    def __init__(
        self,
        engine: Engine,
        access: Access,
        sock: socket.socket,
        *,
        say: Callable[[str], None] | None = None,
        review: PairReview | None = None,
    ) -> None:
        self.engine = engine
        self.reviews = ReviewApi(review, self._announce)
        self.access = access
        self.sock = sock
        self.say = say or (lambda text: print(text, flush=True))
        self.hub = Hub()
        self.feed = DashboardFeed(self.hub, engine.clock)
        self.board = OpportunityBoard()
        engine.watcher = self.board
        self.version = 0
        self._fingerprint: dict[str, object] = {}
        self._switch: tuple[bool, str] | None = None  # known once the engine has loaded it
        self.balance_history: dict[str, deque[tuple[str, str]]] = {}
        self._runner: web.AppRunner | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._pairs_json: tuple[object, list[dict[str, Any]]] | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return self.access.url(self.port)

    # -- lifecycle -------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[guard(self.access)])
        app.on_response_prepare.append(_security_headers)
        for path in PAGES:
            app.router.add_get(path, self.page)
        app.router.add_get("/static/{name}", self.asset)
        app.router.add_get("/api/status", self.status)
        app.router.add_get("/api/executions", self.executions)
        app.router.add_get("/api/opportunities", self.opportunities)
        app.router.add_get("/api/pairs", self.pairs)
        app.router.add_get("/api/pnl", self.pnl)
        app.router.add_get("/api/alerts", self.alerts)
        app.router.add_get("/api/stream", self.stream)
        app.router.add_post("/api/stop", self.stop)
        app.router.add_post("/api/start", self.start_trading)
        self.reviews.add_routes(app)
        return app

    async def start(self) -> None:
        # No access log: a page URL may carry ?token= on the first visit.
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, self.sock).start()
        self._watcher = asyncio.create_task(self._watch(), name="dashboard watch")
        self.say(f"dashboard: {self.access.login_url(self.port)}")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        self.hub.close()  # open streams end, so the server stops at once
        if self._runner is not None:
            await self._runner.cleanup()
        self.sock.close()

    # -- pages -----------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        name = PAGES[request.path]
        html = SHELL.replace("{{page}}", name).replace("{{mode}}", self.engine.mode)
        return web.Response(text=html, content_type="text/html")

    async def asset(self, request: web.Request) -> web.Response:
        found = ASSETS.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(body=found[1], content_type=found[0])

    # -- the API ---------------------------------------------------------------

    async def status(self, request: web.Request) -> web.Response:
        e = self.engine
        body = await views.status(
            e.store,
            e.clock(),
            mode=e.mode,
            limits=(e.limits.max_daily_trades, e.limits.max_daily_loss),
            halted=e.safety.halt_reason(),
            pairs=e.pairs,
        )
        body["version"] = self.version
        return web.json_response(body)

    async def executions(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            raise web.HTTPBadRequest(text="limit: a whole number") from None
        body = await views.executions(
            self.engine.store,
            limit=limit,
            before=request.query.get("before") or None,
            open_only=request.query.get("open") in ("1", "true"),
        )
        return web.json_response(body)

    async def opportunities(self, request: web.Request) -> web.Response:
        return web.json_response(views.opportunities(self.board, self.engine.clock()))

    async def pairs(self, request: web.Request) -> web.Response:
        e = self.engine
        cached = self._pairs_json
        if cached is None or cached[0] is not e.pairs:  # a re-match made a new list
            cached = self._pairs_json = (e.pairs, views.pairs(e.pairs))
        blocks = await e.store.pair_blocks(e.clock())
        out = [
            {**p, "blocked_until": iso(blocks[p["pair_id"]])} if p["pair_id"] in blocks else p
            for p in cached[1]
        ]
        return web.json_response({"pairs": out})

    async def pnl(self, request: web.Request) -> web.Response:
        history = {v: list(points) for v, points in self.balance_history.items()}
        return web.json_response(await views.pnl(self.engine.store, self.engine.clock(), history))

    async def alerts(self, request: web.Request) -> web.Response:
        return web.json_response({"alerts": list(self.feed.recent)})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await resp.prepare(request)
        queue = self.hub.subscribe()
        try:
            await resp.write(b"retry: 2000\n\n" + event("update", {"version": self.version}))
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    message = b": ping\n\n"
                if message is None:
                    break
                await resp.write(message)
        except (ConnectionResetError, ConnectionError):
            pass  # the page went away
        finally:
            self.hub.unsubscribe(queue)
        return resp

    async def stop(self, request: web.Request) -> web.Response:
        """What Telegram's /stop does, then told on every channel."""
        control = self.engine.control
        was_on = await control.stop(STOP_REASON)
        self._switch = (control.enabled, control.reason)
        if was_on:
            await self._announce(
                "Trading turned OFF from the dashboard. Open positions keep being tracked"
                " and settled."
            )
        reply = messages.stop_reply(was_on)
        return web.json_response({"trading": False, "changed": was_on, "message": _plain(reply)})

    async def start_trading(self, request: web.Request) -> web.Response:
        """What Telegram's /start does (refused, with the reason, while a limit blocks)."""
        control = self.engine.control
        if control.enabled:  # a venue halted alone (fee mismatch) resumes
            resumed = await control.resume_venues()
            reply = messages.start_reply(None, True, resumed)
            return web.json_response(
                {"trading": True, "changed": bool(resumed), "message": _plain(reply)}
            )
        refusal = await control.start()
        self._switch = (control.enabled, control.reason)
        reply = _plain(messages.start_reply(refusal, was_on=False))
        if refusal:
            return web.json_response(
                {"trading": False, "changed": False, "refused": refusal, "message": reply},
                status=409,
            )
        await self._announce("Trading turned ON from the dashboard.")
        return web.json_response({"trading": True, "changed": True, "message": reply})

    async def _announce(self, text: str) -> None:
        await self.engine.alert(messages.info(text))
        self._publish_change()

    # -- live updates ----------------------------------------------------------

    def _publish_change(self, parts: Sequence[str] = PARTS) -> None:
        """Open pages fetch again what shows ``parts`` (names of the API's reads)."""
        self.version += 1
        self.hub.publish(event("update", {"version": self.version, "parts": list(parts)}))

    async def _watch(self) -> None:
        """Every half second: keep the balance history, and tell open pages when what
        they show has changed."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                self._sample_balances()
                self._notice_switch()
                if self.hub.queues:
                    current = await self._current()
                    changed = [k for k, v in current.items() if self._fingerprint.get(k) != v]
                    self._fingerprint = current
                    if changed:
                        self._publish_change(changed)
            except Exception:
                log.exception("dashboard: watching for changes failed")

    def _notice_switch(self) -> None:
        """A kill switch changed elsewhere (Telegram, a limit): say so on the page."""
        control = self.engine.control
        now = (control.enabled, control.reason)
        if self._switch is None:
            self._switch = now
        elif now != self._switch:
            self._switch = now
            text = "trading ON" if now[0] else f"trading OFF: {now[1] or 'stopped'}"
            self.feed.note("trading", text, urgent=not now[0])

    def _sample_balances(self) -> None:
        stamp = iso(self.engine.clock())
        for venue, balance in self.engine.balances.items():
            points = self.balance_history.setdefault(venue.value, deque(maxlen=BALANCE_POINTS))
            text = views.usd(balance)
            if not points or points[-1][1] != text:
                points.append((stamp, text))

    async def _current(self) -> dict[str, object]:
        """A cheap fingerprint of what each API read shows."""
        e = self.engine
        rows = await e.store.query(
            "SELECT (SELECT COUNT(*) FROM executions), (SELECT MAX(updated_at) FROM executions),"
            " (SELECT MAX(updated_at) FROM bot_state WHERE key != 'last_scan'),"
            " (SELECT updated_at FROM bot_state WHERE key = ?)",
            (REVIEWS_KEY,),
        )
        executions, state, reviews = (rows[0][0], rows[0][1]), rows[0][2], rows[0][3]
        balances = tuple(sorted((v.value, str(b)) for v, b in e.balances.items()))
        switch = (e.control.enabled, e.control.reason, e.safety.halt_reason())
        return {
            "status": (executions, state, switch, balances, id(e.pairs)),
            "executions": executions,
            "pnl": (executions, balances),
            "opportunities": self.board.version,
            "pairs": id(e.pairs),
            "reviews": reviews,
        }


def _plain(html_text: str) -> str:
    return Alert(AlertKind.INFO, html_text).plain


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = "predarb"  # not the library and its version
