"""Choosing the Polymarket: configuration, the venues built, and check-config proving
the Polymarket US keys."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from predarb.config import load_settings
from predarb.domain import Venue
from predarb.errors import ConfigError
from predarb.modes import Mode, build_market_venues, live_problems
from tests.fakes.polymarket_us_server import FakePolymarketUS, new_secret
from tests.processes import start_predarb

D = Decimal


@pytest.mark.parametrize(
    ("choice", "venues"),
    [
        ("international", {Venue.KALSHI, Venue.POLYMARKET}),
        ("us", {Venue.KALSHI, Venue.POLYMARKET_US}),
        ("both", {Venue.KALSHI, Venue.POLYMARKET, Venue.POLYMARKET_US}),
    ],
)
async def test_the_choice_builds_those_venues_in_paper(choice: str, venues: set[Venue]) -> None:
    settings = load_settings(predarb_polymarket=choice)
    built = build_market_venues(settings, Mode.PAPER)
    try:
        assert set(built) == venues
    finally:
        for client in built.values():
            await client.close()


def test_live_needs_the_keys_of_the_venues_chosen() -> None:
    us = live_problems(load_settings(predarb_polymarket="us"))
    assert any(p.startswith("POLY_US_KEY_ID") for p in us)
    assert not any(p.startswith("POLY_PRIVATE_KEY") for p in us)
    intl = live_problems(load_settings())
    assert not any("POLY_US" in p for p in intl)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"poly_us_key_id": "k"}, "POLY_US_SECRET_KEY"),
        ({"poly_us_secret_key": new_secret()[0]}, "POLY_US_KEY_ID"),
        ({"poly_us_key_id": "k", "poly_us_secret_key": "bm90IGEga2V5"}, "POLY_US_SECRET_KEY"),
        ({"poly_us_api_url": "api.polymarket.us"}, "POLY_US_API_URL"),
        ({"predarb_polymarket": "mars"}, "PREDARB_POLYMARKET"),
    ],
)
def test_bad_configuration_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(**env)
    assert str(err.value).startswith(variable)
    for value in env.values():
        if len(value) > 20:
            assert value not in str(err.value)


async def _check_config(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await start_predarb(["check-config"], env, cwd)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode() + err.decode()


async def test_check_config_proves_the_keys_with_a_signed_balance_read(tmp_path: Path) -> None:
    async with FakePolymarketUS() as fake:
        key_id, secret = fake.new_key()
        fake.exchange.balance = D("250.5")
        env = {
            "PREDARB_POLYMARKET": "us",
            "POLY_US_KEY_ID": key_id,
            "POLY_US_SECRET_KEY": secret,
            "POLY_US_GATEWAY_URL": fake.url,
            "POLY_US_API_URL": fake.url,
        }
        code, out = await _check_config(env, tmp_path)
        assert ("GET", "/v1/account/balances", True) in fake.requests
        env["POLY_US_KEY_ID"] = "00000000-0000-4000-8000-999999999999"
        refused_code, refused = await _check_config(env, tmp_path)
    assert "OK polymarket_us: keys accepted, buying power $250.50" in out, out
    assert "OK polymarket: not traded (PREDARB_POLYMARKET=us)" in out
    assert secret not in out and code == 0
    assert refused_code == 2 and "FAIL polymarket_us: signed balance call refused" in refused
