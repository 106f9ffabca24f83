"""Polymarket US error bodies -> typed ``VenueError``s.

The gateway answers ``{"code"?, "message"}`` (or ``{"error": "..."}``); the SDK reads
``message`` first, then ``error``, and so do we.
"""

from __future__ import annotations

from typing import Any

from predarb.domain import Venue
from predarb.venues.base import (
    AuthError,
    NotFound,
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
    VenueError,
    VenueUnavailable,
)


def _message(body: Any, text: str) -> tuple[str, str]:
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or ""
        code = body.get("code") or ""
        return (str(code)[:80], str(message)[:300])
    return "", text.strip()[:200]


def to_error(status: int, body: Any, text: str) -> VenueError:
    """``JsonHttp``'s error mapper for Polymarket US."""
    code, message = _message(body, text)
    message = message or f"HTTP {status}"
    venue = Venue.POLYMARKET_US
    if status == 429:
        return RateLimited(venue, message, code=code or "rate_limited", status=status)
    if status >= 500 or status in (408, 425):
        return VenueUnavailable(venue, message, code=code, status=status)
    if status in (401, 403):
        return AuthError(venue, message, code=code or "authentication_error", status=status)
    if status == 404:
        return NotFound(venue, message, code=code or "not_found", status=status)
    if status in (400, 409, 422):
        return OrderRejected(venue, message, code=code or "bad_request", status=status)
    return VenueError(venue, message, code=code, status=status)


class PolymarketUSOrderStateUnknown(OrderStateUnknown):
    """An order was sent and no clear answer came back. ``venue_order_id`` is its
    lookup key (``lookup.Lookup.key``): what to find it by, never a reason to resend."""

    def __init__(self, message: str, *, venue_order_id: str) -> None:
        super().__init__(Venue.POLYMARKET_US, message, code="order_state_unknown")
        self.venue_order_id = venue_order_id


def cannot_tell(message: str) -> VenueError:
    """A lookup that cannot say what became of an order (never "it never arrived")."""
    return VenueError(Venue.POLYMARKET_US, message, code="cannot_tell")
