"""``predarb check-config``: what is configured, what is missing, and, for every key
that is set, proof that the venue (or Telegram) accepts it. One line per check:
``OK``, ``WARN`` (works, but look) or ``FAIL`` (would stop the bot)."""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable

import httpx

from predarb.config import Settings
from predarb.modes import live_problems
from predarb.store import Store, StoreError
from predarb.venues.base import VenueError

Check = Callable[[Settings], Awaitable[tuple[str, str]]]


async def _database(settings: Settings) -> tuple[str, str]:
    path = settings.predarb_db_path
    if not path.exists():
        return "OK", f"database: {path} will be created at first start"
    try:
        store = await Store.open(path, readonly=True)
    except StoreError as exc:
        return "FAIL", f"database: {exc}"
    await store.close()
    return "OK", f"database: {path} is a predarb database"


async def _kalshi(settings: Settings) -> tuple[str, str]:
    from predarb.venues.kalshi import KalshiVenue

    if not settings.kalshi_api_key_id or settings.kalshi_private_key_path is None:
        return "WARN", "kalshi: no keys (KALSHI_API_KEY_ID, KALSHI_PRIVATE_KEY_PATH): paper only"
    key_path = settings.kalshi_private_key_path
    if not key_path.is_file():
        return "FAIL", f"KALSHI_PRIVATE_KEY_PATH: no file at {key_path}"
    loose = os.stat(key_path).st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    try:
        venue = KalshiVenue.from_settings(settings)
    except (ValueError, OSError, VenueError) as exc:
        return "FAIL", f"KALSHI_PRIVATE_KEY_PATH: cannot load the key: {exc}"
    try:
        balance = await venue.get_balance()
    except VenueError as exc:
        return "FAIL", f"kalshi: signed balance call refused: {exc}"
    finally:
        await venue.close()
    perms = f"; key file permissions {oct(loose)} are loose, chmod 600" if loose else ""
    return ("WARN" if loose else "OK"), f"kalshi: keys accepted, balance ${balance:.2f}{perms}"


async def _polymarket(settings: Settings) -> tuple[str, str]:
    from predarb.venues.polymarket import PolymarketVenue

    if settings.poly_private_key is None:
        return "WARN", "polymarket: no POLY_PRIVATE_KEY: paper only"
    try:
        venue = PolymarketVenue.from_settings(settings)
    except (ValueError, VenueError) as exc:
        return "FAIL", f"POLY_PRIVATE_KEY: cannot use the key: {exc}"
    try:
        await venue.connect()
        balance = await venue.get_balance()
    except VenueError as exc:
        return "FAIL", f"polymarket: L2 credentials or balance refused: {exc}"
    finally:
        await venue.close()
    return "OK", f"polymarket: L2 credentials accepted, pUSD balance ${balance:.2f}"


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
