"""Kalshi request signing: RSA-PSS (SHA-256, MGF1-SHA256, salt = digest length) over
``timestamp_ms + METHOD + path``, where the path starts at ``/trade-api/v2`` and
excludes the query string. The body and host are not signed.

The private key is read once; it never appears in a log line, a repr or an exception.
"""

from __future__ import annotations

import base64
import logging
import stat
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from predarb.domain import Venue
from predarb.venues.base import AuthError

log = logging.getLogger(__name__)

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"

PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
# A signature covers only timestamp, method and path, so the order path's headers can be
# signed ahead of time (``presign``) and reused while this young: far inside the ±5 s
# the venue accepts, even with the box's clock a second or two off.
PRESIGNED_MAX_AGE_S = 1.0


def signing_text(timestamp_ms: int, method: str, path: str) -> bytes:
    """What Kalshi verifies: the path without its query string."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


class KalshiSigner:
    """Produces the three ``KALSHI-ACCESS-*`` headers. Callable as a ``JsonHttp`` signer."""

    def __init__(
        self,
        key_id: str,
        private_key: rsa.RSAPrivateKey,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not key_id:
            raise AuthError(Venue.KALSHI, "empty API key id", code="config")
        self._key_id = key_id
        self._key = private_key
        self._clock = clock
        self._presigned: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}

    @classmethod
    def from_pem(cls, key_id: str, pem: bytes) -> KalshiSigner:
        """PKCS#1 (``RSA PRIVATE KEY``) or PKCS#8 (``PRIVATE KEY``), unencrypted."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            # The loader's message may quote key material: say only what is wrong.
            raise AuthError(
                Venue.KALSHI, "private key is not a readable unencrypted PEM", code="config"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise AuthError(Venue.KALSHI, "private key is not an RSA key", code="config")
        return cls(key_id, key)

    @classmethod
    def from_file(cls, key_id: str, path: Path) -> KalshiSigner:
        try:
            mode = path.stat().st_mode
            pem = path.read_bytes()
        except OSError as exc:
            raise AuthError(
                Venue.KALSHI, f"cannot read private key file {path}: {exc.strerror}", code="config"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "Kalshi private key file is readable by others; chmod 600 it",
                extra={"path": str(path), "mode": oct(stat.S_IMODE(mode))},
            )
        return cls.from_pem(key_id, pem)

    def headers(self, method: str, path: str, *, timestamp_ms: int | None = None) -> dict[str, str]:
        ts = int(self._clock() * 1000) if timestamp_ms is None else timestamp_ms
        signature = self._key.sign(signing_text(ts, method, path), PSS, hashes.SHA256())
        return {
            KEY_HEADER: self._key_id,
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
        }

    def presign(self, method: str, path: str) -> None:
        """Sign ``method path`` now, for requests made in the next
        ``PRESIGNED_MAX_AGE_S`` (an RSA signature is a third of a millisecond or more:
        it has no place between an opportunity and its order)."""
        now = self._clock()
        self._presigned[(method.upper(), path)] = (
            now,
            self.headers(method, path, timestamp_ms=int(now * 1000)),
        )

    def __call__(self, method: str, path: str, body: bytes) -> dict[str, str]:
        ready = self._presigned.get((method.upper(), path))
        if ready is not None and 0 <= self._clock() - ready[0] <= PRESIGNED_MAX_AGE_S:
            return dict(ready[1])
        return self.headers(method, path)

    def __repr__(self) -> str:
        return "KalshiSigner(<key hidden>)"
