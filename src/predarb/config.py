"""Configuration from the environment and a ``.env`` file (pydantic-settings).

The variable names are the user's contract (``shared/interface.md``); every one is
listed in ``.env.example``. ``load_settings`` turns any validation problem into a
``ConfigError`` whose message is one line naming the variable. Secrets are
``SecretStr`` so they never print.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from predarb.domain import Venue
from predarb.errors import ConfigError as ConfigError  # raised here, importable from here

KALSHI_PROD_URL = "https://external-api.kalshi.com/trade-api/v2"
KALSHI_DEMO_URL = "https://external-api.demo.kalshi.co/trade-api/v2"
POLY_CLOB_PROD_URL = "https://clob.polymarket.com"
POLY_GAMMA_PROD_URL = "https://gamma-api.polymarket.com"
POLY_RELAYER_PROD_URL = "https://relayer-v2.polymarket.com"
TELEGRAM_PROD_URL = "https://api.telegram.org/bot"
POLY_US_GATEWAY_PROD_URL = "https://gateway.polymarket.us"
POLY_US_API_PROD_URL = "https://api.polymarket.us"


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


class PolymarketChoice(StrEnum):
    """Which Polymarket the bot trades beside Kalshi. International Polymarket blocks
    US persons; Polymarket US is the exchange for US residents."""

    INTERNATIONAL = "international"
    US = "us"
    BOTH = "both"  # two separate venues, each paired with Kalshi


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # `VAR=` (an uncommented line of .env.example) means the default, not "".
        env_ignore_empty=True,
        case_sensitive=False,
        validate_default=True,
    )

    kalshi_api_key_id: str | None = None
    kalshi_private_key_path: Path | None = None
    kalshi_base_url: str = KALSHI_PROD_URL
    # Kalshi holds collateral per exchange shard: may the bot move money from shard 0
    # to the shard a trade needs, and how much in one UTC day at most (dollars).
    kalshi_shard_funding: bool = False
    kalshi_shard_funding_cap: Decimal = Field(Decimal("50.0"), ge=0, le=1_000_000)

    poly_private_key: SecretStr | None = None
    poly_api_key: SecretStr | None = None
    poly_api_secret: SecretStr | None = None
    poly_api_passphrase: SecretStr | None = None
    poly_funder: str | None = None
    poly_signature_type: int = Field(0, ge=0, le=2)
    poly_clob_url: str = POLY_CLOB_PROD_URL
    poly_gamma_url: str = POLY_GAMMA_PROD_URL
    # Redemption and merges on Polygon (predarb.capital)
    poly_rpc_url: str | None = None
    poly_chain_id: int = Field(137, ge=1)
    poly_gas_priority_gwei: Decimal = Field(Decimal(30), ge=0, le=100_000)
    poly_gas_max_fee_gwei: Decimal = Field(Decimal(500), gt=0, le=100_000)
    poly_confirmations: int = Field(5, ge=1, le=1000)
    poly_redeem_enabled: bool = True
    poly_merge_enabled: bool = True
    poly_relayer_url: str = POLY_RELAYER_PROD_URL
    poly_relayer_api_key: SecretStr | None = None
    poly_relayer_api_key_address: str | None = None
    poly_collateral_address: str = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"
    poly_ctf_address: str = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"
    poly_adapter_address: str = "0xAdA100Db00Ca00073811820692005400218FcE1f"
    poly_neg_risk_adapter_address: str = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"

    predarb_polymarket: PolymarketChoice = PolymarketChoice.INTERNATIONAL
    # Polymarket US (predarb.venues.polymarket_us): Ed25519 API key from the developer
    # portal, the public gateway and the authenticated API host.
    poly_us_key_id: str | None = None
    poly_us_secret_key: SecretStr | None = None
    poly_us_gateway_url: str = POLY_US_GATEWAY_PROD_URL
    poly_us_api_url: str = POLY_US_API_PROD_URL
    poly_us_categories: str = ""

    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: int | None = None
    telegram_base_url: str = TELEGRAM_PROD_URL
    telegram_allowed_user_ids: str = ""

    executor_enabled: bool = True
    executor_min_bet: Decimal = Field(Decimal("1.0"), gt=0, le=1_000_000)
    executor_max_bet: Decimal = Field(Decimal("2.0"), gt=0, le=1_000_000)
    executor_min_roi: Decimal = Field(Decimal("1.0"), ge=0, le=1000)
    executor_max_roi: Decimal = Field(Decimal("50.0"), gt=0, le=1000)
    executor_max_daily_trades: int = Field(50, ge=0, le=100_000)
    executor_max_daily_loss: Decimal = Field(Decimal("5.0"), ge=0, le=1_000_000)
    executor_min_platform_balance: Decimal = Field(Decimal("1.0"), ge=0, le=1_000_000)
    executor_max_exposure: Decimal = Field(Decimal("100.0"), ge=0, le=10_000_000)
    executor_cooldown_s: float = Field(60, ge=1, le=86_400)
    executor_max_quote_age_s: float = Field(5, gt=0, le=60)
    executor_max_depth_fraction: Decimal = Field(Decimal("0.5"), gt=0, le=1)
    executor_blacklist: str = ""
    executor_hedge_budget_cents: Decimal = Field(Decimal("1"), ge=0, le=100)
    executor_unwind_steps: int = Field(3, ge=1, le=20)
    executor_pair_partial_limit: int = Field(2, ge=1, le=1000)
    executor_pair_block_hours: float = Field(6, ge=0.25, le=720)
    executor_daily_partial_limit: int = Field(3, ge=1, le=1000)
    executor_max_in_flight: int = Field(4, ge=1, le=100)

    predarb_db_path: Path = Path("predarb.sqlite3")
    predarb_match_overrides: Path | None = None
    predarb_settlement_interval_s: float = Field(300, ge=10, le=86_400)
    predarb_poll_interval_s: float = Field(2, ge=0.2, le=3600)
    predarb_redeem_interval_s: float = Field(600, ge=60, le=86_400)
    # Paper and replay: how long a simulated order takes to reach each venue's book
    # (order round trips from a US-East box: signing, TLS on a warm connection, matching).
    predarb_paper_latency_ms_kalshi: int = Field(120, ge=0, le=10_000)
    predarb_paper_latency_ms_polymarket: int = Field(150, ge=0, le=10_000)

    # The dashboard (``predarb.web``): port 0 turns it off.
    predarb_web_host: str = "127.0.0.1"
    predarb_web_port: int = Field(8686, ge=0, le=65535)
    predarb_web_token: SecretStr | None = None

    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.CONSOLE

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        level = v.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("telegram_allowed_user_ids")
    @classmethod
    def _user_ids(cls, v: str) -> str:
        for item in v.replace(" ", "").split(","):
            if item and not item.lstrip("-").isdigit():
                raise ValueError(f"{item!r} is not a Telegram user id (comma-separated numbers)")
        return v

    @field_validator("poly_private_key")
    @classmethod
    def _wallet_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None:
            return None
        digits = v.get_secret_value().strip().removeprefix("0x").removeprefix("0X")
        if not digits:
            return None
        if len(digits) != 64 or not _is_hex(digits):
            raise ValueError("must be 64 hex digits (32 bytes), with or without 0x")
        return SecretStr("0x" + digits)

    @field_validator("poly_us_secret_key")
    @classmethod
    def _us_secret(cls, v: SecretStr | None) -> SecretStr | None:
        from predarb.venues.base import VenueError
        from predarb.venues.polymarket_us.auth import load_secret

        if v is None or not v.get_secret_value().strip():
            return None
        try:
            load_secret(v.get_secret_value())
        except VenueError as exc:
            raise ValueError(exc.message) from None
        return SecretStr(v.get_secret_value().strip())

    @field_validator("poly_funder")
    @classmethod
    def _funder(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if not (v.startswith(("0x", "0X")) and len(v) == 42 and _is_hex(v[2:])):
            raise ValueError("must be an address: 0x and 40 hex digits")
        return v

    @field_validator(
        "kalshi_base_url",
        "poly_clob_url",
        "poly_gamma_url",
        "telegram_base_url",
        "poly_rpc_url",
        "poly_relayer_url",
        "poly_us_gateway_url",
        "poly_us_api_url",
    )
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/") if not v.endswith("/bot") else v

    @field_validator(
        "poly_collateral_address",
        "poly_ctf_address",
        "poly_adapter_address",
        "poly_neg_risk_adapter_address",
        "poly_relayer_api_key_address",
    )
    @classmethod
    def _address(cls, v: str | None, info: ValidationInfo) -> str | None:
        if not v and info.field_name == "poly_relayer_api_key_address":
            return None
        if not v or not v.startswith("0x"):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        body = v.removeprefix("0x")
        if len(body) != 40 or any(ch not in "0123456789abcdefABCDEF" for ch in body):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        return v

    @field_validator("predarb_web_token")
    @classmethod
    def _web_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None  # unset (or empty in .env): a random token is made at start
        if not all("!" <= ch <= "~" for ch in v.get_secret_value()):
            raise ValueError("printable ASCII only, without spaces")
        return v

    @field_validator("predarb_web_host")
    @classmethod
    def _web_host(cls, v: str) -> str:
        host = v.strip().removeprefix("[").removesuffix("]")
        if not host:
            raise ValueError("must be an address or host name to listen on")
        return host

    @model_validator(mode="after")
    def _bands(self) -> Settings:
        if self.executor_min_bet > self.executor_max_bet:
            raise _field_error("executor_max_bet", "must be at least EXECUTOR_MIN_BET")
        if self.executor_min_roi > self.executor_max_roi:
            raise _field_error("executor_max_roi", "must be at least EXECUTOR_MIN_ROI")
        # Half a credential is a mistake, not a choice: say which half is missing.
        if (self.telegram_bot_token is None) != (self.telegram_chat_id is None):
            missing = "telegram_chat_id" if self.telegram_chat_id is None else "telegram_bot_token"
            raise _field_error(missing, "required when the other TELEGRAM_ variable is set")
        poly_creds = {
            "poly_api_key": self.poly_api_key,
            "poly_api_secret": self.poly_api_secret,
            "poly_api_passphrase": self.poly_api_passphrase,
        }
        given = [k for k, v in poly_creds.items() if v is not None]
        if given and len(given) < len(poly_creds):
            missing = next(k for k, v in poly_creds.items() if v is None)
            raise _field_error(missing, "POLY_API_KEY, _SECRET and _PASSPHRASE go together")
        if bool(self.poly_us_key_id) != (self.poly_us_secret_key is not None):
            missing = "poly_us_secret_key" if self.poly_us_key_id else "poly_us_key_id"
            raise _field_error(missing, "required when the other POLY_US_ key variable is set")
        if bool(self.kalshi_api_key_id) != (self.kalshi_private_key_path is not None):
            missing = "kalshi_private_key_path" if self.kalshi_api_key_id else "kalshi_api_key_id"
            raise _field_error(missing, "required when the other KALSHI_ key variable is set")
        return self

    def paper_latencies_ms(self) -> dict[Venue, int]:
        return {
            Venue.KALSHI: self.predarb_paper_latency_ms_kalshi,
            Venue.POLYMARKET: self.predarb_paper_latency_ms_polymarket,
            # Polymarket US has no figure of its own yet: its CLOB's.
            Venue.POLYMARKET_US: self.predarb_paper_latency_ms_polymarket,
        }

    @property
    def blacklist(self) -> frozenset[str]:
        return frozenset(
            item.strip().lower() for item in self.executor_blacklist.split(",") if item.strip()
        )

    @property
    def allowed_user_ids(self) -> frozenset[int]:
        return frozenset(int(i) for i in self.telegram_allowed_user_ids.split(",") if i.strip())

    @property
    def polymarket_venues(self) -> tuple[Venue, ...]:
        """The Polymarket venue(s) traded beside Kalshi (``PREDARB_POLYMARKET``)."""
        return {
            PolymarketChoice.INTERNATIONAL: (Venue.POLYMARKET,),
            PolymarketChoice.US: (Venue.POLYMARKET_US,),
            PolymarketChoice.BOTH: (Venue.POLYMARKET, Venue.POLYMARKET_US),
        }[self.predarb_polymarket]

    @property
    def venues(self) -> tuple[Venue, ...]:
        return (Venue.KALSHI, *self.polymarket_venues)

    @property
    def poly_us_category_list(self) -> tuple[str, ...]:
        return tuple(c.strip().lower() for c in self.poly_us_categories.split(",") if c.strip())

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None and self.telegram_chat_id is not None

    def secrets(self) -> list[str]:
        """Every configured secret value, for the log redaction filter."""
        out: list[str] = [self.kalshi_api_key_id] if self.kalshi_api_key_id else []
        for value in (
            self.poly_private_key,
            self.poly_api_key,
            self.poly_api_secret,
            self.poly_api_passphrase,
            self.poly_relayer_api_key,
            self.poly_us_secret_key,
            self.telegram_bot_token,
            self.predarb_web_token,
        ):
            if value is not None and value.get_secret_value():
                out.append(value.get_secret_value())
        return out


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


class _FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def _field_error(field: str, message: str) -> _FieldError:
    return _FieldError(field, message)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and ``.env``, or a one-line ``ConfigError``."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    except _FieldError as exc:
        raise ConfigError(f"{exc.field.upper()}: {exc}") from None


def revalidate(settings: Settings, **changes: Any) -> Settings:
    """A copy of ``settings`` with ``changes`` (field names, values as typed), each
    validated by the rules the configuration has for it (its bounds and format, then
    the bands such as EXECUTOR_MIN_BET <= EXECUTOR_MAX_BET), or the same one-line
    ``ConfigError`` a bad environment gets. The environment is not read again, and
    the fields not changed are kept as they are (the demo's own limits included).
    Changes that depend on each other (both ends of a band) may come in any order."""
    out = settings.model_copy()
    pending = dict(changes)
    while pending:
        problem = ""
        for name, value in list(pending.items()):
            trial = out.model_copy()  # a refused assignment may leave its value behind
            try:
                Settings.__pydantic_validator__.validate_assignment(trial, name, value)
            except ValidationError as exc:
                problem = _one_line(exc)
            except _FieldError as exc:
                problem = f"{exc.field.upper()}: {exc}"
            else:
                out = trial
                del pending[name]
                problem = ""
                break
        if problem:
            raise ConfigError(problem)
    return out


# Why a bound is where it is, said with the error. The venues' published limits (Kalshi's
# Basic tier: 200 read and 100 write tokens a second, 10 tokens a request, so 20 reads and
# 10 orders a second; Polymarket's CLOB: 9,000 requests per 10 s, POST /books 500, balance
# reads 200) are shared by everything the bot does; no one setting may take more than a
# quarter of the smallest of them.
BOUND_REASONS = {
    # One poll is one Kalshi read per 100 tickers (5 a second at 0.2 s) and one Polymarket
    # /books per 50 tokens (5 of its 50 a second).
    "predarb_poll_interval_s": "faster polling would spend more than a quarter of Kalshi's"
    " 20 reads a second on one batch of books",
    # A check reads every open market once, and both balances: 50 open positions every
    # 10 s are 5 Kalshi reads a second.
    "predarb_settlement_interval_s": "each check reads every open market and both balances;"
    " markets settle over hours",
    # After a failed attempt, one event is tried again at most once a second: at most one
    # Kalshi order a second of the 10 its Basic tier allows.
    "executor_cooldown_s": "below it, one event could be retried on every book update, each"
    " try sending orders, and Kalshi allows 10 orders a second in all",
    "executor_max_quote_age_s": "an older quote is not a price any more",
    # Redemption also runs right after each settlement; the interval is only a backstop.
    "predarb_redeem_interval_s": "each run reads positions and may send transactions;"
    " every settlement triggers one anyway",
    "executor_pair_block_hours": "a shorter block would not stop a pair that keeps filling one leg",
}


def _bounds(field: str) -> str:
    """The allowed range of a numeric setting, as a user reads it ("" if unbounded)."""
    info = Settings.model_fields.get(field)
    limits = {
        attr: getattr(rule, attr)
        for rule in (info.metadata if info is not None else ())
        for attr in ("ge", "gt", "le", "lt")
        if getattr(rule, attr, None) is not None
    }
    if not limits:
        return ""
    unit = " seconds" if field.endswith("_s") else " hours" if field.endswith("_hours") else ""
    if "ge" in limits and "le" in limits:
        return f"from {limits['ge']} to {limits['le']}{unit}"
    lower = f"at least {limits['ge']}" if "ge" in limits else f"above {limits.get('gt')}"
    upper = f"at most {limits['le']}" if "le" in limits else f"below {limits.get('lt')}"
    return f"{lower} and {upper}{unit}"


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
    ctx = err.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, _FieldError):
        return f"{inner.field.upper()}: {inner}"
    field = loc[0] if loc else ""
    name = field.upper() or "configuration"
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    bounds = _bounds(field)
    if bounds:
        # A number out of range, or no number at all: either way, say the range.
        reason = BOUND_REASONS.get(field)
        msg = f"must be a number {bounds}" + (f": {reason}" if reason else "")
    # The input may be a secret: never echo it.
    return f"{name}: {msg}"
