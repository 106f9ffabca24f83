"""Who may open the dashboard: the token, the session cookie, the same-origin rule.

Every request needs the token: ``Authorization: Bearer TOKEN`` (scripts), or the
session cookie that ``?token=TOKEN`` on a page URL sets once (browsers). A changing
request (POST) that rests on the cookie must come from the dashboard's own origin.
A host that is not a loopback address needs a configured token of 24+ characters.
No response, log line or header ever carries the token itself: the cookie holds an
HMAC of it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from predarb.config import ConfigError, Settings
from predarb.logs import redact_also

log = logging.getLogger(__name__)

MIN_REMOTE_TOKEN = 24
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

# Nothing is loaded from anywhere but this server, nothing may frame it (a hidden
# stop/start button), and no URL (with a token in it) leaks through a Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

PROMPT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>predarb</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>predarb</h1><form method="get" action="">
<label>Dashboard token <input type="password" name="token" autocomplete="current-password"
autofocus required></label> <button type="submit">Open</button></form>
<p>The token is PREDARB_WEB_TOKEN, or the one printed at start.</p></body></html>
"""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """The address to listen on and the one token that opens it."""

    host: str
    port: int
    token: str
    generated: bool  # made at this start (so it may be printed), not configured

    @property
    def session(self) -> str:
        """The cookie's value: derived from the token, so the cookie is not the token."""
        return hmac.new(
            self.token.encode(), b"predarb dashboard session", hashlib.sha256
        ).hexdigest()

    @property
    def cookie_name(self) -> str:
        # Cookies ignore ports: two bots on one machine must not log each other out.
        return f"predarb_session_{self.port}"

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}/"

    def login_url(self, port: int | None = None) -> str:
        """The URL to print: with the token only when it was made here."""
        base = self.url(port)
        return f"{base}?token={quote(self.token, safe='')}" if self.generated else base

    def token_ok(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def session_ok(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self.session.encode())


def resolve(settings: Settings) -> Access | None:
    """The dashboard's access from the settings (None when ``PREDARB_WEB_PORT=0``), or
    a ``ConfigError`` naming ``PREDARB_WEB_TOKEN`` for a remote host without a strong
    token."""
    if settings.predarb_web_port == 0:
        return None
    host = settings.predarb_web_host
    configured = settings.predarb_web_token
    if not is_loopback(host):
        if configured is None:
            raise ConfigError(
                f"PREDARB_WEB_TOKEN: required (at least {MIN_REMOTE_TOKEN} characters) when"
                f" PREDARB_WEB_HOST={host} is not a loopback address"
            )
        if len(configured.get_secret_value()) < MIN_REMOTE_TOKEN:
            raise ConfigError(
                f"PREDARB_WEB_TOKEN: must be at least {MIN_REMOTE_TOKEN} characters when"
                f" PREDARB_WEB_HOST={host} is not a loopback address"
            )
    if configured is not None:
        return Access(host, settings.predarb_web_port, configured.get_secret_value(), False)
    token = secrets.token_urlsafe(24)
    redact_also(token)
    return Access(host, settings.predarb_web_port, token, True)


def listen(access: Access) -> socket.socket:
    """The listening socket, bound now: a taken port stops the start before trading."""
    try:
        return socket.create_server((access.host, access.port), backlog=64)
    except OSError as exc:
        raise ConfigError(
            f"PREDARB_WEB_PORT: cannot listen on {access.host}:{access.port}"
            f" ({exc.strerror or exc}); set another port, or 0 to turn the dashboard off"
        ) from None


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == f"{request.scheme}://{request.host}"
    # Browsers send Origin on every POST made by fetch or a form; without it, only the
    # fetch metadata can vouch for the request.
    return request.headers.get("Sec-Fetch-Site") == "same-origin"


def _refuse(request: web.Request, status: int, why: str) -> web.Response:
    log.info("dashboard: refused %s %s (%s)", request.method, request.path, why)
    if request.path.startswith("/api/") or request.method != "GET":
        resp = web.json_response({"error": why}, status=status)
    else:
        resp = web.Response(text=PROMPT_PAGE, content_type="text/html", status=status)
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="predarb"'
    return resp


def guard(access: Access) -> Middleware:
    """The aiohttp middleware that admits a request or answers 401/403 itself."""
    local_only = is_loopback(access.host)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        # A loopback dashboard answers loopback names only: a page on another site whose
        # name was re-pointed at 127.0.0.1 (DNS rebinding) gets nothing.
        if local_only and not is_loopback(request.url.host or ""):
            return _refuse(request, 403, "host not allowed")
        bearer = _bearer(request)
        if bearer is not None:
            if not access.token_ok(bearer):
                return _refuse(request, 401, "wrong token")
            return await handler(request)
        if "token" in request.query:
            if request.method != "GET" or request.path.startswith("/api/"):
                return _refuse(request, 401, "a token in the URL opens pages only")
            if not access.token_ok(request.query["token"]):
                return _refuse(request, 401, "wrong token")
            # The cookie is set, and the token leaves the address bar and the history.
            rest = request.url.with_query({k: v for k, v in request.query.items() if k != "token"})
            resp = web.Response(status=303, headers={"Location": str(rest.relative()) or "/"})
            resp.set_cookie(
                access.cookie_name, access.session, httponly=True, samesite="Strict", path="/"
            )
            return resp
        cookie = request.cookies.get(access.cookie_name)
        if cookie is None:
            return _refuse(request, 401, "no token")
        if not access.session_ok(cookie):
            return _refuse(request, 401, "wrong session")
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(request):
            return _refuse(request, 403, "cross-origin request")
        return await handler(request)

    return middleware


async def check(settings: Settings) -> tuple[str, str]:
    """``predarb check-config``'s line about the dashboard."""
    try:
        access = resolve(settings)
    except ConfigError as exc:
        return "FAIL", str(exc)
    if access is None:
        return "OK", "dashboard: off (PREDARB_WEB_PORT=0)"
    try:
        listen(access).close()
    except ConfigError:
        taken = f"port {access.port} is taken now (by this bot, if it is running)"
        return "WARN", f"dashboard: {access.url()}: {taken}"
    token = "a random token, printed at start" if access.generated else "PREDARB_WEB_TOKEN"
    return "OK", f"dashboard: {access.url()} (opened with {token})"
