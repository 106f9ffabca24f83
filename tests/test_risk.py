"""Risk manager: each pre-trade check, approvals, the order of the checks, helpers."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from predarb.config import Settings
from predarb.domain import ArbKind, Contract, Leg, Opportunity, Venue
from predarb.risk import (
    RiskLimits,
    RiskManager,
    RiskSnapshot,
    max_bet_warning,
    smallest_tradable_bet,
    trip_reason_after_loss,
)

D = Decimal
NOW = datetime(2026, 11, 22, 18, 0, 0, tzinfo=UTC)
K_YES = Contract(Venue.KALSHI, "KXNBAGAME-26NOV22LALBOS-LAL", "yes")
P_NO = Contract(Venue.POLYMARKET, "512345", "No", token_id="7123")


def make_limits(**overrides: Any) -> RiskLimits:
    base = RiskLimits(
        min_bet=D("1.0"),
        max_bet=D("10.0"),
        min_roi_pct=D("1.0"),
        max_roi_pct=D("50.0"),
        max_daily_trades=50,
        max_daily_loss=D("5.0"),
        min_platform_balance=D("1.0"),
        max_exposure=D("100.0"),
        cooldown_s=60,
        max_quote_age_s=5,
        max_depth_fraction=D("0.5"),
        blacklist=frozenset({"kxnfl", "weather", "pair-banned"}),
    )
    return replace(base, **overrides)


def make_opp(**overrides: Any) -> Opportunity:
    """Kalshi YES at 0.45 + Polymarket NO at 0.50, 5 contracts each: cost $4.75,
    fees $0.05, payout $5, profit $0.20, ROI 4.17%."""
    contracts = D(5)
    legs = (
        Leg(K_YES, "LAL", D("0.45"), contracts, D("2.25"), D("0.03")),
        Leg(P_NO, "BOS", D("0.50"), contracts, D("2.50"), D("0.02"), min_order_size=D(5)),
    )
    base = Opportunity(
        pair_id="pair-lal-bos",
        kind=ArbKind.YES_NO,
        event="nba-2026-11-22-lal-bos",
        legs=legs,
        contracts=contracts,
        cost=D("4.75"),
        fees=D("0.05"),
        payout=D(5),
        profit=D("0.20"),
        roi_pct=D("4.1667"),
        quote_ts=NOW - timedelta(seconds=1),
        series=("KXNBAGAME", "nba"),
        category="Sports",
    )
    return replace(base, **overrides)


def make_snap(**overrides: Any) -> RiskSnapshot:
    base = RiskSnapshot(
        now=NOW,
        trading_enabled=True,
        balances={Venue.KALSHI: D(50), Venue.POLYMARKET: D(50)},
        venues_up={Venue.KALSHI: True, Venue.POLYMARKET: True},
    )
    return replace(base, **overrides)


def check(opp: Opportunity | None = None, snap: RiskSnapshot | None = None, **limits: Any) -> Any:
    return RiskManager(make_limits(**limits)).check(opp or make_opp(), snap or make_snap())


def assert_rejected(decision: Any, code: str, *figures: str) -> None:
    assert not decision.approved
    assert decision.code == code, decision
    for figure in figures:
        assert figure in decision.reason, (figure, decision.reason)


# Approvals


def test_clean_opportunity_is_approved_and_counted() -> None:
    risk = RiskManager(make_limits())
    decision = risk.check(make_opp(), make_snap(), depth={K_YES: D(20), P_NO: D(10)})
    assert decision.approved
    assert decision.code == "approved"
    assert risk.approvals == 1
    assert not risk.rejections


def test_limits_at_their_edges_still_approve() -> None:
    opp = make_opp(roi_pct=D("1.0"), quote_ts=NOW - timedelta(seconds=5))
    snap = make_snap(
        trades_today=49,
        loss_today=D("4.99"),
        open_exposure=D("95.20"),
        # legs on Kalshi cost 2.25 + 0.03 fee, plus the $1 floor
        balances={Venue.KALSHI: D("3.28"), Venue.POLYMARKET: D("3.52")},
    )
    assert check(opp, snap, max_bet=D("4.80"), min_bet=D("4.80")).approved


# Global checks


def test_kill_switch_rejects_with_its_reason() -> None:
    snap = make_snap(trading_enabled=False, kill_reason="stopped from Telegram")
    assert_rejected(check(snap=snap), "kill_switch", "stopped from Telegram")


@pytest.mark.parametrize(
    "venues_up",
    [{Venue.KALSHI: True, Venue.POLYMARKET: False}, {Venue.KALSHI: True}],
    ids=["marked-down", "unknown"],
)
def test_venue_down_or_unknown_gets_no_execution(venues_up: dict[Venue, bool]) -> None:
    assert_rejected(check(snap=make_snap(venues_up=venues_up)), "venue_down", "polymarket")


def test_daily_trade_count() -> None:
    assert_rejected(check(snap=make_snap(trades_today=50)), "daily_trades", "50")


def test_daily_loss_reached() -> None:
    decision = check(snap=make_snap(loss_today=D("5.20")))
    assert_rejected(decision, "daily_loss", "$5.20", "$5.00")


def test_executions_in_flight_count_as_lost_against_the_daily_loss() -> None:
    """$2 lost today, $3.10 paid by the one execution in flight: were it lost, the
    day would reach $5; a second one waits. Alone, a new one may start (as one at a
    time could)."""
    in_flight = make_snap(loss_today=D(2), at_risk=D("3.10"), in_flight=1)
    assert_rejected(check(snap=in_flight), "daily_loss", "$2.00", "$3.10", "1 executions")
    assert check(snap=replace(in_flight, at_risk=D("2.99"))).approved
    assert check(snap=make_snap(loss_today=D("4.99"))).approved


@pytest.mark.parametrize(
    ("one_legged", "in_flight", "approved"),
    [(0, 2, True), (0, 3, False), (2, 1, False), (2, 0, True), (3, 0, True), (5, 1, False)],
)
def test_executions_in_flight_count_as_one_legged_against_the_daily_limit(
    one_legged: int, in_flight: int, approved: bool
) -> None:
    """EXECUTOR_DAILY_PARTIAL_LIMIT 3: never more in flight than one-legged results
    left before it, and once it is reached (trading turned on again after the trip),
    one at a time."""
    snap = make_snap(one_legged_today=one_legged, in_flight=in_flight)
    decision = check(snap=snap, max_daily_one_legged=3, max_in_flight=10)
    if approved:
        assert decision.approved
    else:
        assert_rejected(decision, "daily_one_legged", f"{one_legged} one-legged", "LIMIT is 3")


# The opportunity itself


@pytest.mark.parametrize(
    "overrides",
    [
        {"legs": ()},
        {"cost": D("NaN")},
        {"contracts": D(6)},
        {"legs": (make_opp().legs[0], replace(make_opp().legs[1], price=D("1.2")))},
    ],
    ids=["no-legs", "nan", "unequal-counts", "price-above-1"],
)
def test_malformed_opportunity(overrides: dict[str, Any]) -> None:
    assert_rejected(check(make_opp(**overrides)), "invalid_opportunity")


@pytest.mark.parametrize(
    ("overrides", "figure"),
    [
        ({"pair_id": "PAIR-BANNED"}, "PAIR-BANNED"),
        ({"series": ("KXNFL",)}, "KXNFL"),
        ({"category": "Weather"}, "Weather"),
    ],
    ids=["pair", "series", "category"],
)
def test_blacklist_by_pair_series_or_category(overrides: dict[str, Any], figure: str) -> None:
    assert_rejected(check(make_opp(**overrides)), "blacklisted", figure, "EXECUTOR_BLACKLIST")


def test_pair_blacklisted_after_one_legged_results_until_expiry() -> None:
    until = NOW + timedelta(minutes=30)
    snap = make_snap(blacklisted_pairs={"pair-lal-bos": until})
    assert_rejected(check(snap=snap), "pair_blacklisted", "2026-11-22T18:30:00")
    assert check(make_opp(quote_ts=until), replace(snap, now=until)).approved


def test_not_tradable_pair() -> None:
    opp = make_opp(tradable=False, reason="rules may differ")
    assert_rejected(check(opp), "not_tradable", "rules may differ")


def test_not_executable_opportunity() -> None:
    opp = make_opp(executable=False, reason="suspended in play")
    assert_rejected(check(opp), "not_executable", "suspended in play")


def test_low_confidence() -> None:
    assert_rejected(check(make_opp(confidence=0.65)), "low_confidence", "0.65", "0.70")


def test_live_confidence_is_stricter() -> None:
    assert check(make_opp(confidence=0.85)).approved
    decision = check(make_opp(confidence=0.85, live=True, roi_pct=D(3)))
    assert_rejected(decision, "low_confidence", "0.85", "live", "0.90")


# The event's state


def test_event_with_exposed_execution_is_blocked() -> None:
    snap = make_snap(blocked_events=frozenset({"nba-2026-11-22-lal-bos"}))
    assert_rejected(check(snap=snap), "event_exposed", "nba-2026-11-22-lal-bos")


def test_one_execution_in_flight_per_event() -> None:
    snap = make_snap(in_flight_events=frozenset({"nba-2026-11-22-lal-bos"}))
    assert_rejected(check(snap=snap), "in_flight")


def test_duplicate_position_on_same_event() -> None:
    snap = make_snap(open_events=frozenset({"nba-2026-11-22-lal-bos"}))
    assert_rejected(check(snap=snap), "duplicate_position")


def test_cooldown_until_it_expires() -> None:
    limits = make_limits()
    until = limits.cooldown_end(NOW - timedelta(seconds=15))
    snap = make_snap(cooldown_until={"nba-2026-11-22-lal-bos": until})
    assert_rejected(check(snap=snap), "cooldown", "45s", "60")
    assert check(make_opp(quote_ts=until), replace(snap, now=until)).approved


# Prices and sizes


def test_stale_quote() -> None:
    opp = make_opp(quote_ts=NOW - timedelta(seconds=6))
    assert_rejected(check(opp), "stale_quote", "6.0s", "EXECUTOR_MAX_QUOTE_AGE_S", "5s")


def test_live_quote_of_three_seconds_is_stale_when_normal_one_is_not() -> None:
    three_s = NOW - timedelta(seconds=3)
    assert check(make_opp(quote_ts=three_s)).approved
    decision = check(make_opp(quote_ts=three_s, live=True))
    assert_rejected(decision, "stale_quote", "3.0s", "2s")


def test_roi_below_min_names_the_figures() -> None:
    decision = check(make_opp(roi_pct=D("0.62")))
    assert_rejected(decision, "roi_below_min", "ROI 0.62% below EXECUTOR_MIN_ROI 1.0%")


def test_live_roi_band_is_stricter() -> None:
    assert check(make_opp(roi_pct=D("1.5"))).approved
    decision = check(make_opp(roi_pct=D("1.5"), live=True))
    assert_rejected(decision, "roi_below_min", "1.50%", "live", "2%")


def test_roi_above_max() -> None:
    assert_rejected(check(make_opp(roi_pct=D(80))), "roi_above_max", "80.00%", "50.0%")


def test_bet_below_min() -> None:
    decision = check(min_bet=D(5))
    assert_rejected(decision, "bet_below_min", "$4.80", "$5.00")


def test_bet_above_max() -> None:
    decision = check(max_bet=D(2))
    assert_rejected(decision, "bet_above_max", "$4.80", "$2.00")


def test_leg_below_venue_minimum() -> None:
    opp = make_opp()
    small = [replace(leg, contracts=D(3)) for leg in opp.legs]
    opp = replace(opp, legs=tuple(small), contracts=D(3), cost=D("2.85"), fees=D("0.03"))
    assert_rejected(check(opp), "below_venue_minimum", "polymarket", "3", "5")


def test_depth_fraction() -> None:
    risk = RiskManager(make_limits())
    thin = risk.check(make_opp(), make_snap(), depth={K_YES: D(20), P_NO: D(8)})
    assert_rejected(thin, "depth_fraction", P_NO.key, "5 of 8", "0.5")
    missing = risk.check(make_opp(), make_snap(), depth={K_YES: D(20)})
    assert_rejected(missing, "depth_fraction", "5 of 0")
    assert risk.check(make_opp(), make_snap(), depth=None).approved


# Money committed


def test_exposure_cap_includes_the_new_cost() -> None:
    assert check(snap=make_snap(open_exposure=D("95.20"))).approved
    decision = check(snap=make_snap(open_exposure=D("95.21")))
    assert_rejected(decision, "exposure_cap", "$95.21", "$4.80", "$100.01", "$100.00")


def test_balance_needs_legs_on_that_venue_plus_platform_minimum() -> None:
    # Polymarket leg: 2.50 + 0.02 fee + 1.00 floor = 3.52
    snap = make_snap(balances={Venue.KALSHI: D(50), Venue.POLYMARKET: D("3.51")})
    decision = check(snap=snap)
    assert_rejected(decision, "insufficient_balance", "polymarket", "$3.51", "$2.52", "$1.00")
    unknown = make_snap(balances={Venue.POLYMARKET: D(50)})
    assert_rejected(check(snap=unknown), "insufficient_balance", "kalshi", "$0.00")


# Order of the checks, counting and logging


def test_checks_run_in_documented_order() -> None:
    """Start with everything wrong, fix the first failing check each time."""
    event = "nba-2026-11-22-lal-bos"
    opp = make_opp(
        pair_id="pair-banned",
        tradable=False,
        confidence=0.5,
        quote_ts=NOW - timedelta(seconds=30),
        roi_pct=D("0.5"),
    )
    snap = make_snap(
        trading_enabled=False,
        venues_up={Venue.KALSHI: False},
        trades_today=99,
        blocked_events=frozenset({event}),
        open_events=frozenset({event}),
        open_exposure=D(99),
        balances={},
    )
    limits: dict[str, Any] = {"max_bet": D(1), "max_depth_fraction": D("0.1")}
    depth = {K_YES: D(20), P_NO: D(20)}
    fixes: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
        ("kill_switch", {}, {"trading_enabled": True}, {}),
        ("venue_down", {}, {"venues_up": make_snap().venues_up}, {}),
        ("daily_trades", {}, {"trades_today": 0}, {}),
        ("blacklisted", {"pair_id": "pair-ok"}, {}, {}),
        ("not_tradable", {"tradable": True}, {}, {}),
        ("low_confidence", {"confidence": 1.0}, {}, {}),
        ("event_exposed", {}, {"blocked_events": frozenset()}, {}),
        ("duplicate_position", {}, {"open_events": frozenset()}, {}),
        ("stale_quote", {"quote_ts": NOW}, {}, {}),
        ("roi_below_min", {"roi_pct": D(4)}, {}, {}),
        ("bet_above_max", {}, {}, {"max_bet": D(10)}),
        ("depth_fraction", {}, {}, {"max_depth_fraction": D("0.5")}),
        ("exposure_cap", {}, {"open_exposure": D(0)}, {}),
        ("insufficient_balance", {}, {"balances": make_snap().balances}, {}),
    ]
    for code, opp_fix, snap_fix, limit_fix in fixes:
        decision = RiskManager(make_limits(**limits)).check(opp, snap, depth)
        assert decision.code == code
        opp, snap = replace(opp, **opp_fix), replace(snap, **snap_fix)
        limits |= limit_fix
    assert RiskManager(make_limits(**limits)).check(opp, snap, depth).approved


def test_rejections_are_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    risk = RiskManager(make_limits())
    caplog.set_level(logging.INFO, logger="predarb.risk")
    for _ in range(2):
        risk.check(make_opp(roi_pct=D("0.2")), make_snap())
    risk.check(make_opp(), make_snap(trading_enabled=False))
    assert risk.rejections == {"roi_below_min": 2, "kill_switch": 1}
    record = caplog.records[0]
    assert record.levelno == logging.INFO
    assert record.__dict__["pair"] == "pair-lal-bos"
    assert record.__dict__["code"] == "roi_below_min"
    assert "ROI 0.20%" in record.getMessage()


# Helpers


def test_limits_from_settings() -> None:
    settings = Settings(_env_file=None, executor_min_roi=D(3), executor_blacklist="NBA, kxnfl")
    limits = RiskLimits.from_settings(settings)
    assert limits.min_roi_pct == D(3)
    assert limits.live_min_roi_pct == D(6)
    assert limits.blacklist == frozenset({"nba", "kxnfl"})
    assert limits.max_bet == D("2.0")
    assert limits.max_daily_one_legged == settings.executor_daily_partial_limit
    assert RiskLimits.from_settings(Settings(_env_file=None)).live_min_roi_pct == D(2)


def test_blacklist_from_settings_matches_case_insensitively() -> None:
    limits = RiskLimits.from_settings(Settings(_env_file=None, executor_blacklist="NBA"))
    limits = replace(limits, max_bet=D(10))
    assert_rejected(RiskManager(limits).check(make_opp(), make_snap()), "blacklisted", "nba")


def test_smallest_tradable_bet() -> None:
    assert smallest_tradable_bet(D(5), D(0)) == D("5.00")
    assert smallest_tradable_bet(D(5), D(1)) == D("4.96")  # 5 / 1.01 = 4.9505, rounded up
    assert smallest_tradable_bet(D(1), D(1)) == D("1.00")


def test_max_bet_warning() -> None:
    warning = max_bet_warning(make_limits(max_bet=D(2)))
    assert warning is not None
    assert "EXECUTOR_MAX_BET $2.00" in warning
    assert "$4.96" in warning
    assert "\n" not in warning
    assert max_bet_warning(make_limits(max_bet=D("4.96"))) is None
    assert max_bet_warning(make_limits(max_bet=D(2)), min_contracts=D(1)) is None


def test_trip_reason_after_loss() -> None:
    limits = make_limits()
    assert trip_reason_after_loss(D("4.99"), limits) is None
    reason = trip_reason_after_loss(D("5.00"), limits)
    assert reason is not None
    assert "$5.00" in reason
    assert "EXECUTOR_MAX_DAILY_LOSS" in reason
    strict = make_limits(max_daily_loss=D(0))
    assert trip_reason_after_loss(D(0), strict) is None
    assert trip_reason_after_loss(D("0.01"), strict) is not None
