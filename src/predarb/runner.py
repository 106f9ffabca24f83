"""What each CLI command runs: the application (built by ``app``) started on a mode's
store and venues, run, and taken down cleanly; and the one-shot commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from predarb import reports
from predarb.app import build, keep_paper_ledgers, make_matcher
from predarb.config import Settings
from predarb.domain import Market, Opportunity, Pair, Venue
from predarb.engine import Engine
from predarb.errors import ConfigError, PredarbError, StartupFailure, UsageProblem
from predarb.modes import Mode, build_demo_venues, build_market_venues, demo_settings
from predarb.notify.messages import money
from predarb.risk import RiskLimits, max_bet_warning
from predarb.store import Store
from predarb.venues.base import AuthError, VenueClient, VenueError

if TYPE_CHECKING:
    import socket

    from predarb.web import Access

log = logging.getLogger(__name__)


class StopRequest:
    """Set by a stop signal (SIGINT, SIGTERM, SIGHUP), at any moment of the command: what
    is running then, or starts later, is told to stop, once."""

    def __init__(self) -> None:
        self.is_set = False
        self._listeners: list[Callable[[], None]] = []

    def set(self) -> None:
        first = not self.is_set
        self.is_set = True
        if first:
            for listener in self._listeners:
                listener()

    def when_set(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)
        if self.is_set:
            listener()


def _say(text: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {text}", flush=True)


async def run_engine(
    settings: Settings,
    mode: Mode,
    venues: dict[Venue, VenueClient],
    *,
    duration_s: float | None,
    say: Callable[[str], None] | None,
    echo_alerts: bool,
    stop: StopRequest | None = None,
    rematch_interval_s: float = 900.0,
) -> tuple[Engine, Store]:
    """The engine on this mode's database until ``stop`` (or ``duration_s``); the store
    is returned open. Whatever fails, it is closed first: its thread would keep the
    process alive, and a failed start must end the process (systemd restarts it)."""
    from predarb import web

    served = web.prepare(settings)  # the port is bound before anything else is touched
    try:
        # The database's lock is held from here to the end (one bot per database).
        store = await Store.open(settings.predarb_db_path)
    except BaseException:
        if served is not None:
            served[1].close()
        raise
    try:
        engine = await _run_on(
            store,
            settings,
            mode,
            venues,
            served,
            duration_s=duration_s,
            say=say,
            echo_alerts=echo_alerts,
            stop=stop or StopRequest(),
            rematch_interval_s=rematch_interval_s,
        )
    except BaseException:
        await store.close()
        if served is not None:
            served[1].close()
        raise
    return engine, store


async def _run_on(
    store: Store,
    settings: Settings,
    mode: Mode,
    venues: dict[Venue, VenueClient],
    served: tuple[Access, socket.socket] | None,
    *,
    duration_s: float | None,
    say: Callable[[str], None] | None,
    echo_alerts: bool,
    stop: StopRequest,
    rematch_interval_s: float,
) -> Engine:
    # The database is this mode's alone (a paper run never counts toward live limits).
    await store.claim_mode(mode.value, datetime.now(UTC))
    app = await build(
        store,
        settings,
        mode,
        venues,
        served,
        say=say,
        echo_alerts=echo_alerts,
        rematch_interval_s=rematch_interval_s,
    )
    engine, dashboard, settings = app.engine, app.dashboard, app.settings
    await _remember_limits(store, settings)
    warning = max_bet_warning(RiskLimits.from_settings(settings))
    if warning:
        (say or log.warning)(warning)
    stop.when_set(engine.stop)
    try:
        if stop.is_set:  # asked to stop while the database was being opened
            return engine
        try:
            if dashboard is not None:
                await dashboard.start()
            await engine.start()
        except (PredarbError, AuthError):
            raise
        except Exception as exc:
            log.exception("start failed")
            raise StartupFailure(f"could not start: {type(exc).__name__}: {exc}") from exc
        await engine.run(duration_s=duration_s)
        try:
            await engine.settle()
        except Exception:
            log.exception("settlement at shutdown failed; the next start retries it")
    finally:
        await engine.shutdown()
        if dashboard is not None:
            await dashboard.close()
    return engine


async def _remember_limits(store: Store, settings: Settings) -> None:
    now = datetime.now(UTC)
    await store.set_state(reports.LIMIT_DAILY_TRADES, str(settings.executor_max_daily_trades), now)
    await store.set_state(reports.LIMIT_DAILY_LOSS, str(settings.executor_max_daily_loss), now)


async def run_demo(
    settings: Settings,
    *,
    duration_s: float,
    seed: int,
    stop: StopRequest | None = None,
    log_note: Callable[[], str] = str,
    command: str = "predarb",
) -> None:
    """The demo: its story on stdout and a summary at the end (after a stop signal
    too). ``log_note`` says where the log went; ``command`` is how the user runs predarb."""
    settings, notes = demo_settings(settings)
    names = " and ".join(
        {Venue.POLYMARKET: "Polymarket", Venue.POLYMARKET_US: "Polymarket US"}[v]
        for v in settings.polymarket_venues
    )
    _say(f"predarb demo: simulated Kalshi and {names}, seed {seed}, {duration_s:g} s")
    if notes:
        _say("demo limits (set them to override): " + ", ".join(notes))
    # Events resolve within the run, so that settlements show too.
    venues = build_demo_venues(
        seed,
        resolve_after_s=max(3.0, duration_s * 0.7),
        polymarkets=settings.polymarket_venues,
    )
    # The simulator lists new events as old ones resolve: match them every few seconds.
    engine, store = await run_engine(
        settings,
        Mode.DEMO,
        venues,
        duration_s=duration_s,
        say=_say,
        echo_alerts=True,
        stop=stop,
        rematch_interval_s=5.0,
    )
    try:
        report = await reports.pnl(store, datetime.now(UTC))
        rejections = await store.rejection_counts(datetime.min.replace(tzinfo=UTC))
    finally:
        await store.close()
    s = engine.stats
    w = report.all_time
    print("\n=== demo summary ===")
    print(f"scans {s.scans}, opportunities {s.opportunities}, approved {s.approved}")
    by_status = ", ".join(f"{k} {v}" for k, v in sorted(s.executions.items())) or "none"
    print(f"executions this run: {by_status}")
    top = sorted(rejections.items(), key=lambda kv: -kv[1])[:5]
    if top:
        print("rejections: " + ", ".join(f"{code} {n}" for code, n in top))
    roi = f"{w.roi_pct}%" if w.roi_pct is not None else "n/a"
    win = f"{w.win_rate_pct}%" if w.win_rate_pct is not None else "n/a"
    print(
        f"P&L (all time, database {settings.predarb_db_path}): realized {money(w.realized)}"
        f" on {w.settled} settled, ROI {roi}, win rate {win}, fees {money(w.fees)},"
        f" expected on open {money(w.expected_open)}"
    )
    note = log_note()
    if note:
        print(note)
    print(f"see it again with: {command} pnl (or status, trades)", flush=True)


async def run_bot(settings: Settings, *, live: bool, stop: StopRequest | None = None) -> None:
    mode = Mode.LIVE if live else Mode.PAPER
    venues = build_market_venues(settings, mode)
    if mode is Mode.LIVE:
        await prove_keys(venues)
    log.warning("predarb %s starting", mode.value)
    _, store = await run_engine(
        settings, mode, venues, duration_s=None, say=None, echo_alerts=False, stop=stop
    )
    await store.close()
    log.warning("predarb stopped cleanly")


async def unwind_offline(
    settings: Settings, execution_id: str, *, confirm: Callable[[str], bool]
) -> tuple[bool, str]:
    """``predarb unwind``: sell an execution's holdings back, as ``/unwind`` does, while
    no bot runs on the database (opening it for writing takes its lock, else
    ``DatabaseInUse``). ``confirm`` is asked with what would be sold before anything is
    sent. Returns (everything sold back, one line); ``UsageProblem`` when there is
    nothing it may sell (no such execution, settled, holding nothing). The venues are
    the database's mode's (a paper database sells from its paper ledger); the limits
    changed at run time apply (``EXECUTOR_UNWIND_STEPS``). The next start of the bot
    reads the balances."""
    from predarb.control import utcnow
    from predarb.execution.hedging import HedgePolicy
    from predarb.execution.manual_unwind import holding_text, refusal, unwind_execution
    from predarb.execution.placer import Placer
    from predarb.runtime_settings import RuntimeSettings
    from predarb.store.state import MODE_KEY

    store = await Store.open(settings.predarb_db_path)
    try:
        ex = await store.execution(execution_id)
        why = refusal(ex)
        if ex is None or why:
            raise UsageProblem(f"{execution_id} cannot be unwound: {why}")
        mode = await store.get_state(MODE_KEY, ex.mode)
        if mode == Mode.DEMO.value:
            raise UsageProblem(f"{execution_id} cannot be unwound: a demo's venues end with it")
        settings = await RuntimeSettings(store, settings, utcnow).load()
        steps = settings.executor_unwind_steps
        question = (
            f"Unwind {ex.id} ({ex.event}, {mode})? Sells back {holding_text(ex)} at the bids"
            f" now, in up to {steps} price steps."
        )
        if not confirm(question):
            return False, "Cancelled: nothing sent."
        venues = build_market_venues(settings, Mode(mode))
        try:
            keep_paper_ledgers(settings, venues)
            for client in venues.values():
                await client.connect()
            placer = Placer(store, venues, mode=mode, clock=utcnow)
            result = await unwind_execution(placer, ex.id, HedgePolicy.from_settings(settings))
        finally:
            await _close_all(venues)
        return result.done, f"{ex.id}: {result.text}"
    finally:
        await store.close()


KEY_VARIABLE = {
    Venue.KALSHI: "KALSHI_API_KEY_ID",
    Venue.POLYMARKET: "POLY_PRIVATE_KEY",
    Venue.POLYMARKET_US: "POLY_US_KEY_ID",
}


async def prove_keys(venues: dict[Venue, VenueClient]) -> None:
    """``--live`` starts only with keys each venue accepts (an authenticated balance
    read); otherwise one line naming the variable, and nothing is traded."""
    for venue, client in venues.items():
        try:
            await client.connect()
            balance = await client.get_balance()
        except BaseException as exc:
            await _close_all(venues)
            if isinstance(exc, AuthError):
                raise ConfigError(
                    KEY_VARIABLE[venue], f"{venue.value} refused the keys: {exc.message}"
                ) from None
            if isinstance(exc, VenueError):
                raise ConfigError(
                    KEY_VARIABLE[venue],
                    f"{venue.value} could not be reached to prove the keys ({exc.message});"
                    " not starting --live",
                ) from None
            raise
        log.warning("%s keys accepted, balance $%.2f", venue.value, balance)


async def _close_all(venues: dict[Venue, VenueClient]) -> None:
    for client in venues.values():
        await client.close()


async def _listed(venues: dict[Venue, VenueClient]) -> dict[Venue, list[Market]]:
    results = await asyncio.gather(*(v.list_markets() for v in venues.values()))
    return dict(zip(venues, results, strict=True))


async def _answers(settings: Settings) -> dict[str, bool]:
    """The pair reviews answered from the chat, read beside a running bot (none when
    there is no database yet)."""
    from predarb.store import StoreError
    from predarb.store.pair_reviews import PairReviews

    try:
        store = await Store.open(settings.predarb_db_path, readonly=True)
    except StoreError:
        return {}
    try:
        return await PairReviews(store).answers()
    finally:
        await store.close()


async def match_once(settings: Settings) -> list[Pair]:
    from predarb.matching.matcher import match_venues
    from predarb.matching.review import apply_answers

    venues = build_market_venues(settings, Mode.PAPER)
    try:
        listed = await _listed(venues)
        pairs = match_venues(make_matcher(settings), listed)
        return apply_answers(pairs, await _answers(settings))
    finally:
        for v in venues.values():
            await v.close()


async def scan_once(settings: Settings) -> list[Opportunity]:
    """Fetch, match and price once; nothing is placed and nothing is written."""
    from predarb.arbitrage.calculator import CalcParams
    from predarb.engine import fetch_books, price_pairs
    from predarb.matching.matcher import match_venues
    from predarb.matching.review import apply_answers

    venues = build_market_venues(settings, Mode.PAPER)
    try:
        listed = await _listed(venues)
        pairs = match_venues(make_matcher(settings), listed)
        pairs = apply_answers(pairs, await _answers(settings))
        markets = {c: m for ms in listed.values() for m in ms for c in m.contracts}
        books = await fetch_books(venues, [p for p in pairs if p.exhaustive])
        params = CalcParams(
            max_cost=settings.executor_max_bet, depth_fraction=settings.executor_max_depth_fraction
        )
        return price_pairs(pairs, books, markets, params, datetime.now(UTC))
    finally:
        for v in venues.values():
            await v.close()


async def check_configuration(settings: Settings) -> tuple[list[str], bool]:
    """One line per check; keys that are set are proven against the venues."""
    from predarb.checks import run_checks

    lines, ok = await run_checks(settings)
    warning = max_bet_warning(RiskLimits.from_settings(settings))
    if warning:
        lines.append(f"WARN executor: {warning}")
    return lines, ok
