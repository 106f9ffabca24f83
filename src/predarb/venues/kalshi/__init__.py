"""Kalshi Trade API v2 adapter (see ``client.KalshiVenue``)."""

from predarb.venues.kalshi.client import KalshiVenue
from predarb.venues.kalshi.errors import RetiredEndpoint

__all__ = ["KalshiVenue", "RetiredEndpoint"]
