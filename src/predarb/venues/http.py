"""JSON over HTTP for the venue adapters: one warm ``httpx.AsyncClient`` per venue,
client-side rate limits, bounded retries with jitter for reads, none for writes.

A venue adapter owns one ``JsonHttp`` and supplies two callables: ``sign`` (adds auth
headers for a method, path and body) and ``to_error`` (maps a non-2xx answer to the
venue's typed error). An order POST is sent once: if no answer arrives the caller gets
``OrderStateUnknown`` and must look the order up by its client order id.

An order can be sent in two steps to keep work off the moment it leaves:
``prepare_write`` serializes, signs and takes the write limiter's token;
``send_prepared`` then only hands the built request to the warm connection.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from predarb.venues.base import (
    BadResponse,
    OrderStateUnknown,
    RateLimited,
    VenueError,
    VenueUnavailable,
)

log = logging.getLogger(__name__)

Signer = Callable[[str, str, bytes], Mapping[str, str] | Awaitable[Mapping[str, str]]]
ErrorMapper = Callable[[int, Any, str], VenueError]


def default_error(venue: str) -> ErrorMapper:
    def to_error(status: int, body: Any, text: str) -> VenueError:
        msg = text[:200]
        if status == 429:
            return RateLimited(venue, msg or "too many requests", code="rate_limited", status=429)
        if status >= 500 or status == 425:
            return VenueUnavailable(venue, msg or "server error", status=status)
        return VenueError(venue, msg or "error", status=status)

    return to_error


@dataclass(frozen=True, slots=True)
class PreparedWrite:
    """A signed write, its limiter token already taken, ready to leave."""

    method: str
    path: str
    request: httpx.Request
    signed_at: float  # monotonic seconds: auth headers carry a timestamp


# Idle keep-alive connections live this long; ``MarketFeeds`` keeps them warm with a
# cheap read more often than that, so an order never waits for a TCP/TLS handshake.
KEEPALIVE_EXPIRY_S = 60.0


class JsonHttp:
    def __init__(
        self,
        venue: str,
        base_url: str,
        *,
        to_error: ErrorMapper | None = None,
        sign: Signer | None = None,
        read_limiter: AsyncLimiter | None = None,
        write_limiter: AsyncLimiter | None = None,
        timeout_s: float = 10.0,
        read_attempts: int = 4,
        max_backoff_s: float = 4.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.base_path = urlsplit(self.base_url).path  # signed paths include it (Kalshi)
        self.to_error = to_error or default_error(venue)
        self.sign = sign
        self.read_limiter = read_limiter
        self.write_limiter = write_limiter
        self.read_attempts = read_attempts
        self.max_backoff_s = max_backoff_s
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(
                max_keepalive_connections=20,
                max_connections=50,
                keepalive_expiry=KEEPALIVE_EXPIRY_S,
            ),
        )

    async def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, auth: bool = False
    ) -> Any:
        """A read: retried on transient errors (429, 5xx, timeouts) with jittered backoff."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(VenueUnavailable),
            stop=stop_after_attempt(self.read_attempts),
            wait=wait_random_exponential(multiplier=0.1, max=self.max_backoff_s),
            reraise=True,
        ):
            with attempt:
                return await self._send("GET", path, params=params, auth=auth)
        raise AssertionError("unreachable")  # pragma: no cover

    async def write(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        auth: bool = True,
        order: bool = False,
    ) -> Any:
        """A write, sent exactly once. With ``order=True`` a lost reply raises
        ``OrderStateUnknown`` instead of ``VenueUnavailable``."""
        try:
            return await self._send(method, path, params=params, body=body, auth=auth, write=True)
        except VenueUnavailable as exc:
            # A 5xx or a lost reply may hide an accepted order; a 429 never does.
            if order and not isinstance(exc, RateLimited):
                raise OrderStateUnknown(self.venue, f"no clear reply: {exc.message}") from exc
            raise

    async def prepare_write(self, method: str, path: str, body: Any) -> PreparedWrite:
        """Serialize, sign and take the write limiter's token now, so that
        ``send_prepared`` has nothing left to do but send."""
        content, headers = await self._content_and_headers(method, path, body, auth=True)
        if self.write_limiter is not None:
            await self.write_limiter.acquire()
        request = self.client.build_request(
            method, self.base_url + path, content=content, headers=headers
        )
        return PreparedWrite(method, path, request, time.monotonic())

    async def send_prepared(self, prepared: PreparedWrite, *, order: bool = False) -> Any:
        """Send a prepared write once; errors as ``write``."""
        try:
            resp = await self._transmit(prepared.method, prepared.path, prepared.request)
            return self._decode(prepared.method, prepared.path, resp)
        except VenueUnavailable as exc:
            if order and not isinstance(exc, RateLimited):
                raise OrderStateUnknown(self.venue, f"no clear reply: {exc.message}") from exc
            raise

    async def _content_and_headers(
        self, method: str, path: str, body: Any, *, auth: bool
    ) -> tuple[bytes, dict[str, str]]:
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers: dict[str, str] = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if auth and self.sign is not None:
            signed = self.sign(method, self.base_path + path, content)
            if not isinstance(signed, Mapping):
                signed = await signed
            headers.update(signed)
        return content, headers

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        auth: bool = False,
        write: bool = False,
    ) -> Any:
        content, headers = await self._content_and_headers(method, path, body, auth=auth)
        limiter = self.write_limiter if write else self.read_limiter
        if limiter is not None:
            await limiter.acquire()
        request = self.client.build_request(
            method,
            self.base_url + path,
            params=_clean(params),
            content=content if body is not None else None,
            headers=headers,
        )
        return self._decode(method, path, await self._transmit(method, path, request))

    async def _transmit(self, method: str, path: str, request: httpx.Request) -> httpx.Response:
        try:
            return await self.client.send(request)
        except httpx.TimeoutException as exc:
            raise VenueUnavailable(self.venue, f"timeout on {method} {path}") from exc
        except httpx.TransportError as exc:
            raise VenueUnavailable(self.venue, f"{type(exc).__name__} on {method} {path}") from exc

    def _decode(self, method: str, path: str, resp: httpx.Response) -> Any:
        text = resp.text
        try:
            parsed: Any = resp.json() if text else None
        except ValueError:
            parsed = None
            if resp.is_success:
                raise BadResponse(
                    self.venue, f"malformed JSON from {method} {path}", status=resp.status_code
                ) from None
        if not resp.is_success:
            raise self.to_error(resp.status_code, parsed, text)
        return parsed

    async def close(self) -> None:
        await self.client.aclose()


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    return {k: v for k, v in params.items() if v is not None and v != ""}
