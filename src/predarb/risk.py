"""Pre-trade risk checks: the one place every opportunity passes before an order.

Pure and synchronous: no I/O and no clock reads. The engine builds a ``RiskSnapshot``
(balances, counters, open events, ``now``...) from SQLite and the venues, and asks
``RiskManager.check``; the answer is an approval or the first failing check, with a
stable ``code`` and a sentence carrying the figures. The engine stores rejections; this
module logs and counts them.

Order of the checks (``RiskManager.check``): global state first, because it is cheap and
says the most (kill switch, a venue down, the daily trade count, loss and one-legged
results, with the executions in flight counted as lost and one-legged until they end;
executions in flight); then the opportunity's own shape and flags (well formed, blacklists,
tradable, executable, confidence); then the event's state (EXPOSED execution, in
flight, open position, cooldown); then prices and sizes (quote age, ROI band, bet size,
venue minimums, depth);
then the money that would be committed (exposure cap, balance on each venue, and on
each exchange shard of a venue that holds collateral per shard: Kalshi); last each
venue's order rate.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from predarb.config import Settings
from predarb.domain import CENT, ONE, ZERO, Contract, Opportunity, Venue

log = logging.getLogger(__name__)

HUNDRED = Decimal(100)
POLYMARKET_MIN_SHARES = Decimal(5)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Every limit, in the units of ``interface.md`` (dollars, percent, seconds).

    A limit of 0 allows nothing: 0 daily trades, 0 exposure, or (daily loss) no loss.
    The live (in-play) limits only ever tighten the normal ones.
    """

    min_bet: Decimal
    max_bet: Decimal
    min_roi_pct: Decimal
    max_roi_pct: Decimal
    max_daily_trades: int
    max_daily_loss: Decimal
    min_platform_balance: Decimal
    max_exposure: Decimal
    cooldown_s: float
    max_quote_age_s: float
    max_depth_fraction: Decimal
    blacklist: frozenset[str] = frozenset()
    # The matcher's own floor for a tradable pair (matching.score.MIN_TRADABLE_CONFIDENCE);
    # its guards on dates, lines and sources do the real work, this only repeats it.
    min_confidence: float = 0.7
    live_max_quote_age_s: float = 2.0
    live_min_roi_pct: Decimal = Decimal(2)
    live_min_confidence: float = 0.9
    max_in_flight: int = 4  # executions under way at once
    max_daily_one_legged: int = 3  # one-legged results in a UTC day that trip the switch

    @classmethod
    def from_settings(cls, settings: Settings) -> RiskLimits:
        return cls(
            min_bet=settings.executor_min_bet,
            max_bet=settings.executor_max_bet,
            min_roi_pct=settings.executor_min_roi,
            max_roi_pct=settings.executor_max_roi,
            max_daily_trades=settings.executor_max_daily_trades,
            max_daily_loss=settings.executor_max_daily_loss,
            min_platform_balance=settings.executor_min_platform_balance,
            max_exposure=settings.executor_max_exposure,
            cooldown_s=settings.executor_cooldown_s,
            max_quote_age_s=settings.executor_max_quote_age_s,
            max_depth_fraction=settings.executor_max_depth_fraction,
            blacklist=settings.blacklist,
            live_min_roi_pct=max(settings.executor_min_roi * 2, Decimal(2)),
            max_in_flight=settings.executor_max_in_flight,
            max_daily_one_legged=settings.executor_daily_partial_limit,
        )

    def cooldown_end(self, at: datetime) -> datetime:
        """When an event traded (or failed) at ``at`` may be traded again."""
        return at + timedelta(seconds=self.cooldown_s)

    def max_quote_age(self, live: bool) -> float:
        return (
            min(self.live_max_quote_age_s, self.max_quote_age_s) if live else self.max_quote_age_s
        )

    def min_roi(self, live: bool) -> Decimal:
        return max(self.live_min_roi_pct, self.min_roi_pct) if live else self.min_roi_pct

    def confidence_floor(self, live: bool) -> float:
        return max(self.live_min_confidence, self.min_confidence) if live else self.min_confidence


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """The state a decision depends on, read by the engine just before ``check``.

    ``loss_today`` is positive for a loss. A venue missing from ``venues_up`` counts as
    down and one missing from ``balances`` as empty: unknown state never trades.
    """

    now: datetime
    trading_enabled: bool
    balances: Mapping[Venue, Decimal]
    venues_up: Mapping[Venue, bool]
    trades_today: int = 0
    loss_today: Decimal = ZERO
    open_exposure: Decimal = ZERO
    kill_reason: str = ""
    one_legged_today: int = 0  # executions of the UTC day that filled only some legs
    # What the executions in flight could still lose (all they pay): counted against
    # the daily loss limit until they end, as each may end one-legged.
    at_risk: Decimal = ZERO
    open_events: frozenset[str] = frozenset()  # events holding an open position
    in_flight_events: frozenset[str] = frozenset()  # events with an execution under way
    cooldown_until: Mapping[str, datetime] = field(default_factory=dict)  # by event
    blocked_events: frozenset[str] = frozenset()  # events with an EXPOSED execution
    blacklisted_pairs: Mapping[str, datetime] = field(default_factory=dict)  # pair -> until
    in_flight: int = 0  # executions under way
    # Orders each venue may still take now under its rate limit; a venue missing has no
    # known limit.
    order_capacity: Mapping[Venue, int] = field(default_factory=dict)
    # Venues that hold collateral per exchange shard (Kalshi): cash on each (venue,
    # shard), what executions in flight already hold there, and each leg's shard
    # (absent: 0). A venue without entries here is not checked per shard.
    shard_balances: Mapping[tuple[Venue, int], Decimal] = field(default_factory=dict)
    shard_held: Mapping[tuple[Venue, int], Decimal] = field(default_factory=dict)
    shard_of: Mapping[Contract, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RiskDecision:
    approved: bool
    code: str  # stable snake_case: "approved", "kill_switch", "roi_below_min"...
    reason: str = ""  # a sentence with the figures, for logs and the user


APPROVED = RiskDecision(approved=True, code="approved")


def _reject(code: str, reason: str) -> RiskDecision:
    return RiskDecision(approved=False, code=code, reason=reason)


def _usd(amount: Decimal) -> str:
    return f"${amount:.2f}"


def daily_loss_reached(loss_today: Decimal, limits: RiskLimits) -> bool:
    return loss_today > ZERO and loss_today >= limits.max_daily_loss


def trip_reason_after_loss(loss_today: Decimal, limits: RiskLimits) -> str | None:
    """The kill-switch reason once today's loss reaches the limit, else None.
    The engine persists the tripped switch; ``check`` also refuses while it holds."""
    if not daily_loss_reached(loss_today, limits):
        return None
    return (
        f"daily loss {_usd(loss_today)} reached EXECUTOR_MAX_DAILY_LOSS "
        f"{_usd(limits.max_daily_loss)}"
    )


def smallest_tradable_bet(min_contracts: Decimal, min_roi_pct: Decimal) -> Decimal:
    """The smallest EXECUTOR_MAX_BET that buys an arbitrage of ``min_contracts`` per leg
    (the largest venue minimum among its legs) at the minimum ROI, fees included.

    Any set of legs pays $1 per contract, so at ROI r it costs at most
    ``contracts / (1 + r/100)``; better arbitrages cost less. Rounded up to the cent.
    """
    cost = min_contracts * ONE / (ONE + min_roi_pct / HUNDRED)
    return cost.quantize(CENT, rounding=ROUND_CEILING)


def max_bet_warning(
    limits: RiskLimits, min_contracts: Decimal = POLYMARKET_MIN_SHARES
) -> str | None:
    """One line for start-up and ``check-config`` when EXECUTOR_MAX_BET is too small to
    ever trade (Polymarket's usual minimum is 5 shares and legs have equal counts)."""
    smallest = smallest_tradable_bet(min_contracts, limits.min_roi_pct)
    if limits.max_bet >= smallest:
        return None
    return (
        f"EXECUTOR_MAX_BET {_usd(limits.max_bet)} cannot buy an arbitrage of "
        f"{min_contracts} contracts per leg (the venue minimum); the smallest value that "
        f"can trade is {_usd(smallest)}"
    )


SHARD_UNFUNDED = "shard_unfunded"


def shard_needs(
    opp: Opportunity, shard_of: Mapping[Contract, int], sharded: Collection[Venue]
) -> dict[tuple[Venue, int], Decimal]:
    """What the legs on ``sharded`` venues need on each shard: the order's collateral
    at its limit price (the venue holds that much while it matches), plus its fee."""
    needs: dict[tuple[Venue, int], Decimal] = {}
    for leg in opp.legs:
        venue = leg.contract.venue
        if venue in sharded:
            key = (venue, shard_of.get(leg.contract, 0))
            needs[key] = needs.get(key, ZERO) + leg.price * leg.contracts + leg.fee
    return needs


def _needs(opp: Opportunity, snap: RiskSnapshot) -> dict[tuple[Venue, int], Decimal]:
    return shard_needs(opp, snap.shard_of, {venue for venue, _ in snap.shard_balances})


def shard_shortfalls(opp: Opportunity, snap: RiskSnapshot) -> dict[tuple[Venue, int], Decimal]:
    """The money missing on each shard the legs need, after what is already held there."""
    out: dict[tuple[Venue, int], Decimal] = {}
    for key, need in _needs(opp, snap).items():
        free = snap.shard_balances.get(key, ZERO) - snap.shard_held.get(key, ZERO)
        if free < need:
            out[key] = (need - free).quantize(CENT, rounding=ROUND_CEILING)
    return out


Depth = Mapping[Contract, Decimal] | None
Check = Callable[[Opportunity, RiskSnapshot, Depth], RiskDecision | None]


class RiskManager:
    """Approves an opportunity or names the first check it fails.

    ``rejections`` counts rejections by code since start; ``approvals`` counts approvals.
    """

    def __init__(self, limits: RiskLimits) -> None:
        self.rejections: Counter[str] = Counter()
        self.approvals = 0
        self.set_limits(limits)
        self._checks: tuple[Check, ...] = (
            self._kill_switch,
            self._venues_up,
            self._daily_limits,
            self._in_flight_limit,
            self._well_formed,
            self._blacklisted,
            self._flags,
            self._event_state,
            self._quote_age,
            self._roi_band,
            self._bet_size,
            self._venue_minimums,
            self._depth,
            self._exposure,
            self._balances,
            self._order_rate,
            self._shard_balances,
        )

    def set_limits(self, limits: RiskLimits) -> None:
        """From the next check on (limits and the blacklist changed at run time)."""
        self.limits = limits
        self._blacklist = frozenset(item.strip().lower() for item in limits.blacklist)

    def check(
        self,
        opp: Opportunity,
        snap: RiskSnapshot,
        depth: Mapping[Contract, Decimal] | None = None,
    ) -> RiskDecision:
        """``depth``: visible contracts at the levels each leg walked, by contract; when
        given, no leg may take more than ``max_depth_fraction`` of it."""
        for run in self._checks:
            decision = run(opp, snap, depth)
            if decision is not None:
                self.rejections[decision.code] += 1
                log.info(
                    "risk rejected %s: %s",
                    opp.pair_id,
                    decision.reason,
                    extra={"pair": opp.pair_id, "code": decision.code, "event": opp.event},
                )
                return decision
        self.approvals += 1
        return APPROVED

    # Global state

    def _kill_switch(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        if snap.trading_enabled:
            return None
        return _reject("kill_switch", f"trading is stopped: {snap.kill_reason or 'kill switch'}")

    def _venues_up(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        down = [v.value for v in opp.venues if not snap.venues_up.get(v, False)]
        if not down:
            return None
        return _reject("venue_down", f"venue down: {', '.join(down)}")

    def _daily_limits(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        lim = self.limits
        if snap.trades_today >= lim.max_daily_trades:
            return _reject(
                "daily_trades",
                f"{snap.trades_today} trades today, EXECUTOR_MAX_DAILY_TRADES is "
                f"{lim.max_daily_trades}",
            )
        reason = trip_reason_after_loss(snap.loss_today, lim)
        if reason:
            return _reject("daily_loss", reason)
        # Executions side by side must not pass a daily limit that one at a time could
        # only reach: each in flight counts as lost and as one-legged until it ends.
        if snap.in_flight and daily_loss_reached(snap.loss_today + snap.at_risk, lim):
            return _reject(
                "daily_loss",
                f"daily loss {_usd(snap.loss_today)} + {_usd(snap.at_risk)} at risk in"
                f" {snap.in_flight} executions in flight reaches EXECUTOR_MAX_DAILY_LOSS"
                f" {_usd(lim.max_daily_loss)}",
            )
        # After the limit was reached and trading turned on again: one at a time.
        room = max(1, lim.max_daily_one_legged - snap.one_legged_today)
        if snap.in_flight >= room:
            return _reject(
                "daily_one_legged",
                f"{snap.one_legged_today} one-legged results today and {snap.in_flight}"
                f" executions in flight (each may end one-legged):"
                f" EXECUTOR_DAILY_PARTIAL_LIMIT is {lim.max_daily_one_legged}",
            )
        return None

    def _in_flight_limit(
        self, opp: Opportunity, snap: RiskSnapshot, _: Depth
    ) -> RiskDecision | None:
        if snap.in_flight < self.limits.max_in_flight:
            return None
        return _reject(
            "in_flight_limit",
            f"{snap.in_flight} executions in flight, EXECUTOR_MAX_IN_FLIGHT is "
            f"{self.limits.max_in_flight}",
        )

    # The opportunity itself

    def _well_formed(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        amounts = [opp.contracts, opp.cost, opp.fees, opp.roi_pct]
        for leg in opp.legs:
            amounts += [leg.contracts, leg.cost, leg.fee, leg.price]
        problem = ""
        if not opp.legs:
            problem = "no legs"
        elif not all(a.is_finite() for a in amounts):
            problem = "a non-finite amount"
        elif opp.contracts <= ZERO or opp.cost <= ZERO or opp.fees < ZERO:
            problem = f"contracts {opp.contracts}, cost {opp.cost}, fees {opp.fees}"
        elif any(leg.contracts != opp.contracts for leg in opp.legs):
            problem = "unequal contract counts across legs"
        elif any(not ZERO < leg.price < ONE or leg.fee < ZERO for leg in opp.legs):
            problem = "a leg price outside (0, 1) or a negative fee"
        return (
            _reject("invalid_opportunity", f"malformed opportunity: {problem}") if problem else None
        )

    def _blacklisted(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        names = (opp.pair_id, opp.category, *opp.series)
        hit = next((n for n in names if n and n.strip().lower() in self._blacklist), None)
        if hit is not None:
            return _reject("blacklisted", f"{hit} is in EXECUTOR_BLACKLIST")
        until = snap.blacklisted_pairs.get(opp.pair_id)
        if until is not None and until > snap.now:
            return _reject(
                "pair_blacklisted",
                # Blocked by one-legged results, a resolution mismatch or a block on
                # its series: the event log holds which.
                f"pair {opp.pair_id} is blocked until {until.isoformat(timespec='seconds')}",
            )
        return None

    def _flags(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        if not opp.tradable:
            return _reject("not_tradable", f"pair not tradable: {opp.reason or 'flagged'}")
        if not opp.executable:
            return _reject("not_executable", f"not executable: {opp.reason or 'flagged'}")
        floor = self.limits.confidence_floor(opp.live)
        if opp.confidence < floor:
            kind = "live " if opp.live else ""
            return _reject(
                "low_confidence",
                f"confidence {opp.confidence:.2f} below the {kind}minimum {floor:.2f}",
            )
        return None

    # The event's state

    def _event_state(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        event = opp.event
        if event in snap.blocked_events:
            return _reject("event_exposed", f"event {event} has an EXPOSED execution")
        if event in snap.in_flight_events:
            return _reject("in_flight", f"event {event} already has an execution in flight")
        if event in snap.open_events:
            return _reject("duplicate_position", f"event {event} already has an open position")
        until = snap.cooldown_until.get(event)
        if until is not None and until > snap.now:
            left = (until - snap.now).total_seconds()
            return _reject(
                "cooldown",
                f"event {event} in cooldown for {left:.0f}s more "
                f"(EXECUTOR_COOLDOWN_S {self.limits.cooldown_s:g})",
            )
        return None

    # Prices and sizes

    def _quote_age(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        age = (snap.now - opp.quote_ts).total_seconds()
        limit = self.limits.max_quote_age(opp.live)
        if age <= limit:
            return None
        name = "live quote limit" if opp.live else "EXECUTOR_MAX_QUOTE_AGE_S"
        return _reject("stale_quote", f"quote {age:.1f}s old, {name} is {limit:g}s")

    def _roi_band(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        low = self.limits.min_roi(opp.live)
        if opp.roi_pct < low:
            name = "live minimum ROI" if opp.live else "EXECUTOR_MIN_ROI"
            return _reject("roi_below_min", f"ROI {opp.roi_pct:.2f}% below {name} {low}%")
        if opp.roi_pct > self.limits.max_roi_pct:
            return _reject(
                "roi_above_max",
                f"ROI {opp.roi_pct:.2f}% above EXECUTOR_MAX_ROI {self.limits.max_roi_pct}% "
                "(likely a stale or wrong quote)",
            )
        return None

    def _bet_size(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        stake = opp.cost + opp.fees
        if stake < self.limits.min_bet:
            return _reject(
                "bet_below_min",
                f"stake {_usd(stake)} below EXECUTOR_MIN_BET {_usd(self.limits.min_bet)}",
            )
        if stake > self.limits.max_bet:
            return _reject(
                "bet_above_max",
                f"stake {_usd(stake)} above EXECUTOR_MAX_BET {_usd(self.limits.max_bet)}",
            )
        return None

    def _venue_minimums(
        self, opp: Opportunity, snap: RiskSnapshot, _: Depth
    ) -> RiskDecision | None:
        for leg in opp.legs:
            if leg.contracts < leg.min_order_size:
                return _reject(
                    "below_venue_minimum",
                    f"{leg.contract.key} buys {leg.contracts} contracts, below the "
                    f"{leg.contract.venue.value} minimum {leg.min_order_size}",
                )
        return None

    def _depth(self, opp: Opportunity, snap: RiskSnapshot, depth: Depth) -> RiskDecision | None:
        if depth is None:
            return None
        fraction = self.limits.max_depth_fraction
        for leg in opp.legs:
            visible = depth.get(leg.contract, ZERO)
            if leg.contracts > visible * fraction:
                return _reject(
                    "depth_fraction",
                    f"{leg.contract.key} takes {leg.contracts} of {visible} visible contracts, "
                    f"above EXECUTOR_MAX_DEPTH_FRACTION {fraction}",
                )
        return None

    # Money committed

    def _exposure(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        after = snap.open_exposure + opp.cost + opp.fees
        if after <= self.limits.max_exposure:
            return None
        return _reject(
            "exposure_cap",
            f"open exposure {_usd(snap.open_exposure)} + {_usd(opp.cost + opp.fees)} = "
            f"{_usd(after)} above EXECUTOR_MAX_EXPOSURE {_usd(self.limits.max_exposure)}",
        )

    def _balances(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        floor = self.limits.min_platform_balance
        for venue in opp.venues:
            legs = sum(
                (leg.cost + leg.fee for leg in opp.legs if leg.contract.venue is venue), ZERO
            )
            have = snap.balances.get(venue, ZERO)
            if have < legs + floor:
                return _reject(
                    "insufficient_balance",
                    f"{venue.value} balance {_usd(have)} below {_usd(legs)} for the legs + "
                    f"EXECUTOR_MIN_PLATFORM_BALANCE {_usd(floor)}",
                )
        return None

    def _order_rate(self, opp: Opportunity, snap: RiskSnapshot, _: Depth) -> RiskDecision | None:
        for venue in opp.venues:
            free = snap.order_capacity.get(venue)
            if free is None:
                continue  # no rate known for this venue
            legs = sum(1 for leg in opp.legs if leg.contract.venue is venue)
            if free < legs:
                return _reject(
                    "order_rate",
                    f"{venue.value} order rate limit: {legs} orders needed, {free} free now",
                )
        return None

    def _shard_balances(
        self, opp: Opportunity, snap: RiskSnapshot, _: Depth
    ) -> RiskDecision | None:
        short = shard_shortfalls(opp, snap)
        if not short:
            return None
        (venue, shard), missing = next(iter(sorted(short.items())))
        key = (venue, shard)
        have, held = snap.shard_balances.get(key, ZERO), snap.shard_held.get(key, ZERO)
        held_text = f" ({_usd(held)} of it held by executions in flight)" if held else ""
        return _reject(
            SHARD_UNFUNDED,
            f"{venue.value} exchange shard {shard} has {_usd(have)}{held_text}, the legs "
            f"there need {_usd(_needs(opp, snap)[key])}: move {_usd(missing)} to "
            f"shard {shard}",
        )
