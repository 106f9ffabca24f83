"""One arbitrage across the two fake venues, shared by the execution tests and the
crash child: Kalshi YES (ask 0.40) + Polymarket NO (ask 0.55), 5 contracts.

The fakes run in the test process; ``VenueConfig`` is everything a client (here or in
a child process) needs to reach them, as JSON.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from eth_account import Account

from predarb.arbitrage.fees import kalshi_schedule, polymarket_schedule
from predarb.domain import ArbKind, Contract, FeeSchedule, Leg, Opportunity, Venue
from predarb.venues.base import VenueClient
from predarb.venues.kalshi import KalshiVenue
from predarb.venues.polymarket import PolymarketVenue
from tests.fakes.kalshi_server import FakeKalshi
from tests.fakes.polymarket_server import FakePolymarket

# A well-known throwaway key (never funded anywhere real).
POLY_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
POLY_ADDRESS = Account.from_key(POLY_KEY).address
TICKER = "KXSAFE-26DEC31-A"
POLY_MARKET = "901"
Levels = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class VenueConfig:
    kalshi_url: str
    kalshi_key_id: str
    kalshi_key_path: str
    clob_url: str
    gamma_url: str
    poly_creds: tuple[str, str, str]
    poly_no_token: str

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str) -> VenueConfig:
        raw = json.loads(text)
        raw["poly_creds"] = tuple(raw["poly_creds"])
        return cls(**raw)

    @property
    def k_yes(self) -> Contract:
        return Contract(Venue.KALSHI, TICKER, "yes")

    @property
    def p_no(self) -> Contract:
        return Contract(Venue.POLYMARKET, POLY_MARKET, "No", self.poly_no_token)


@dataclass
class Fakes:
    kalshi: FakeKalshi
    poly: FakePolymarket
    cfg: VenueConfig

    def books(
        self,
        *,
        k_asks: Levels = (("0.40", "20"),),
        k_bids: Levels = (("0.38", "10"),),
        p_asks: Levels = (("0.55", "20"),),
        p_bids: Levels = (("0.50", "20"),),
    ) -> None:
        """Set both books (YES on Kalshi, NO on Polymarket), best levels first."""
        # Kalshi rests bids only: a YES ask at p is a NO bid at 1 - p.
        no_bids = [(str(Decimal(1) - Decimal(p)), s) for p, s in k_asks]
        self.kalshi.set_book(TICKER, yes=list(k_bids), no=no_bids)
        self.poly.set_book(self.cfg.poly_no_token, bids=list(p_bids), asks=list(p_asks))

    def kalshi_orders(self) -> list[str]:
        """Client order ids of every order the Kalshi fake ever accepted."""
        return [o.client_order_id for o in self.kalshi.exchange.orders.values()]

    def poly_orders(self) -> list[str]:
        """Hashes of every order the Polymarket fake matched (killed ones leave none)."""
        return list(self.poly.orders)

    def poly_posts(self) -> int:
        """Orders posted to the Polymarket fake, killed or not."""
        return sum(1 for m, p in self.poly.requests if (m, p) == ("POST", "/order"))


@asynccontextmanager
async def running_fakes(tmp_path: Path, *, poly_min_size: str = "1") -> AsyncIterator[Fakes]:
    async with FakeKalshi() as kalshi, FakePolymarket() as poly:
        key_path = tmp_path / "kalshi.pem"
        key_id = kalshi.new_key(key_path)
        kalshi.add_market(TICKER)
        kalshi.exchange.balance = Decimal("100")
        market = poly.add_market(POLY_MARKET, tick="0.01", fee_rate="0.04", min_size=poly_min_size)
        creds = poly.register_wallet(POLY_ADDRESS, balance="100")
        cfg = VenueConfig(
            kalshi.base_url,
            key_id,
            str(key_path),
            poly.clob_url,
            poly.gamma_url,
            creds,
            market.tokens["No"],
        )
        fakes = Fakes(kalshi, poly, cfg)
        fakes.books()
        yield fakes


def make_venues(
    cfg: VenueConfig, *, kalshi_timeout_s: float = 10, poly_timeout_s: float = 10
) -> dict[Venue, VenueClient]:
    return {
        Venue.KALSHI: KalshiVenue(
            cfg.kalshi_url,
            cfg.kalshi_key_id,
            Path(cfg.kalshi_key_path),
            max_backoff_s=0.01,
            timeout_s=kalshi_timeout_s,
        ),
        Venue.POLYMARKET: PolymarketVenue(
            cfg.clob_url,
            cfg.gamma_url,
            private_key=POLY_KEY,
            api_creds=cfg.poly_creds,
            max_backoff_s=0.01,
            timeout_s=poly_timeout_s,
        ),
    }


def fee_of(contract: Contract) -> FeeSchedule:
    if contract.venue is Venue.KALSHI:
        return kalshi_schedule()
    return polymarket_schedule(Decimal("0.04"))


def opportunity(cfg: VenueConfig, contracts: str = "5") -> Opportunity:
    n = Decimal(contracts)
    k, p = Decimal("0.40"), Decimal("0.55")
    legs = (
        Leg(cfg.k_yes, "yes", k, n, k * n, Decimal("0.0840")),
        Leg(cfg.p_no, "no", p, n, p * n, Decimal("0.0495")),
    )
    cost = sum((leg.cost for leg in legs), Decimal(0))
    fees = sum((leg.fee for leg in legs), Decimal(0))
    profit = n - cost - fees
    return Opportunity(
        pair_id="pair-safe",
        kind=ArbKind.YES_NO,
        event="Safe event",
        legs=legs,
        contracts=n,
        cost=cost,
        fees=fees,
        payout=n,
        profit=profit,
        roi_pct=(profit / (cost + fees) * 100).quantize(Decimal("0.0001")),
        quote_ts=datetime.now(UTC),
    )
