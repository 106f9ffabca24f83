"""Which venues each mode trades on: demo (simulated markets, simulated fills), paper
(live public data, simulated fills, no keys) and live (real orders, keys required)."""

from __future__ import annotations

import random
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
    seed: int, *, resolve_after_s: float = 15.0, fail_rate: float = 0.12
) -> dict[Venue, VenueClient]:
    from predarb.control import utcnow
    from predarb.venues.paper import PaperVenue
    from predarb.venues.sim import SimVenue, SimWorld

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
    return {
        venue: PaperVenue(
            SimVenue(world, venue, follow_clock=True),
            balance=Decimal(500),
            latency_s=0.02,
            fail_rate=fail_rate,
            rng=random.Random(rng.random()),
            consumed_ttl_s=1.0,
        )
        for venue in (Venue.KALSHI, Venue.POLYMARKET)
    }


def live_problems(settings: Settings) -> list[str]:
    """What ``--live`` lacks, one line per variable (empty when it may start)."""
    problems = []
    if not settings.kalshi_api_key_id:
        problems.append("KALSHI_API_KEY_ID: required for --live")
    if settings.kalshi_private_key_path is None:
        problems.append("KALSHI_PRIVATE_KEY_PATH: required for --live")
    elif not settings.kalshi_private_key_path.is_file():
        problems.append(f"KALSHI_PRIVATE_KEY_PATH: no file at {settings.kalshi_private_key_path}")
    if settings.poly_private_key is None:
        problems.append("POLY_PRIVATE_KEY: required for --live")
    return problems


def kalshi_with_key(settings: Settings) -> VenueClient:
    """The Kalshi adapter signing with the configured key, or a ``ConfigError`` naming
    ``KALSHI_PRIVATE_KEY_PATH`` (a public, encrypted, EC or unreadable key)."""
    from predarb.venues.kalshi import KalshiVenue

    try:
        return KalshiVenue.from_settings(settings)
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


def build_market_venues(settings: Settings, mode: Mode) -> dict[Venue, VenueClient]:
    """The real adapters; in paper mode wrapped so that orders are only simulated (the
    runner gives them their ledger on disk once the database is open)."""
    from predarb.venues.kalshi import KalshiVenue
    from predarb.venues.paper import PaperVenue
    from predarb.venues.polymarket import PolymarketVenue

    if mode is Mode.LIVE:
        problems = live_problems(settings)
        if problems:
            raise ConfigError(problems[0])
        return {
            Venue.KALSHI: kalshi_with_key(settings),
            Venue.POLYMARKET: polymarket_with_key(settings),
        }
    # Paper: public market data only, so no key is ever loaded.
    kalshi = KalshiVenue(settings.kalshi_base_url)
    poly = PolymarketVenue(settings.poly_clob_url, settings.poly_gamma_url)
    latency = settings.paper_latencies_ms()
    return {
        venue: PaperVenue(
            source,
            balance=PAPER_BALANCE,
            latency_s=latency[venue] / 1000,
        )
        for venue, source in ((Venue.KALSHI, kalshi), (Venue.POLYMARKET, poly))
    }
