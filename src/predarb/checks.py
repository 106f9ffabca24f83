"""``predarb check-config``: what is configured, what is missing, and, for every key
that is set, proof that the venue (or Telegram) accepts it. One line per check:
``OK``, ``WARN`` (works, but look) or ``FAIL`` (would stop the bot)."""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable
from decimal import Decimal

import httpx

from predarb.config import Settings
from predarb.domain import Venue
from predarb.errors import ConfigError
from predarb.modes import (
    kalshi_with_key,
    live_problems,
    polymarket_us_with_key,
    polymarket_with_key,
)
from predarb.store import Store, StoreError
from predarb.store.db import write_problem
from predarb.venues.base import VenueError

Check = Callable[[Settings], Awaitable[tuple[str, str]]]


async def _database(settings: Settings) -> tuple[str, str]:
    path = settings.predarb_db_path
    if not path.exists():
        if not path.parent.is_dir():
            return "FAIL", f"PREDARB_DB_PATH: no directory {path.parent} for {path.name}"
        if not os.access(path.parent, os.W_OK):
            return "FAIL", f"PREDARB_DB_PATH: {path.parent} is read-only: no database there"
        return "OK", f"database: {path} will be created at first start"
    try:
        store = await Store.open(path, readonly=True)
    except StoreError as exc:
        return "FAIL", f"database: {exc}"
    await store.close()
    problem = write_problem(path)
    if problem:
        return "FAIL", problem
    return "OK", f"database: {path} is a predarb database"


async def _kalshi(settings: Settings) -> tuple[str, str]:
    if not settings.kalshi_api_key_id or settings.kalshi_private_key_path is None:
        return "WARN", "kalshi: no keys (KALSHI_API_KEY_ID, KALSHI_PRIVATE_KEY_PATH): paper only"
    key_path = settings.kalshi_private_key_path
    if not key_path.is_file():
        return "FAIL", f"KALSHI_PRIVATE_KEY_PATH: no file at {key_path}"
    loose = os.stat(key_path).st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    try:
        venue = kalshi_with_key(settings)
    except ConfigError as exc:
        return "FAIL", str(exc)
    try:
        shards = await venue.get_shard_balances()
        balance = sum(shards.values(), Decimal(0)) if shards else await venue.get_balance()
    except VenueError as exc:
        return "FAIL", f"kalshi: signed balance call refused: {exc}"
    finally:
        await venue.close()
    # An order is paid from its market's exchange shard only: show where the money is.
    where = (
        " (" + ", ".join(f"shard {i} ${a:.2f}" for i, a in sorted(shards.items())) + ")"
        if len(shards) > 1
        else ""
    )
    perms = f"; key file permissions {oct(loose)} are loose, chmod 600" if loose else ""
    text = f"kalshi: keys accepted, balance ${balance:.2f}{where}{perms}"
    return ("WARN" if loose else "OK"), text


async def _polymarket(settings: Settings) -> tuple[str, str]:
    if settings.poly_private_key is None:
        if Venue.POLYMARKET not in settings.venues:
            return (
                "OK",
                f"polymarket: not traded (PREDARB_POLYMARKET={settings.predarb_polymarket})",
            )
        return "WARN", "polymarket: no POLY_PRIVATE_KEY: paper only"
    try:
        venue = polymarket_with_key(settings)
    except ConfigError as exc:
        return "FAIL", str(exc)
    try:
        await venue.connect()
        balance = await venue.get_balance()
    except VenueError as exc:
        return "FAIL", f"polymarket: L2 credentials or balance refused: {exc}"
    finally:
        await venue.close()
    return "OK", f"polymarket: L2 credentials accepted, pUSD balance ${balance:.2f}"


async def _polymarket_us(settings: Settings) -> tuple[str, str]:
    traded = Venue.POLYMARKET_US in settings.venues
    if not settings.poly_us_key_id:
        if not traded:
            return (
                "OK",
                f"polymarket_us: not traded (PREDARB_POLYMARKET={settings.predarb_polymarket})",
            )
        return "WARN", "polymarket_us: no keys (POLY_US_KEY_ID, POLY_US_SECRET_KEY): paper only"
    try:
        venue = polymarket_us_with_key(settings)
    except ConfigError as exc:
        return "FAIL", str(exc)
    try:
        balance = await venue.get_balance()  # a signed read: proves the key
    except VenueError as exc:
        return "FAIL", f"polymarket_us: signed balance call refused: {exc}"
    finally:
        await venue.close()
    note = "" if traded else f" (not traded: PREDARB_POLYMARKET={settings.predarb_polymarket})"
    return "OK", f"polymarket_us: keys accepted, buying power ${balance:.2f}{note}"


async def _telegram(settings: Settings) -> tuple[str, str]:
    if not settings.telegram_enabled:
        return "WARN", "telegram: TELEGRAM_BOT_TOKEN/TELEGRAM_CHAT_ID not set: console alerts only"
    assert settings.telegram_bot_token is not None
    base = settings.telegram_base_url + settings.telegram_bot_token.get_secret_value()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            me = (await client.post(f"{base}/getMe")).json()
            chat = (
                await client.post(f"{base}/getChat", data={"chat_id": settings.telegram_chat_id})
            ).json()
    except (httpx.HTTPError, ValueError) as exc:
        return "FAIL", f"telegram: Bot API unreachable: {type(exc).__name__}"
    if not me.get("ok"):
        return "FAIL", "TELEGRAM_BOT_TOKEN: refused by the Bot API"
    if not chat.get("ok"):
        return "FAIL", f"TELEGRAM_CHAT_ID: chat not reachable: {chat.get('description', '')}"
    return "OK", f"telegram: bot @{me['result'].get('username', '?')} can reach the chat"


async def _dashboard(settings: Settings) -> tuple[str, str]:
    from predarb.web.access import check

    return await check(settings)


async def _polygon(settings: Settings) -> tuple[str, str]:
    from predarb.capital.check import check_polygon

    return await check_polygon(settings)


CHECKS: tuple[Check, ...] = (
    _database,
    _kalshi,
    _polymarket,
    _polymarket_us,
    _polygon,
    _telegram,
    _dashboard,
)


async def run_checks(settings: Settings) -> tuple[list[str], bool]:
    lines = ["OK config: every variable parses"]
    ok = True
    for check in CHECKS:
        level, text = await check(settings)
        lines.append(f"{level} {text}")
        ok = ok and level != "FAIL"
    missing = live_problems(settings)
    if missing:
        lines.append("WARN --live would refuse to start: " + "; ".join(missing))
    return lines, ok
