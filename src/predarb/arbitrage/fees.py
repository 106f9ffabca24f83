"""Taker fee models of both venues, with each venue's own rounding.

Both venues charge ``C × rate × (p × (1 − p)) ** exponent`` per fill, where C is the
contracts (shares) filled and p the fill price; they differ in rounding:

- Kalshi rounds each fill's fee *up* to $0.0001 (venue-apis.md A.5; wire-verified:
  1 @ 0.52 -> 0.0175, 1 @ 0.99 -> 0.0007). ``rate`` is 0.07 × the series multiplier.
- Polymarket rounds to 5 dp and charges nothing below $0.00001 (venue-apis.md B.6).
  py-clob-client-v2's ``fees.py`` only estimates the fee in floats to size a buy and does
  no rounding, so the rounding here follows the venue's documentation: half-up to 5 dp.

Polymarket US is the exception: a flat share of a notional, not of ``p × (1 − p)``.
Its fee page (docs.polymarket.us/faqs/fees) says "Buyers: Fee Notional = Number of
Contracts × Contract Price; Sellers: … × (1 − Contract Price)", the complement being
the seller's risk. ``fee_price`` is that rule, the one place it lives: the paper and
simulated venues charge with it and the live adapter checks every fill with it.
Buying NO at 0.40 (the long side sold at 0.60) costs ``rate × C × 0.40`` either way.
``rate`` is the market's ``feeCoefficient``; each fill's fee is rounded to the cent,
half to even. Other sources disagree (a tenth of a cent, a minimum fee), so every fill
is also checked against the commission the exchange reports (``polymarket_us.orders``).

A walk through a book fills one level at a time, so each level is one fill and fees
are summed per level (``fee_for_levels``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from predarb.domain import ONE, ZERO, Action, FeeChange, FeeSchedule, Venue

KALSHI_BASE_RATE = Decimal("0.07")
# Maker shares of the taker rate by Kalshi series fee_type (A.5); plain quadratic: none.
_KALSHI_MAKER_SHARE: dict[str, Decimal] = {
    "quadratic": ZERO,
    "quadratic_with_maker_fees": Decimal("0.25"),
    "quadratic_with_combo_maker_fees": Decimal("0.5"),
}
KALSHI_FEE_STEP = Decimal("0.0001")
POLYMARKET_FEE_STEP = Decimal("0.00001")
POLYMARKET_US_FEE_STEP = Decimal("0.01")


def kalshi_schedule(multiplier: Decimal = ONE, fee_type: str = "quadratic") -> FeeSchedule:
    """The schedule of a Kalshi series (``fee_type``, ``fee_multiplier``).

    Raises ValueError for a negative multiplier and for fee types whose coefficients are
    not known (``flat`` is UNCONFIRMED in the venue notes): a market whose fee we cannot
    compute must not be priced as if it were free.
    """
    multiplier = Decimal(multiplier)
    if not multiplier.is_finite() or multiplier < 0:
        raise ValueError(f"bad Kalshi fee multiplier {multiplier}")
    share = _KALSHI_MAKER_SHARE.get(fee_type)
    if share is None:
        raise ValueError(f"unsupported Kalshi fee_type {fee_type!r}")
    rate = KALSHI_BASE_RATE * multiplier
    return FeeSchedule(venue=Venue.KALSHI, rate=rate, exponent=1, maker_rate=rate * share)


def polymarket_schedule(rate: Decimal, exponent: int = 1) -> FeeSchedule:
    """The schedule of a Polymarket market (Gamma ``feeSchedule`` / CLOB ``fd``).
    Makers pay nothing on Polymarket."""
    rate = Decimal(rate)
    if not rate.is_finite() or rate < 0 or rate > 1:
        raise ValueError(f"bad Polymarket fee rate {rate}")
    if exponent < 0:
        raise ValueError(f"bad Polymarket fee exponent {exponent}")
    return FeeSchedule(venue=Venue.POLYMARKET, rate=rate, exponent=exponent)


def polymarket_us_schedule(coefficient: Decimal) -> FeeSchedule:
    """The schedule of a Polymarket US market (its ``feeCoefficient``)."""
    coefficient = Decimal(coefficient)
    if not coefficient.is_finite() or coefficient < 0 or coefficient > 1:
        raise ValueError(f"bad Polymarket US fee coefficient {coefficient}")
    return FeeSchedule(venue=Venue.POLYMARKET_US, rate=coefficient, exponent=0)


def unit_fee(schedule: FeeSchedule, price: Decimal) -> Decimal:
    """The unrounded taker fee of one contract at ``price``."""
    if schedule.venue is Venue.POLYMARKET_US:
        return schedule.rate * price
    return schedule.rate * (price * (ONE - price)) ** schedule.exponent


def taker_fee(schedule: FeeSchedule | None, contracts: Decimal, price: Decimal) -> Decimal:
    """Fee in dollars for one taker fill of ``contracts`` at ``price``; None means no fee."""
    if contracts < 0 or not contracts.is_finite():
        raise ValueError(f"bad contract count {contracts}")
    if not price.is_finite() or price < 0 or price > 1:
        raise ValueError(f"bad price {price}")
    if schedule is None or contracts == 0 or schedule.rate == 0:
        return ZERO
    raw = contracts * unit_fee(schedule, price)
    if schedule.venue is Venue.POLYMARKET_US:
        return raw.quantize(POLYMARKET_US_FEE_STEP, rounding=ROUND_HALF_EVEN)
    if schedule.venue is Venue.KALSHI:
        return raw.quantize(KALSHI_FEE_STEP, rounding=ROUND_CEILING)
    if raw < POLYMARKET_FEE_STEP:
        return ZERO
    return raw.quantize(POLYMARKET_FEE_STEP, rounding=ROUND_HALF_UP)


def fee_price(venue: Venue, action: Action, price: Decimal) -> Decimal:
    """The price a fill's fee is figured on, for a fill of ``action`` at ``price`` (the
    price of the contract bought or sold). Polymarket US charges a seller on the
    complement; the other venues' ``p × (1 − p)`` is the same either way round."""
    if venue is Venue.POLYMARKET_US and action is Action.SELL:
        return ONE - price
    return price


