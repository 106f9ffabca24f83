"""Polymarket US: the CFTC-regulated Polymarket exchange for US residents."""

from predarb.venues.polymarket_us.client import PolymarketUSVenue

__all__ = ["PolymarketUSVenue"]
