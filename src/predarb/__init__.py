"""predarb: arbitrage between Kalshi and Polymarket, steered from Telegram."""

__version__ = "0.1.0"
