"""Polymarket CLOB/Gamma error answers to the typed ``VenueError`` hierarchy.

The envelope is ``{"error": "<text>", "code"?: ..., "retry_after_seconds"?: ...}``;
some refusals come as HTTP 200 with ``success: false`` and ``errorMsg`` instead, so
``order_error_code`` classifies by message text, whichever way it arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from predarb.venues.base import (
    AuthError,
    NotFound,
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
    VenueError,
    VenueUnavailable,
)

VENUE = "polymarket"

FOK_KILLED = "fok_killed"
FAK_NO_MATCH = "fak_no_match"
VERSION_MISMATCH = "order_version_mismatch"  # signed for another exchange: re-read /version
# Refusals that mean "nothing matched": the order is cancelled, not rejected.
KILL_CODES = frozenset({FOK_KILLED, FAK_NO_MATCH})

_ORDER_CODES = (
    ("fok orders are fully filled or killed", FOK_KILLED),
    ("couldn't be fully filled", FOK_KILLED),
    ("no orders found to match with fak", FAK_NO_MATCH),
    ("not enough balance", "insufficient_balance"),
    ("minimum tick size", "invalid_tick"),
    ("lower than the minimum", "below_min_size"),
    ("order owner has to be the owner", "invalid_owner"),
    ("signer address has to be the address", "invalid_signer"),
    ("invalid signature", "invalid_signature"),
    ("order crosses book", "post_only_crosses"),
    ("order_version_mismatch", VERSION_MISMATCH),
    ("invalid amounts", "amount_precision"),
    ("cancel-only", "cancel_only"),
    ("post-only mode", "post_only_mode"),
    ("market not found", "market_not_found"),
)


class PolymarketOrderStateUnknown(OrderStateUnknown):
    """The order was sent and no clear answer came back. ``venue_order_id`` is its
    order hash (known before sending): look it up with ``get_order``, never resend."""

    def __init__(self, message: str, *, venue_order_id: str) -> None:
        super().__init__(VENUE, message, code="order_state_unknown")
        self.venue_order_id = venue_order_id


def message_of(body: Any, text: str) -> str:
    if isinstance(body, Mapping):
        for key in ("error", "errorMsg", "error_msg", "message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:300]
    return text[:300]


def order_error_code(message: str) -> str:
    lowered = message.lower()
    for needle, code in _ORDER_CODES:
        if needle in lowered:
            return code
    return "rejected"


def to_error(status: int, body: Any, text: str) -> VenueError:
    """Map one non-2xx answer (status, parsed JSON or None, raw text)."""
    msg = message_of(body, text) or f"HTTP {status}"
    lowered = msg.lower()
    if status == 429:
        return RateLimited(VENUE, msg, code="rate_limited", status=status)
    if status == 425:
        return VenueUnavailable(VENUE, msg, code="engine_restarting", status=status)
    if status >= 500:
        code = body.get("code") if isinstance(body, Mapping) else None
        return VenueUnavailable(VENUE, msg, code=str(code or "server_error"), status=status)
    if status in (401, 403) or "unauthorized" in lowered:
        return AuthError(VENUE, msg, code="unauthorized", status=status)
    if status == 404 or "not found" in lowered or "invalid token id" in lowered:
        return NotFound(VENUE, msg, code="not_found", status=status)
    if status == 400:
        return OrderRejected(VENUE, msg, code=order_error_code(msg), status=status)
    return VenueError(VENUE, msg, code="error", status=status)
