"""An offline, seeded world of matched Kalshi-like and Polymarket-like markets.

``SimWorld`` (world.py) holds events (two-team games, crypto thresholds, 3-way soccer, and
decoys listed on one venue only), random-walks a fair probability per event and quotes
each venue's books around it; ``SimListings`` (listings.py) lists each venue's markets in
that venue's own naming style. ``SimVenue`` (venue.py) is the ``VenueClient`` of one venue
of a world. Nothing here touches the network or the disk; everything is deterministic
given the seed and the sequence of calls.
"""

from predarb.venues.sim.events import K, P, SimEvent, SimMarket
from predarb.venues.sim.listings import (
    COINS,
    EPL,
    LEAGUES,
    MILLI,
    Coin,
    League,
    SimListings,
    Team,
)
from predarb.venues.sim.venue import SimVenue
from predarb.venues.sim.world import START, VOID_PAYOUT, SimWorld

__all__ = [
    "COINS",
    "EPL",
    "LEAGUES",
    "MILLI",
    "START",
    "VOID_PAYOUT",
    "Coin",
    "K",
    "League",
    "P",
    "SimEvent",
    "SimListings",
    "SimMarket",
    "SimVenue",
    "SimWorld",
    "Team",
]
