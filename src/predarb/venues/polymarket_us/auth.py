"""Polymarket US request signing: Ed25519 over ``timestamp_ms + METHOD + path``.

The path is the request path without its query string (``/v1/orders/open``); the body
and host are not signed. Three headers carry it: ``X-PM-Access-Key`` (the key id, a
UUID), ``X-PM-Timestamp`` (milliseconds) and ``X-PM-Signature`` (base64). The exchange
accepts a timestamp within 30 s of its clock. The secret is the base64 Ed25519 key as
the developer portal hands it out: a 32-byte seed, or 64 bytes (seed then public key).

The secret never appears in a log line, a repr or an exception.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from predarb.domain import Venue
from predarb.venues.base import AuthError

KEY_HEADER = "X-PM-Access-Key"
TIMESTAMP_HEADER = "X-PM-Timestamp"
SIGNATURE_HEADER = "X-PM-Signature"
WINDOW_S = 30.0  # how far the exchange lets a signed timestamp be from its clock
SEED_BYTES = 32


def signing_text(timestamp_ms: int, method: str, path: str) -> bytes:
    """What the exchange verifies: the path without its query string."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


def load_secret(secret_b64: str) -> Ed25519PrivateKey:
    """The private key from the portal's base64 secret; ``AuthError`` (naming no byte
    of it) when it is not one."""
    try:
        raw = base64.b64decode(secret_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuthError(Venue.POLYMARKET_US, "secret key is not base64", code="config") from None
    if len(raw) not in (SEED_BYTES, 2 * SEED_BYTES):
        raise AuthError(
            Venue.POLYMARKET_US,
            f"secret key is {len(raw)} bytes, not an Ed25519 key (32 or 64)",
            code="config",
        )
    return Ed25519PrivateKey.from_private_bytes(raw[:SEED_BYTES])


class PolymarketUSSigner:
    """Produces the three ``X-PM-*`` headers. Callable as a ``JsonHttp`` signer."""

    def __init__(
        self, key_id: str, secret_b64: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        if not key_id:
            raise AuthError(Venue.POLYMARKET_US, "empty API key id", code="config")
        self._key_id = key_id
        self._key = load_secret(secret_b64)
        self._clock = clock

    def headers(self, method: str, path: str, *, timestamp_ms: int | None = None) -> dict[str, str]:
        ts = int(self._clock() * 1000) if timestamp_ms is None else timestamp_ms
        signature = self._key.sign(signing_text(ts, method, path))
        return {
            KEY_HEADER: self._key_id,
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
        }

    def __call__(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return self.headers(method, path)

    def __repr__(self) -> str:
        return "PolymarketUSSigner(<key hidden>)"
