"""The capital jobs the engine runs: what returns Polymarket money in each mode."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Protocol

from predarb.capital.chain import Chain, GasPolicy
from predarb.capital.contracts import Addresses
from predarb.capital.redeemer import Condition, Redeemer, RedeemResult
from predarb.capital.relayer import relayer_route
from predarb.capital.routes import EoaRoute, Route
from predarb.config import Settings
from predarb.domain import Venue
from predarb.notify.base import Alert
from predarb.store import Store
from predarb.venues.base import BadResponse, VenueClient
from predarb.venues.polymarket.client import PolymarketVenue

log = logging.getLogger(__name__)


class Returner(Protocol):
    """Brings resolved (and paired) positions back as free balance; one run at a time."""

    async def run_once(self) -> RedeemResult: ...


class PolymarketConditions:
    """The condition lookup of the redeemer, from the Polymarket adapter."""

    def __init__(self, client: PolymarketVenue) -> None:
        self.client = client

    async def condition_of(self, token_id: str) -> Condition:
        cid, neg_risk, tokens = await self.client.condition_tokens(token_id)
        if len(tokens) != 2:
            raise BadResponse(Venue.POLYMARKET, f"condition {cid} has {len(tokens)} outcomes")
        return Condition(cid, neg_risk, (tokens[0], tokens[1]))


def addresses(settings: Settings) -> Addresses:
    return Addresses(
        collateral=settings.poly_collateral_address,
        ctf=settings.poly_ctf_address,
        adapter=settings.poly_adapter_address,
        neg_risk_adapter=settings.poly_neg_risk_adapter_address,
    )


def chain_of(settings: Settings) -> Chain | None:
    """The Polygon wallet, or None without an endpoint and a key."""
    if not settings.poly_rpc_url or settings.poly_private_key is None:
        return None
    holder = settings.poly_funder if settings.poly_signature_type != 0 else None
    return Chain(
        settings.poly_rpc_url,
        settings.poly_private_key.get_secret_value(),
        addresses(settings),
        GasPolicy(settings.poly_gas_priority_gwei, settings.poly_gas_max_fee_gwei),
        holder=holder,
        expected_chain_id=settings.poly_chain_id,
    )


def route_of(settings: Settings, chain: Chain) -> Route | None:
    if settings.poly_signature_type == 0:
        return EoaRoute(chain)
    route = relayer_route(settings, chain)
    if route is None:
        log.warning(
            "POLY_SIGNATURE_TYPE %d: proxy and Safe wallets redeem through Polymarket's"
            " relayer, which needs POLY_RELAYER_API_KEY and POLY_RELAYER_API_KEY_ADDRESS",
            settings.poly_signature_type,
        )
    return route


def build_returner(
    settings: Settings,
    store: Store,
    venues: Mapping[Venue, VenueClient],
    notify: Callable[[Alert], Awaitable[None]],
    clock: Callable[[], datetime],
    mode: str,
) -> Returner | None:
    """Live: the on-chain redeemer. Otherwise a venue that redeems by itself (the
    simulator) offers its own returner; paper trading has no money to bring back."""
    poly = venues.get(Venue.POLYMARKET)
    own = getattr(poly, "returner", None)
    if callable(own):
        returner: Returner = own(store, notify, clock)
        return returner
    if mode != "live" or not settings.poly_redeem_enabled:
        return None
    if not isinstance(poly, PolymarketVenue):
        return None
    chain = chain_of(settings)
    if chain is None:
        log.warning(
            "POLY_RPC_URL is not set: resolved Polymarket positions are not redeemed and"
            " their money stays locked until redeemed by hand"
        )
        return None
    route = route_of(settings, chain)
    if route is None:
        return None
    return Redeemer(
        store,
        chain,
        route,
        PolymarketConditions(poly),
        notify,
        clock,
        confirmations=settings.poly_confirmations,
        merge=settings.poly_merge_enabled,
        refresh=poly.refresh_balances,
    )
