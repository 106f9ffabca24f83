"""Which venues each mode trades on: demo (simulated markets, simulated fills), paper
(live market data, simulated fills, no keys needed; a Kalshi key, when configured, only
opens Kalshi's book stream) and live (real orders, keys required)."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Any

from predarb.config import Settings
from predarb.domain import Venue
from predarb.errors import ConfigError
from predarb.venues.base import VenueClient, VenueError

PAPER_BALANCE = Decimal(1000)

# The demo's own defaults, used only where the user set nothing: the interface's
# defaults ($2 max bet, 60 s cooldown) cannot buy Polymarket's 5-share minimum.
DEMO_DEFAULTS: dict[str, Any] = {
    "executor_max_bet": Decimal(25),
    "executor_cooldown_s": 3.0,
    "executor_max_daily_trades": 500,
    "executor_max_daily_loss": Decimal(50),
    "executor_max_exposure": Decimal(500),
    # The simulated fills kill a leg now and then on purpose, to show the hedging.
    "executor_daily_partial_limit": 50,
    "predarb_settlement_interval_s": 2.0,
    "predarb_poll_interval_s": 0.5,
}


class Mode(StrEnum):
    DEMO = "demo"
    PAPER = "paper"
    LIVE = "live"


def demo_settings(settings: Settings) -> tuple[Settings, list[str]]:
    """``settings`` with the demo defaults applied where the user set nothing, and a
    note for each value changed."""
    changes = {k: v for k, v in DEMO_DEFAULTS.items() if k not in settings.model_fields_set}
    notes = [f"{k.upper()}={v}" for k, v in changes.items() if k.startswith("executor_")]
    return settings.model_copy(update=changes), notes


def build_demo_venues(
    seed: int,
    *,
    resolve_after_s: float = 15.0,
    fail_rate: float = 0.12,
    polymarkets: tuple[Venue, ...] = (Venue.POLYMARKET,),
) -> dict[Venue, VenueClient]:
    """Simulated Kalshi and the Polymarket(s) chosen (``PREDARB_POLYMARKET``), each
    behind a paper account."""
    from predarb.control import utcnow
    from predarb.venues.paper import PaperVenue
    from predarb.venues.sim import SimVenue, SimWorld
    from predarb.venues.sim.polymarket_us import SimPolymarketUS

    world = SimWorld(
        seed,
        n_games=14,
        n_crypto=6,
        n_soccer=5,
        clock=utcnow,
        resolve_after_s=resolve_after_s,
        step_s=0.2,
        respawn=True,
    )
    rng = random.Random(seed)

    def simulated(venue: Venue) -> VenueClient:
        if venue is Venue.POLYMARKET_US:
            return SimPolymarketUS(world, follow_clock=True)
        return SimVenue(world, venue, follow_clock=True)

    return {
        venue: PaperVenue(
            simulated(venue),
            balance=Decimal(500),
            latency_s=0.02,
            fail_rate=fail_rate,
            rng=random.Random(rng.random()),
            consumed_ttl_s=1.0,
        )
        for venue in (Venue.KALSHI, *polymarkets)
    }


def kalshi_key_configured(settings: Settings) -> bool:
    return bool(settings.kalshi_api_key_id) and settings.kalshi_private_key_path is not None


def live_problems(settings: Settings) -> list[str]:
    """What ``--live`` lacks, one line per variable (empty when it may start)."""
    problems = []
    if not settings.kalshi_api_key_id:
        problems.append("KALSHI_API_KEY_ID: required for --live")
    if settings.kalshi_private_key_path is None:
        problems.append("KALSHI_PRIVATE_KEY_PATH: required for --live")
    elif not settings.kalshi_private_key_path.is_file():
        problems.append(f"KALSHI_PRIVATE_KEY_PATH: no file at {settings.kalshi_private_key_path}")
    venues = settings.venues
    if Venue.POLYMARKET in venues and settings.poly_private_key is None:
        problems.append("POLY_PRIVATE_KEY: required for --live")
    if Venue.POLYMARKET_US in venues and not settings.poly_us_key_id:
        problems.append("POLY_US_KEY_ID: required for --live with PREDARB_POLYMARKET=us or both")
    if Venue.POLYMARKET_US in venues and settings.poly_us_secret_key is None:
        problems.append(
            "POLY_US_SECRET_KEY: required for --live with PREDARB_POLYMARKET=us or both"
        )
    return problems


def kalshi_with_key(settings: Settings, **kwargs: Any) -> VenueClient:
    """The Kalshi adapter signing with the configured key, or a ``ConfigError`` naming
    ``KALSHI_PRIVATE_KEY_PATH`` (a public, encrypted, EC or unreadable key)."""
    from predarb.venues.kalshi import KalshiVenue

    try:
        return KalshiVenue.from_settings(settings, **kwargs)
    except (VenueError, ValueError, OSError) as exc:
        reason = exc.message if isinstance(exc, VenueError) else str(exc)
        raise ConfigError("KALSHI_PRIVATE_KEY_PATH", f"cannot load the key: {reason}") from None


def polymarket_with_key(settings: Settings) -> VenueClient:
    """The Polymarket adapter signing with the wallet key, or a ``ConfigError`` naming
    ``POLY_PRIVATE_KEY``. The key's text is never part of the message."""
    from predarb.venues.polymarket import PolymarketVenue

    try:
        return PolymarketVenue.from_settings(settings)
    except (VenueError, ValueError) as exc:
        # A parser's message may quote the key: only the kind of failure is said.
        reason = exc.message if isinstance(exc, VenueError) else type(exc).__name__
        raise ConfigError("POLY_PRIVATE_KEY", f"cannot use the key: {reason}") from None


