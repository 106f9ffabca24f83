"""A circuit breaker per venue, and the ``VenueClient`` wrapper that feeds it.

After ``threshold`` consecutive failures (unreachable, rate limited, unreadable
answers, lost order replies) a venue is *down*: market data calls fail at once with
``VenueUnavailable`` instead of hammering it, and the engine, told through
``on_down``, stops starting executions that need it. After a backoff (doubling up to
a cap) the venue's ``health()`` is probed; one good probe brings it back (``on_up``).

Order traffic is never blocked, retried or re-shaped here: an ``OrderStateUnknown``
still reaches the placer as itself, and recovery can always look orders up. The
breaker only watches those calls.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from predarb.domain import (
    Contract,
    Fill,
    Market,
    OrderBook,
    OrderRequest,
    OrderResult,
    Resolution,
    VenuePosition,
)
from predarb.venues.base import (
    BadResponse,
    OrderStateUnknown,
    VenueClient,
    VenueError,
    VenueUnavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

OnDown = Callable[[str], Awaitable[None]]  # the last failure, one line
OnUp = Callable[[float], Awaitable[None]]  # seconds the venue was down


class BreakerState(enum.Enum):
    UP = "up"
    DOWN = "down"


def is_venue_failure(exc: BaseException) -> bool:
    """Whether an exception says the venue is not serving us. A venue that answered
    with a clear refusal (order rejected, not found, a 4xx) is up."""
    if isinstance(exc, VenueUnavailable | BadResponse | OrderStateUnknown):
        return True
    if isinstance(exc, VenueError):
        return exc.status is None or exc.status in (401, 403)
    return isinstance(exc, Exception)


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        threshold: int = 5,
        base_backoff_s: float = 2.0,
        max_backoff_s: float = 60.0,
        on_down: OnDown | None = None,
        on_up: OnUp | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.on_down = on_down
        self.on_up = on_up
        self.clock = clock
        self.state = BreakerState.UP
        self.failures = 0  # consecutive, while up
        self.last_error = ""
        self.down_since = 0.0
        self.next_probe_at = 0.0
        self.backoff_s = base_backoff_s
        self.trips = 0

    @property
    def up(self) -> bool:
        return self.state is BreakerState.UP

    def probe_due(self) -> bool:
        return not self.up and self.clock() >= self.next_probe_at

    async def success(self) -> None:
        if self.up:
            self.failures = 0

    async def failure(self, exc: BaseException) -> None:
        self.last_error = _one_line(exc)
        if not self.up:
            return
        self.failures += 1
        if self.failures < self.threshold:
            return
        self.state = BreakerState.DOWN
        self.trips += 1
        self.down_since = self.clock()
        self.backoff_s = self.base_backoff_s
        self.next_probe_at = self.down_since + self.backoff_s
        log.warning(
            "venue down after %d consecutive failures: %s",
            self.failures,
            self.last_error,
            extra={"venue": self.name, "code": "venue_down"},
        )
        if self.on_down is not None:
            await self.on_down(self.last_error)

    async def probed(self, ok: bool, error: str = "") -> None:
        """The outcome of a health probe while down."""
        if self.up:
            return
        if not ok:
            self.last_error = error or self.last_error
            self.backoff_s = min(self.backoff_s * 2, self.max_backoff_s)
            self.next_probe_at = self.clock() + self.backoff_s
            log.info(
                "venue still down; next probe in %.0f s",
                self.backoff_s,
                extra={"venue": self.name, "code": "probe_failed"},
            )
            return
        down_for = self.clock() - self.down_since
        self.state = BreakerState.UP
        self.failures = 0
        log.warning(
            "venue back after %.0f s", down_for, extra={"venue": self.name, "code": "venue_up"}
        )
        if self.on_up is not None:
            await self.on_up(down_for)


class GuardedVenue(VenueClient):
    """``inner`` behind a ``CircuitBreaker``. Anything not part of ``VenueClient``
    (e.g. ``book_stream``) is the inner client's own."""

    def __init__(self, inner: VenueClient, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker
        self.venue = inner.venue
        self._probe_lock = asyncio.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def order_rate(self) -> tuple[int, float] | None:
        return self.inner.order_rate()

    async def _watched(self, call: Awaitable[T]) -> T:
        try:
            result = await call
        except BaseException as exc:
            if isinstance(exc, Exception) and is_venue_failure(exc):
                await self.breaker.failure(exc)
            elif isinstance(exc, VenueError):
                await self.breaker.success()
            raise
        await self.breaker.success()
        return result

    def _refuse_while_down(self) -> None:
        if not self.breaker.up:
            raise VenueUnavailable(self.venue, f"circuit open: {self.breaker.last_error}")

    async def probe(self) -> bool:
        """Probe the venue if a probe is due; True when it is (now) up."""
        async with self._probe_lock:
            if not self.breaker.probe_due():
                return self.breaker.up
            try:
                ok, error = await self.inner.health(), "health check failed"
            except Exception as exc:
                ok, error = False, _one_line(exc)
            await self.breaker.probed(ok, error)
            return self.breaker.up

    # -- market data: refused at once while down --------------------------------

    async def list_markets(self) -> list[Market]:
        self._refuse_while_down()
        return await self._watched(self.inner.list_markets())

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        self._refuse_while_down()
        try:
            books = await self.inner.get_order_books(contracts)
        except Exception as exc:
            if is_venue_failure(exc):
                await self.breaker.failure(exc)
            raise
        if books or not contracts:
            await self.breaker.success()
        else:
            # Adapters leave out books they could not read, so nothing back may mean
            # the venue is gone or only that these markets closed: ask its health.
            await self._health_verdict()
        return books

    async def _health_verdict(self) -> None:
        try:
            ok, error = await self.inner.health(), "health check failed"
        except Exception as exc:
            ok, error = False, _one_line(exc)
        if ok:
            await self.breaker.success()
        else:
            await self.breaker.failure(VenueUnavailable(self.venue, error))

    # -- everything else passes through, watched ---------------------------------

    async def place_order(self, order: OrderRequest) -> OrderResult:
        return await self._watched(self.inner.place_order(order))

    async def place_orders(self, orders: Sequence[OrderRequest]) -> list[OrderResult | VenueError]:
        try:
            answers = await self.inner.place_orders(orders)
        except Exception as exc:
            if is_venue_failure(exc):
                await self.breaker.failure(exc)
            raise
        failure = next(
            (a for a in answers if isinstance(a, VenueError) and is_venue_failure(a)), None
        )
        await (self.breaker.failure(failure) if failure else self.breaker.success())
        return answers

    async def prepare(self, order: OrderRequest) -> str:
        return await self.inner.prepare(order)

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        return await self._watched(self.inner.get_order(client_order_id, venue_order_id))

    async def cancel_order(self, venue_order_id: str) -> None:
        await self._watched(self.inner.cancel_order(venue_order_id))

    async def open_orders(self) -> list[OrderResult]:
        return await self._watched(self.inner.open_orders())

    async def get_fills(self, client_order_id: str = "") -> list[Fill]:
        return await self._watched(self.inner.get_fills(client_order_id))

    async def get_balance(self) -> Decimal:
        return await self._watched(self.inner.get_balance())

    async def get_shard_balances(self) -> dict[int, Decimal]:
        return await self._watched(self.inner.get_shard_balances())

    async def get_positions(self) -> list[VenuePosition]:
        return await self._watched(self.inner.get_positions())

    async def get_resolution(self, market_id: str) -> Resolution | None:
        return await self._watched(self.inner.get_resolution(market_id))

    async def connect(self) -> None:
        await self.inner.connect()

    async def health(self) -> bool:
        return await self.inner.health()

    async def close(self) -> None:
        await self.inner.close()


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200]
