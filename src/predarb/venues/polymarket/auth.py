"""Polymarket CLOB authentication headers.

L1 (wallet EIP-712 signature) only creates or derives the API key; L2 (HMAC-SHA256
with the API secret) covers every trading and account call. The HMAC is computed over
``timestamp(seconds) + METHOD + path (no query) + body``, where the body is exactly
the bytes sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

from py_clob_client_v2.headers.headers import create_level_1_headers
from py_clob_client_v2.signer import Signer


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """L2 credentials; ``repr`` never shows the secret or the passphrase."""

    key: str
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """URL-safe base64 HMAC-SHA256, keyed by the URL-safe base64-decoded secret."""
    key = base64.urlsafe_b64decode(secret)
    message = timestamp.encode() + method.upper().encode() + path.encode() + body
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def l2_headers(
    creds: ApiCredentials,
    address: str,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "POLY_ADDRESS": address,
        "POLY_SIGNATURE": hmac_signature(creds.secret, ts, method, path, body),
        "POLY_TIMESTAMP": ts,
        "POLY_API_KEY": creds.key,
        "POLY_PASSPHRASE": creds.passphrase,
    }


def l1_headers(signer: Signer, *, nonce: int = 0, timestamp: int | None = None) -> dict[str, str]:
    """``POLY_ADDRESS/SIGNATURE/TIMESTAMP/NONCE`` signed with the ClobAuth EIP-712 domain
    (py-clob-client-v2's own code, so the signature is what the venue expects)."""
    headers = create_level_1_headers(signer, nonce=nonce, timestamp=timestamp)
    return {str(k): str(v) for k, v in headers.items()}