def polymarket_us_with_key(settings: Settings) -> VenueClient:
    """The Polymarket US adapter signing with its Ed25519 key, or a ``ConfigError``
    naming ``POLY_US_SECRET_KEY`` (never quoting it)."""
    from predarb.venues.polymarket_us import PolymarketUSVenue

    try:
        return PolymarketUSVenue.from_settings(settings, categories=settings.poly_us_category_list)
    except VenueError as exc:
        raise ConfigError("POLY_US_SECRET_KEY", f"cannot use the key: {exc.message}") from None


def build_market_venues(settings: Settings, mode: Mode) -> dict[Venue, VenueClient]:
    """The real adapters of the venues configured (Kalshi and ``PREDARB_POLYMARKET``'s
    one or two Polymarkets); in paper mode wrapped so that orders are only simulated (the
    runner gives them their ledger on disk once the database is open)."""
    from predarb.venues.kalshi import KalshiVenue
    from predarb.venues.paper import PaperVenue
    from predarb.venues.polymarket import PolymarketVenue
    from predarb.venues.polymarket_us import PolymarketUSVenue

    if mode is Mode.LIVE:
        problems = live_problems(settings)
        if problems:
            raise ConfigError(problems[0])
        keyed = {
            Venue.KALSHI: kalshi_with_key,
            Venue.POLYMARKET: polymarket_with_key,
            Venue.POLYMARKET_US: polymarket_us_with_key,
        }
        return {v: keyed[v](settings) for v in settings.venues}
    # Paper: market data only; orders are simulated (PaperVenue). Kalshi's book stream
    # needs a key (its orderbook_delta channel is private), so with one configured paper
    # reads Kalshi's books from it as live does (no account stream, nothing sent);
    # without one it polls them over REST. No other key is ever loaded.
    public: dict[Venue, Callable[[], VenueClient]] = {
        Venue.KALSHI: lambda: (
            kalshi_with_key(settings, user_stream=False)
            if kalshi_key_configured(settings)
            else KalshiVenue(settings.kalshi_base_url)
        ),
        Venue.POLYMARKET: lambda: PolymarketVenue(settings.poly_clob_url, settings.poly_gamma_url),
        Venue.POLYMARKET_US: lambda: PolymarketUSVenue(
            settings.poly_us_gateway_url,
            settings.poly_us_api_url,
            categories=settings.poly_us_category_list,
        ),
    }
    latency = settings.paper_latencies_ms()
    return {
        v: PaperVenue(public[v](), balance=PAPER_BALANCE, latency_s=latency[v] / 1000)
        for v in settings.venues
    }