def trade_fee(
    schedule: FeeSchedule | None, action: Action, contracts: Decimal, price: Decimal
) -> Decimal:
    """``taker_fee`` of a fill that buys or sells (``action``) ``contracts`` at ``price``."""
    if schedule is None:
        return ZERO
    return taker_fee(schedule, contracts, fee_price(schedule.venue, action, price))


def fee_for_levels(
    schedule: FeeSchedule | None, fills: Sequence[tuple[Decimal, Decimal]]
) -> Decimal:
    """Total fee of several fills given as ``(price, contracts)``: each fill is rounded
    on its own, as the venues do."""
    return sum((taker_fee(schedule, contracts, price) for price, contracts in fills), ZERO)


# --- Kalshi fee schedules over time ---------------------------------------------------

KalshiFee = tuple[str, Decimal]  # (fee_type, fee_multiplier) as the venue states them
# A series fee read this soon after a scheduled change may not show it yet: such a
# change is applied on top of the fee read (the same fee, if it did show).
READ_MARGIN = timedelta(minutes=5)


def kalshi_fee_schedule(fee: KalshiFee) -> FeeSchedule | None:
    """The schedule of a Kalshi (fee_type, multiplier), or None when its formula is not
    published (``flat``): such a market is never priced."""
    try:
        return kalshi_schedule(fee[1], fee[0])
    except ValueError:
        return None


class KalshiFeeBook:
    """Kalshi fees as they change: series fees, their scheduled changes
    (``GET /series/fee_changes``), event overrides layered on top (``fee_type_override``,
    ``GET /events/fee_changes``, the ``event_fee_update`` message; a cleared override
    falls back to the series). No I/O: the adapter feeds it, and ``timeline`` gives a
    market its fee now and every change already announced, so a change is priced from
    the moment it takes effect, never later."""

    def __init__(self) -> None:
        self.series: dict[str, KalshiFee] = {}
        self.overrides: dict[str, KalshiFee | None] = {}  # by event ticker
        self._series_read: dict[str, datetime] = {}  # when each series fee was read
        self._series_changes: dict[str, dict[datetime, KalshiFee]] = {}
        self._event_changes: dict[str, dict[datetime, KalshiFee | None]] = {}

    def read_series(self, series: str, fee: KalshiFee, at: datetime) -> None:
        """The series' fee as read at ``at``: it already holds every change in force
        well before then (``READ_MARGIN``), which is not applied on top of it again."""
        self.series[series] = fee
        self._series_read[series] = at

    def schedule_series(self, series: str, at: datetime, fee: KalshiFee) -> bool:
        """Enter an announced change; whether it was news."""
        changes = self._series_changes.setdefault(series, {})
        new = at not in changes or changes[at] != fee
        changes[at] = fee
        return new

    def schedule_event(self, event: str, at: datetime, override: KalshiFee | None) -> bool:
        changes = self._event_changes.setdefault(event, {})
        new = at not in changes or changes[at] != override
        changes[at] = override
        return new

    def timeline(
        self, series: str, event: str, now: datetime
    ) -> tuple[FeeSchedule | None, tuple[FeeChange, ...]]:
        """The fee in force at ``now`` and the announced changes after it, in order; no
        fee at all for a series whose fee was never read."""
        if series not in self.series:
            return None, ()
        s_map = self._series_changes.get(series, {})
        read = self._series_read.get(series)
        if read is not None:  # a change read with the history, already in the fee read
            s_map = {at: fee for at, fee in s_map.items() if at > read - READ_MARGIN}
        e_map = self._event_changes.get(event, {})
        base = self.series[series]
        override = self.overrides.get(event)
        current: FeeSchedule | None = None
        changes: list[FeeChange] = []
        past = True
        for moment in sorted({*s_map, *e_map, now}):
            if moment > now and past:
                past = False
                current = kalshi_fee_schedule(override or base)
            base = s_map.get(moment, base)
            override = e_map.get(moment, override)
            if moment > now:
                changes.append(FeeChange(moment, kalshi_fee_schedule(override or base)))
        if past:
            current = kalshi_fee_schedule(override or base)
        return current, tuple(changes)
