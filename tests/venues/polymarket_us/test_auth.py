"""Our Ed25519 signer against the official SDK (``polymarket-us``) and the fake's
verifier: same headers at a fixed timestamp, the SDK's own requests accepted, the
30 s window and bad signatures refused."""

from __future__ import annotations

import base64
import time

import httpx
import polymarket_us.auth as sdk_auth
import pytest
from polymarket_us import AsyncPolymarketUS

from predarb.venues.base import AuthError
from predarb.venues.polymarket_us import PolymarketUSVenue
from predarb.venues.polymarket_us.auth import PolymarketUSSigner, signing_text
from tests.fakes.polymarket_us_server import FakePolymarketUS, new_secret
from tests.venues.polymarket_us.conftest import SLUG

KEY_ID = "3f2b0a9e-8c1d-4e5f-9a7b-1c2d3e4f5a6b"
FIXED_S = 1_767_000_000.123


@pytest.mark.parametrize("seed_only", [False, True])
def test_headers_equal_the_sdks_at_a_fixed_timestamp(
    monkeypatch: pytest.MonkeyPatch, seed_only: bool
) -> None:
    secret, _ = new_secret()
    if seed_only:  # the portal's 32-byte form
        secret = base64.b64encode(base64.b64decode(secret)[:32]).decode()
    monkeypatch.setattr(sdk_auth.time, "time", lambda: FIXED_S)
    for method, path in [("GET", "/v1/account/balances"), ("POST", "/v1/orders")]:
        theirs = sdk_auth.create_auth_headers(KEY_ID, secret, method, path)
        ours = PolymarketUSSigner(KEY_ID, secret, clock=lambda: FIXED_S)(method, path, b"{}")
        assert ours == theirs


def test_the_query_string_is_not_signed() -> None:
    assert signing_text(1, "get", "/v1/orders/open?slugs=a") == b"1GET/v1/orders/open"


def test_the_signer_hides_its_key() -> None:
    secret, _ = new_secret()
    signer = PolymarketUSSigner(KEY_ID, secret)
    assert secret not in repr(signer) and "hidden" in repr(signer)


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_secret_is_refused_without_quoting_it(bad: str) -> None:
    with pytest.raises(AuthError) as err:
        PolymarketUSSigner(KEY_ID, bad)
    assert bad not in str(err.value)


async def test_the_sdks_requests_pass_the_fake(fake: FakePolymarketUS) -> None:
    key_id, secret = fake.new_key()
    fake.add_market(SLUG, "Lakers vs Celtics", long_label="Lakers", short_label="Celtics")
    fake.set_book(SLUG, bids=[("0.40", 10)], offers=[("0.45", 5)])
    async with AsyncPolymarketUS(
        key_id=key_id, secret_key=secret, gateway_base_url=fake.url, api_base_url=fake.url
    ) as sdk:
        balances = await sdk.account.balances()
        assert balances["balances"][0]["currency"] == "USD"
        book = await sdk.markets.book(SLUG)
        assert book["marketData"]["offers"][0]["px"]["value"] == "0.45"
        created = await sdk.orders.create(
            {
                "marketSlug": SLUG,
                "intent": "ORDER_INTENT_BUY_SHORT",
                "type": "ORDER_TYPE_LIMIT",
                "price": {"value": "0.40", "currency": "USD"},
                "quantity": 5,
                "tif": "TIME_IN_FORCE_FILL_OR_KILL",
                "synchronousExecution": True,
            }
        )
        assert [e["lastShares"] for e in created["executions"]] == ["5"]
        assert (await sdk.orders.retrieve(created["id"]))["order"]["state"] == "ORDER_STATE_FILLED"
        assert SLUG in (await sdk.portfolio.positions())["positions"]
        assert (await sdk.orders.list({"slugs": [SLUG]}))["orders"] == []
    assert fake.refused_signatures == 0
    assert all(signed for method, path, signed in fake.requests if "/account" in path)


async def test_a_timestamp_outside_thirty_seconds_is_refused(fake: FakePolymarketUS) -> None:
    key_id, secret = fake.new_key()
    for skew_s, accepted in [(-25.0, True), (25.0, True), (-35.0, False), (35.0, False)]:
        signer = PolymarketUSSigner(key_id, secret, clock=lambda s=skew_s: time.time() + s)
        headers = signer("GET", "/v1/account/balances", b"")
        async with httpx.AsyncClient() as http:
            resp = await http.get(fake.url + "/v1/account/balances", headers=headers)
        assert (resp.status_code == 200) is accepted, skew_s


async def test_a_wrong_key_is_an_auth_error(fake: FakePolymarketUS) -> None:
    _, secret = fake.new_key()
    venue = PolymarketUSVenue(fake.url, fake.url, "unknown-key", secret, max_backoff_s=0.01)
    try:
        with pytest.raises(AuthError):
            await venue.connect()
    finally:
        await venue.close()
