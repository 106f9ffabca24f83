"""Capital that comes back by itself: Polymarket redemptions and merges on chain, and one
view of the money on every venue."""
