"""Kalshi error bodies -> typed ``VenueError``s.

Kalshi answers errors in three shapes (spec A.3.3) plus the 429 string shape:

- nested ``{"error": {"code", "message", "details"?, "service"?}}`` (most 4xx);
- flat ``{"code", "message", "details"}`` (JSON decode / framework errors);
- bare ``{"msg": "..."}`` (parameter validation);
- ``{"error": "too many requests"}`` (429, no headers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from predarb.domain import Venue
from predarb.venues.base import (
    AuthError,
    NotFound,
    OrderRejected,
    RateLimited,
    VenueError,
    VenueUnavailable,
)

FOK_KILLED = "fill_or_kill_insufficient_resting_volume"
ORDER_EXISTS = "order_already_exists"
RETIRED_CODE = "deprecated_v1_order_endpoint"


class RetiredEndpoint(VenueError):
    """HTTP 410: the path was retired by Kalshi (e.g. the V1 order endpoints). A bug in
    the adapter, never a transient condition."""


@dataclass(frozen=True, slots=True)
class ErrorBody:
    code: str
    message: str
    details: str


def parse_error_body(body: Any, text: str = "") -> ErrorBody:
    """The code, message and details of any of the shapes; unknown shapes keep the text."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            return _from_fields(inner)
        if isinstance(inner, str):
            return ErrorBody("", inner, "")
        if "code" in body or "message" in body:
            return _from_fields(body)
        if isinstance(body.get("msg"), str):
            return ErrorBody("", body["msg"], "")
    return ErrorBody("", text.strip()[:200], "")


def _from_fields(fields: dict[str, Any]) -> ErrorBody:
    return ErrorBody(
        _text(fields.get("code")), _text(fields.get("message")), _text(fields.get("details"))
    )


def _text(value: Any) -> str:
    return value[:500] if isinstance(value, str) else ""


def to_error(status: int, body: Any, text: str) -> VenueError:
    """``JsonHttp``'s error mapper for Kalshi."""
    err = parse_error_body(body, text)
    message = err.message or f"HTTP {status}"
    if err.details and err.details != err.message:
        message = f"{message} ({err.details})"
    code = err.code
    venue = Venue.KALSHI
    if status == 429:
        return RateLimited(venue, message, code=code or "rate_limited", status=status)
    if status >= 500 or status == 425:
        return VenueUnavailable(venue, message, code=code, status=status)
    if status == 410:
        return RetiredEndpoint(
            venue,
            f"retired endpoint (HTTP 410), the adapter must use the V2 path: {message}",
            code=code or RETIRED_CODE,
            status=status,
        )
    if status in (401, 403):
        return AuthError(venue, message, code=code or "authentication_error", status=status)
    if status == 404:
        return NotFound(venue, message, code=code or "not_found", status=status)
    if status == 409 or (status == 400 and code):
        return OrderRejected(venue, message, code=code, status=status)
    return VenueError(venue, message, code=code or "bad_request", status=status)
