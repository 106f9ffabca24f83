"""Our signer, the fake's verifier and the official SDK agree on what Kalshi checks."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes

from predarb.venues.base import AuthError
from predarb.venues.kalshi import KalshiVenue
from predarb.venues.kalshi.auth import PRESIGNED_MAX_AGE_S, PSS, KalshiSigner, signing_text
from tests.fakes.kalshi_server import FIXTURES, FakeKalshi, generate_key_file


def fixture_body(name: str) -> dict[str, object]:
    body = json.loads((FIXTURES / name).read_text())
    body["error"].pop("service", None)  # Kalshi dropped "service" on 2026-08-06
    return dict(body)


@pytest.mark.parametrize("pkcs1", [True, False])
def test_signature_verifies_for_both_pem_formats(tmp_path: Path, pkcs1: bool) -> None:
    key = generate_key_file(tmp_path / "k.pem", pkcs1=pkcs1)
    signer = KalshiSigner.from_file("key-1", tmp_path / "k.pem")
    headers = signer.headers(
        "get", "/trade-api/v2/portfolio/orders?limit=5", timestamp_ms=1703123456789
    )
    assert headers["KALSHI-ACCESS-KEY"] == "key-1"
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == "1703123456789"
    signature = base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"], validate=True)
    # The query string is not signed (spec A.2 example).
    message = b"1703123456789GET/trade-api/v2/portfolio/orders"
    assert signing_text(1703123456789, "get", "/trade-api/v2/portfolio/orders?limit=5") == message
    key.public_key().verify(signature, message, PSS, hashes.SHA256())


def test_loose_permissions_warn_and_bad_pem_hides_its_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "k.pem"
    generate_key_file(path)
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        signer = KalshiSigner.from_file("key-1", path)
    assert "readable by others" in caplog.text
    assert "PRIVATE KEY" not in repr(signer) and "key-1" not in repr(signer)
    secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----\n"
    path.write_text(secret)
    with pytest.raises(AuthError) as exc:
        KalshiSigner.from_file("key-1", path)
    assert "c2VjcmV0" not in str(exc.value)


async def test_fake_refuses_what_kalshi_refuses(fake: FakeKalshi, key_path: Path) -> None:
    key_id = fake.new_key(key_path)
    signer = KalshiSigner.from_file(key_id, key_path)
    url = fake.base_url + "/portfolio/balance"
    path = "/trade-api/v2/portfolio/balance"
    now = int(time.time() * 1000)
    other = tmp_key = key_path.with_name("other.pem")
    generate_key_file(tmp_key)
    forged = KalshiSigner.from_file(key_id, other).headers("GET", path)
    cases = [
        ({}, "auth__missing_signature_header.json"),
        (forged, "auth__bad_signature.json"),
        ({**signer.headers("GET", path), "KALSHI-ACCESS-KEY": "nope"}, "auth__unknown_key_id.json"),
        (signer.headers("GET", path, timestamp_ms=now - 30_000), "auth__skew_minus30s.json"),
        (signer.headers("GET", path, timestamp_ms=now + 300_000), "auth__skew_plus5min.json"),
        # a signature for another path (or method) does not carry over
        (signer.headers("GET", "/trade-api/v2/portfolio/positions"), "auth__bad_signature.json"),
        (signer.headers("POST", path), "auth__bad_signature.json"),
    ]
    async with httpx.AsyncClient() as http:
        for headers, recorded in cases:
            resp = await http.get(url, headers=headers)
            assert (resp.status_code, resp.json()) == (401, fixture_body(recorded)), recorded
        for skew in (-5_000, 5_000):  # ±5 s was accepted live
            resp = await http.get(url, headers=signer.headers("GET", path, timestamp_ms=now + skew))
            assert resp.status_code == 200 and resp.json()["balance_dollars"] == "1000.0000"
        # public paths accept unsigned requests, and verify a signature when one is sent
        assert (await http.get(fake.base_url + "/exchange/status")).status_code == 200
        bad = await http.get(fake.base_url + "/exchange/status", headers=forged)
        assert bad.status_code == 401


async def test_official_sdk_signature_passes_the_fake(fake: FakeKalshi, key_path: Path) -> None:
    """kalshi_python_sync 3.2.0 (the newest that installs on Python 3.11) signs with its
    own KalshiAuth; the fake verifies it exactly as it verifies ours."""
    sdk = pytest.importorskip("kalshi_python_sync")
    key_id = fake.new_key(key_path)
    config = sdk.Configuration(host=fake.base_url)
    config.api_key_id = key_id
    config.private_key_pem = key_path.read_text()
    client = sdk.KalshiClient(config)

    def call() -> tuple[int, bytes]:
        # The SDK's 3.2.0 models cannot parse today's bodies; the raw response suffices.
        resp = client.get_balance_without_preload_content()
        return resp.status, resp.data

    status, data = await asyncio.to_thread(call)
    assert status == 200 and json.loads(data)["balance_dollars"] == "1000.0000"
    assert fake.requests[-1] == ("GET", "/portfolio/balance", True)
    # The SDK's signer headers on a query-string URL verify too.
    headers = sdk.auth.KalshiAuth(key_id, key_path.read_text()).create_auth_headers(
        "GET", fake.base_url + "/portfolio/orders?limit=5"
    )
    async with httpx.AsyncClient() as http:
        resp = await http.get(
            fake.base_url + "/portfolio/orders", params={"limit": 5}, headers=headers
        )
    assert resp.status_code == 200 and resp.json() == {"orders": [], "cursor": ""}


async def test_paper_mode_reads_market_data_unsigned(fake: FakeKalshi) -> None:
    ticker = fake.seed_fixtures()
    venue = KalshiVenue(fake.base_url)
    try:
        markets = await venue.list_markets()
        assert [m.market_id for m in markets] == [ticker]
        books = await venue.get_order_books(markets[0].contracts)
        assert books[markets[0].contracts[0]].best_ask is not None
        assert await venue.health()
        with pytest.raises(AuthError):
            await venue.get_balance()
    finally:
        await venue.close()
    assert fake.requests and not any(signed for _, _, signed in fake.requests)
    assert not any(path.startswith("/portfolio") for _, path, _ in fake.requests)


def test_key_id_without_key_file_is_a_config_error() -> None:
    with pytest.raises(AuthError, match="must be set together"):
        KalshiVenue("http://127.0.0.1:1/trade-api/v2", "key-1")


def test_presigned_headers_are_reused_only_while_young(tmp_path: Path) -> None:
    key = generate_key_file(tmp_path / "k.pem")
    now = [1_800_000_000.0]
    signer = KalshiSigner("key-1", key, clock=lambda: now[0])
    path = "/trade-api/v2/portfolio/events/orders"
    signer.presign("post", path)
    presigned = signer("POST", path, b"{}")
    assert presigned["KALSHI-ACCESS-TIMESTAMP"] == "1800000000000"
    now[0] += PRESIGNED_MAX_AGE_S
    assert signer("POST", path, b'{"other":"body"}') == presigned  # the body is not signed
    # another path, or the same one once too old, is signed at the moment of asking
    other = signer("GET", path, b"")
    assert other["KALSHI-ACCESS-TIMESTAMP"] == str(int(now[0] * 1000))
    now[0] += 0.01
    fresh = signer("POST", path, b"{}")
    assert fresh["KALSHI-ACCESS-TIMESTAMP"] == str(int(now[0] * 1000))
    for headers in (presigned, fresh):
        ts = int(headers["KALSHI-ACCESS-TIMESTAMP"])
        signature = base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"])
        key.public_key().verify(signature, signing_text(ts, "POST", path), PSS, hashes.SHA256())
    # a clock that stepped back does not reuse headers from its future
    now[0] -= 10
    assert signer("POST", path, b"{}")["KALSHI-ACCESS-TIMESTAMP"] == str(int(now[0] * 1000))
