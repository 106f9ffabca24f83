"""Polymarket venue adapter (Gamma discovery, CLOB V2 market data and trading)."""

from predarb.venues.polymarket.client import PolymarketVenue

__all__ = ["PolymarketVenue"]
