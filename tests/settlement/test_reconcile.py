"""Positions reconciliation: local holdings against what each venue reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from predarb.domain import Contract, Resolution, Venue, VenuePosition
from predarb.notify.base import Alert, AlertKind
from predarb.reconcile import Reconciler
from predarb.settlement import Settler
from predarb.store import Store
from tests.core.builders import T0
from tests.fakes.scripted_venue import ScriptedVenue
from tests.settlement.test_settle import _arb

D = Decimal
K = Contract(Venue.KALSHI, "KXS1-M00001", "yes")
P = Contract(Venue.POLYMARKET, "P00001", "No", "tok-00001")


@dataclass
class Holding(ScriptedVenue):
    held: list[VenuePosition] = field(default_factory=list)

    async def get_positions(self) -> list[VenuePosition]:
        return list(self.held)


async def test_a_difference_is_alerted_once_confirmed_with_both_quantities(store: Store) -> None:
    await _arb(store, 1)
    kalshi = Holding(Venue.KALSHI, held=[VenuePosition(K, D(10))])
    # Polymarket reports the token under its id only (as after a restart), 7 not 10.
    unknown = Contract(Venue.POLYMARKET, "tok-00001", "No", "tok-00001")
    poly = Holding(Venue.POLYMARKET, held=[VenuePosition(unknown, D(7))])
    alerts: list[Alert] = []

    async def collect(alert: Alert) -> None:
        alerts.append(alert)

    venues = {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly}
    rec = Reconciler(store, venues, collect, lambda: T0)
    assert await rec.reconcile_once() == []  # seen once: maybe an order in flight
    (diff,) = await rec.reconcile_once()
    assert (diff.venue, diff.local, diff.remote, diff.difference) == (
        Venue.POLYMARKET,
        D(10),
        D(7),
        D(-3),
    )
    (alert,) = alerts
    assert alert.kind is AlertKind.MISMATCH
    assert "polymarket P00001 No: local 10, venue 7, difference -3" in alert.plain
    await rec.reconcile_once()
    assert len(alerts) == 1  # the same difference is not alerted again
    (event,) = await store.events("positions_mismatch")
    assert event["differences"][0]["venue"] == "7"
    poly.held = [VenuePosition(P, D(10))]
    assert await rec.reconcile_once() == []


async def test_kalshi_nets_yes_against_no_and_settled_leftovers_are_ignored(
    store: Store,
) -> None:
    await _arb(store, 1)
    await _arb(store, 2)
    p2 = Contract(Venue.POLYMARKET, "P00002", "No", "tok-00002")
    kalshi = Holding(
        Venue.KALSHI,
        held=[
            VenuePosition(K, D(10)),
            VenuePosition(Contract(Venue.KALSHI, "KXS2-M00002", "yes"), D(10)),
        ],
    )
    poly = Holding(Venue.POLYMARKET, held=[VenuePosition(P, D(10)), VenuePosition(p2, D(10))])
    alerts: list[Alert] = []

    async def collect(alert: Alert) -> None:
        alerts.append(alert)

    venues = {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly}
    # Execution 2 settles; Polymarket keeps its token until redeemed, Kalshi clears it.
    kalshi.resolutions["KXS2-M00002"] = Resolution("KXS2-M00002", {"yes": D(1), "no": D(0)})
    poly.resolutions["P00002"] = Resolution("P00002", {"No": D(0), "tok-00002": D(0)})
    settled = await Settler(store, venues, collect, lambda: T0 + timedelta(hours=1)).settle_once()
    assert settled.settled == 1
    kalshi.held = kalshi.held[:1]
    rec = Reconciler(store, venues, collect, lambda: T0, confirmations=1)
    assert await rec.reconcile_once() == []
    # A Kalshi NO bought elsewhere on the same ticker nets the YES down.
    kalshi.held.append(VenuePosition(Contract(Venue.KALSHI, K.market_id, "no"), D(4)))
    (diff,) = await rec.reconcile_once()
    assert (diff.contract, diff.local, diff.remote) == (
        "kalshi KXS1-M00001 (YES minus NO)",
        D(10),
        D(6),
    )
