"""Settings a user can get wrong: one line naming the variable, and for the intervals
that would hammer the venues or switch a safety off, the allowed range."""

from __future__ import annotations

from pathlib import Path

import pytest

from predarb.config import load_settings
from predarb.errors import ConfigError

WALLET_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("PREDARB_POLL_INTERVAL_S", "1e-30", "from 0.2 to 3600 seconds"),
        ("PREDARB_POLL_INTERVAL_S", "0.19", "from 0.2 to 3600 seconds"),
        ("PREDARB_SETTLEMENT_INTERVAL_S", "0.001", "from 10 to 86400 seconds"),
        ("EXECUTOR_COOLDOWN_S", "0", "from 1 to 86400 seconds"),
        ("EXECUTOR_MAX_QUOTE_AGE_S", "3600", "above 0 and at most 60 seconds"),
        ("EXECUTOR_PAIR_BLOCK_HOURS", "0.001", "from 0.25 to 720 hours"),
        ("PREDARB_REDEEM_INTERVAL_S", "0.5", "from 60 to 86400 seconds"),
        ("PREDARB_POLL_INTERVAL_S", "nan", "from 0.2 to 3600 seconds"),
        ("PREDARB_POLL_INTERVAL_S", "fast", "from 0.2 to 3600 seconds"),
    ],
)
def test_an_interval_out_of_bounds_is_refused_with_its_range(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, allowed: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert refused.value.variable == variable
    assert str(refused.value).startswith(f"{variable}: must be a number {allowed}: ")
    assert "\n" not in str(refused.value)


def test_the_bounds_themselves_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in {
        "PREDARB_POLL_INTERVAL_S": "0.2",
        "PREDARB_SETTLEMENT_INTERVAL_S": "10",
        "EXECUTOR_COOLDOWN_S": "1",
        "EXECUTOR_MAX_QUOTE_AGE_S": "60",
        "EXECUTOR_PAIR_BLOCK_HOURS": "0.25",
    }.items():
        monkeypatch.setenv(variable, value)
    settings = load_settings()
    assert settings.predarb_poll_interval_s == 0.2
    assert settings.executor_cooldown_s == 1


@pytest.mark.parametrize(
    "key", ["0x1234", "zz" + WALLET_KEY[2:], WALLET_KEY + "00", "0x" + WALLET_KEY[:-1] + "g"]
)
def test_a_malformed_wallet_key_names_the_variable_and_never_echoes_it(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("POLY_PRIVATE_KEY", key)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value) == (
        "POLY_PRIVATE_KEY: must be 64 hex digits (32 bytes), with or without 0x"
    )


def test_a_wallet_key_without_0x_is_the_same_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLY_PRIVATE_KEY", WALLET_KEY)
    key = load_settings().poly_private_key
    assert key is not None and key.get_secret_value() == "0x" + WALLET_KEY


def test_a_malformed_funder_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLY_FUNDER", "0xnot-an-address")
    with pytest.raises(ConfigError, match=r"^POLY_FUNDER: must be an address"):
        load_settings()


def test_an_empty_line_of_the_example_file_means_the_default(tmp_path: Path) -> None:
    # `cp .env.example .env`, then a line uncommented and left empty.
    (tmp_path / ".env").write_text(
        "TELEGRAM_CHAT_ID=\nPOLY_PRIVATE_KEY=\nEXECUTOR_MAX_BET=\nPREDARB_POLL_INTERVAL_S=\n"
    )
    settings = load_settings()  # the tests run in tmp_path (clean_env)
    assert settings.telegram_chat_id is None and settings.poly_private_key is None
    assert settings.executor_max_bet == 2 and settings.predarb_poll_interval_s == 2


def test_a_config_error_is_built_from_a_variable_and_a_reason_or_a_whole_line() -> None:
    assert str(ConfigError("POLY_FUNDER", "must be an address")) == (
        "POLY_FUNDER: must be an address"
    )
    whole = ConfigError("PREDARB_WEB_TOKEN: too short")
    assert (whole.variable, whole.reason) == ("PREDARB_WEB_TOKEN", "too short")
