"""The engine: venues -> matcher -> calculator -> risk -> placer -> store, on a loop,
with the scheduled jobs (settlement, balances, daily summary, re-matching).

One asyncio loop runs everything. The trading core never waits on a notifier: alerts
go to ``Notifier.send``, which must return at once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from predarb import reports
from predarb.arbitrage.calculator import CalcParams, find_opportunities
from predarb.arbitrage.live import LiveConfirmation
from predarb.capital.advice import advise_once
from predarb.capital.jobs import build_returner
from predarb.config import Settings
from predarb.control import Control, utcnow
from predarb.domain import (
    Contract,
    ExecutionStatus,
    FeeSchedule,
    Market,
    Opportunity,
    OrderBook,
    Pair,
    Venue,
)
from predarb.events import (
    HALT_STOPPING,
    BalanceChanged,
    CooldownEnded,
    DayStarted,
    Event,
    EventBus,
    ExecutionFinished,
    ExecutionOutcome,
    KillSwitchChanged,
    OrderSlotsFreed,
    PairUnblocked,
    PositionsSettled,
    ShardBalanceChanged,
    TradingResumed,
    VenueBack,
)
from predarb.execution.hedging import HedgePolicy
from predarb.execution.partial import resolve_partial
from predarb.execution.placer import Placement, Placer
from predarb.execution.recovery import announce_recovered, recover
from predarb.execution.unknown import UnknownOrders, unknown_orders
from predarb.funding import ShardFunder, ShardTransfers
from predarb.marketdata import BookCache, MarketFeeds
from predarb.notify import messages
from predarb.notify.base import Alert, AlertKind, Notifier
from predarb.post_trade import ONE_LEGGED, Balances
from predarb.reconcile import Reconciler
from predarb.reservations import Reservation, spent_by_venue
from predarb.risk import (
    SHARD_UNFUNDED,
    RiskDecision,
    RiskLimits,
    RiskManager,
    RiskSnapshot,
    shard_needs,
    shard_shortfalls,
)
from predarb.safety import EngineSafety
from predarb.settlement import Settler
from predarb.start_positions import RETRY_S as START_POSITIONS_RETRY_S
from predarb.start_positions import StartPositions
from predarb.store import Store
from predarb.store.records import iso
from predarb.trading_state import TradingState
from predarb.venues.base import AuthError, VenueClient, VenueError

log = logging.getLogger(__name__)

SNAPSHOT_MAX_AGE_S = 1.0  # store-derived risk state used without re-reading it

Matcher = Callable[[Sequence[Market], Sequence[Market]], list[Pair]]
RECONCILE_INTERVAL_S = 300
MATCH_RETRY_S = 30.0  # how soon a failed (or never done) match is tried again
REJECTION_STORE_S = 60.0  # a repeated refusal (same pair, same reason) is stored this often
CHECKPOINT_INTERVAL_S = 5.0  # the WAL is copied back this often, off the commits
CAPITAL_ADVICE_INTERVAL_S = 900.0  # how often a venue that cannot fund a trade is looked for
# Executions in flight at shutdown get this long to end (hedging included), within
# systemd's TimeoutStopSec of 30 s with the scheduled jobs' 15 s after them.
EXECUTION_GRACE_S = 10.0
# Refusals of the price itself (size, depth, ROI, quote age): only the book moving (or a
# /set) can clear them, so no event re-arms them.
PRICE_REFUSALS = frozenset(
    {
        "roi_below_min",
        "roi_above_max",
        "stale_quote",
        "depth_fraction",
        "bet_below_min",
        "bet_above_max",
        "below_venue_minimum",
        "invalid_opportunity",
        "not_executable",
    }
)
# Refusals of one event's own state: an execution ending clears them for its event only.
EVENT_REFUSALS = frozenset({"duplicate_position", "in_flight", "event_exposed"})


class Standing(NamedTuple):
    """A pair whose last pricing found an opportunity: the decision, and its event."""

    code: str
    event: str


class PricingWatcher(Protocol):
    """Told what each scan priced and what risk decided (the dashboard's live board);
    called on the hot path, so it must only update memory."""

    def priced(
        self, pairs: Sequence[Pair], found: Sequence[Opportunity], now: datetime
    ) -> None: ...

    def decided(self, opp: Opportunity, decision: RiskDecision) -> None: ...


class ShardIndex(Mapping[Contract, int]):
    """Each listed contract's exchange shard, read from the markets as they are now."""

    def __init__(self, markets: Mapping[Contract, Market]) -> None:
        self._markets = markets

    def __getitem__(self, contract: Contract) -> int:
        return self._markets[contract].exchange_index

    def __iter__(self) -> Iterator[Contract]:
        return iter(self._markets)

    def __len__(self) -> int:
        return len(self._markets)


@dataclass
class EngineStats:
    scans: int = 0
    opportunities: int = 0
    approved: int = 0
    rejected: int = 0
    executions: dict[str, int] = field(default_factory=dict)
    last_rejection: dict[str, str] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        venues: Mapping[Venue, VenueClient],
        notifier: Notifier,
        *,
        mode: str,
        matcher: Matcher | None = None,
        pairs: Sequence[Pair] = (),
        clock: Callable[[], datetime] = utcnow,
        say: Callable[[str], None] | None = None,
        rematch_interval_s: float = 900.0,
        circuit_breakers: bool = False,
        bus: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.bus = bus or EventBus()
        self.limits = RiskLimits.from_settings(settings)
        self.state = TradingState(
            self.bus, store, clock=clock, venues=venues, max_age_s=SNAPSHOT_MAX_AGE_S
        )
        self.control = Control(store, self.limits, mode, clock=clock, state=self.state)
        self.safety = EngineSafety(store, self.state, self.control, clock)
        self.venues = self.safety.guard(venues) if circuit_breakers else dict(venues)
        kalshi = self.venues.get(Venue.KALSHI)
        self.funding = (
            ShardFunder(
                kalshi,
                store,
                self.alert,
                clock,
                enabled=settings.kalshi_shard_funding,
                cap=settings.kalshi_shard_funding_cap,
            )
            if isinstance(kalshi, ShardTransfers)
            else None
        )
        self.notifier = notifier
        # The balance job's reader; what follows an execution (balances read again,
        # alerts, the limits) subscribes to its events in the composition root
        # (``app.post_trade``), after the re-arming subscribed below.
        self.balance_reader = Balances(self.venues, self.state, store, clock)
        self.mode = mode
        self.matcher = matcher
        self.pairs: list[Pair] = list(pairs)
        self.clock = clock
        self.say = say or (lambda text: log.info(text))
        self.rematch_interval_s = rematch_interval_s
        self._last_match_summary = ""
        self._matched_at: float | None = None  # monotonic time of the last good match
        self._rejection_stored: dict[tuple[str, str], float] = {}
        self._unconnected: set[Venue] = set(self.venues)
        self.risk = RiskManager(self.limits)
        self.placer = Placer(store, self.venues, mode=mode, clock=clock)
        self.placer.order_slot = self.state.acquire_order_slot  # hedges and unwinds
        self.settler = Settler(store, self.venues, self.alert, clock)
        self.returner = build_returner(settings, store, venues, self.alert, clock, mode)
        self.settler.redeeming = self.returner is not None
        policy = HedgePolicy.from_settings(settings)
        self.unknown = UnknownOrders(
            self.placer, policy, self._fee_of, self.alert, money=self.state
        )
        self.live = LiveConfirmation()
        self.stats = EngineStats()
        self.markets: dict[Contract, Market] = {}
        self.state.shard_of = ShardIndex(self.markets)
        for client in venues.values():  # venues that push market changes (Kalshi)
            if callable(watch := getattr(client, "watch_markets", None)):
                watch(self._markets_changed)
        self.scheduler: AsyncIOScheduler | None = None
        self._stopping = asyncio.Event()
        self.book_cache = BookCache()
        self.feeds: MarketFeeds | None = None  # set while run() trades on book updates
        self._watched: list[Pair] | None = None
        self._last_scan_saved = 0.0
        self.watcher: PricingWatcher | None = None
        # Pairs whose last pricing found an opportunity (refused, or traded: it may
        # still stand), by decision code: priced again whenever a refusal may have
        # cleared; dropped once a pricing finds nothing.
        self.standing: dict[str, Standing] = {}
        self.in_flight: set[asyncio.Task[None]] = set()  # executions under way
        for venue, client in self.venues.items():
            rate = client.order_rate()
            if rate is not None:
                self.state.set_order_rate(venue, *rate)
        # First of the subscribers: marking pairs is all it does, and no network read
        # after an execution (the balances) may hold it back.
        self.bus.subscribe(
            self._rearm,
            KillSwitchChanged,
            TradingResumed,
            VenueBack,
            CooldownEnded,
            BalanceChanged,
            ShardBalanceChanged,
            OrderSlotsFreed,
            PairUnblocked,
            PositionsSettled,
            DayStarted,
            ExecutionFinished,
        )

    # What risk sees lives in the trading state; these read it.

    @property
    def balances(self) -> dict[Venue, Decimal]:
        return self.state.balances

    @property
    def venues_up(self) -> dict[Venue, bool]:
        return self.state.venues_up

    @property
    def cooldown_until(self) -> dict[str, datetime]:
        return self.state.cooldown_until

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        await self.control.load(self.settings.executor_enabled)
        await self.notifier.start()
        await self._connect_venues()
        await self.refresh_balances()
        if self.matcher is not None:
            try:
                await self.rematch()
            except Exception as exc:  # a venue down at start must not keep the bot down
                log.warning(
                    "matching at start failed (%s); retrying every %g s", exc, MATCH_RETRY_S
                )
        elif self.pairs:
            await self._remember_markets()
        # Before any new trade: finish what a crash left (orders looked up, never resent).
        try:
            recovered = await recover(
                self.placer, HedgePolicy.from_settings(self.settings), self._fee_of
            )
        except Exception as exc:
            log.exception("start-up recovery failed")
            await self.alert(
                messages.info(
                    f"start-up recovery failed ({type(exc).__name__}); unfinished executions"
                    " stay blocked, check them by hand",
                    AlertKind.EXPOSED,
                )
            )
        else:
            await announce_recovered(self.store, recovered, self.alert, self.unknown)
            if recovered.cancelled:
                self.say(f"cancelled {len(recovered.cancelled)} resting orders of an earlier run")
        # Still before any trade: the venues' positions against the database's (live).
        self.reconciler = Reconciler(self.store, self.venues, self.alert, self.clock)
        self.start_positions = StartPositions(
            self.reconciler, self.state, self.control, self.alert, live=self.mode == "live"
        )
        await self.start_positions.check()
        self.scheduler = scheduler = AsyncIOScheduler(timezone="UTC")

        def every(seconds: float, job_id: str, job: Callable[[], Awaitable[object]]) -> None:
            # One run at a time; runs missed while one was under way collapse into one.
            scheduler.add_job(
                self.safety.job(job_id, job),
                "interval",
                seconds=seconds,
                id=job_id,
                max_instances=1,
                coalesce=True,
            )

        await self.store.checkpoint_in_background()
        every(CHECKPOINT_INTERVAL_S, "checkpoint", self.store.checkpoint)
        every(self.settings.predarb_settlement_interval_s, "settlement", self.settle)
        if self.returner is not None:
            every(self.settings.predarb_redeem_interval_s, "redeem", self.redeem)
        every(CAPITAL_ADVICE_INTERVAL_S, "capital", self.advise_capital)
        every(60, "balances", self.refresh_balances)
        scheduler.add_job(
            self.safety.job("daily summary", self.daily_summary),
            "cron",
            hour=0,
            minute=0,
            id="daily",
            misfire_grace_time=3600,
            coalesce=True,
        )
        every(RECONCILE_INTERVAL_S, "reconcile", self.reconciler.reconcile_once)
        every(START_POSITIONS_RETRY_S, "positions at start", self.start_positions.check)
        if self.matcher is not None:
            every(min(self.rematch_interval_s, MATCH_RETRY_S), "rematch", self._rematch_when_due)
        every(1, "watch", self.safety.watch)
        self.scheduler.start()
        await self.daily_summary()  # the one missed while the bot was down, if any

    async def run(self, *, duration_s: float | None = None) -> None:
        """Trade on book updates until ``stop()`` (or ``duration_s`` elapsed).

        Books come from the venues' streams where they offer one, else from REST polls
        every ``PREDARB_POLL_INTERVAL_S``; each update re-prices only the pairs holding
        a contract whose book changed."""
        loop = asyncio.get_running_loop()
        deadline = None if duration_s is None else loop.time() + duration_s
        self.feeds = MarketFeeds(
            self.book_cache, self.venues, poll_interval_s=self.settings.predarb_poll_interval_s
        )
        refresher = asyncio.create_task(self._keep_state_fresh())
        gc.freeze()  # what start() built lives on: keep it out of the collector's scans
        try:
            while not self._stopping.is_set():
                if deadline is not None and loop.time() >= deadline:
                    break
                try:
                    await self.state.expire(self.clock())  # cooldowns ended re-arm pairs
                    await self._watch_pairs()
                    await self.tick()
                except Exception as exc:
                    await self.safety.crashed("scan", exc)
                # Wake for the next book, or when time clears a refusal (a cooldown).
                wait = min(
                    self.settings.predarb_poll_interval_s,
                    self.state.next_expiry(self.clock()) + 0.001,
                )
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - loop.time()))
                try:
                    await asyncio.wait_for(self.book_cache.changed.wait(), timeout=wait)
                except TimeoutError:
                    # A live opportunity needs a second sighting even if no book moved.
                    self.book_cache.mark_all(only=lambda p: p.live)
        finally:
            refresher.cancel()
            await self._wait_for_executions(EXECUTION_GRACE_S)
            await self.feeds.stop()
            self.feeds = None

    async def _watch_pairs(self) -> None:
        """After a (re)match, watch the new pairs' books and price them all once."""
        if self.feeds is None or self._watched is self.pairs:
            return
        self._watched = self.pairs
        self.book_cache.set_pairs([p for p in self.pairs if p.exhaustive])
        self.book_cache.mark_all()
        await self.feeds.refresh()

    def stop(self) -> None:
        """No new executions from now on; ``run`` returns once those under way end."""
        self.state.halt_at_once(HALT_STOPPING, "shutting down")
        self._stopping.set()
        self.book_cache.changed.set()  # wake run() at once

    async def shutdown(self) -> None:
        self.stop()
        scheduler = self.scheduler if self.scheduler and self.scheduler.running else None
        if scheduler is not None:
            scheduler.pause()  # no new runs; its shutdown would cancel those under way
        await self._wait_for_executions(EXECUTION_GRACE_S)
        await self.safety.stop()  # scheduled jobs under way finish (or are cancelled)
        await self.unknown.stop()  # the next start's recovery follows them again
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await self.notifier.stop()
        for venue in self.venues.values():
            try:
                await venue.close()
            except Exception:
                log.exception("closing %s failed", venue.venue)

    # -- matching ------------------------------------------------------------

    async def _remember_markets(self) -> dict[Venue, list[Market]]:
        """List every venue's markets; they replace the previous listing, so resolved
        markets do not pile up over weeks."""
        venues = list(self.venues)
        results = await asyncio.gather(*(self.venues[v].list_markets() for v in venues))
        listed = dict(zip(venues, results, strict=True))
        self.markets = {c: m for ms in listed.values() for m in ms for c in m.contracts}
        self.state.shard_of = ShardIndex(self.markets)
        return listed

    async def _connect_venues(self) -> None:
        """Each venue gets ready to trade (credentials); one that cannot be reached now
        is tried again by the re-match job. Refused keys stop the start."""
        for venue in sorted(self._unconnected):
            try:
                await self.venues[venue].connect()
            except AuthError:
                raise
            except VenueError as exc:
                log.warning("%s not ready to trade yet: %s", venue.value, exc)
            else:
                self._unconnected.discard(venue)

    async def _rematch_when_due(self) -> None:
        """The scheduled job: re-match every ``rematch_interval_s``, and retry sooner
        while no match has succeeded yet (a venue was down at start)."""
        if self._unconnected:
            await self._connect_venues()
        due = self._matched_at is None or (
            time.monotonic() - self._matched_at >= self.rematch_interval_s
        )
        if due:
            await self.rematch()

    async def rematch(self) -> list[Pair]:
        from predarb.matching.codec import pair_to_json
        from predarb.matching.matcher import match_venues

        assert self.matcher is not None
        listed = await self._remember_markets()
        if self.pairs and not all(listed.get(v) for v in self.venues):
            # An empty listing is an outage more often than a real state: keep the pairs.
            log.warning("a venue listed no markets; keeping the %d known pairs", len(self.pairs))
            return self.pairs
        pairs = match_venues(self.matcher, listed)
        del listed
        # Only the paired markets are needed from here on (fees, shards): the rest of a
        # listing of hundreds of thousands is let go.
        wanted = {c for p in pairs for c in p.contracts}
        self.markets = {c: m for c, m in self.markets.items() if c in wanted}
        self.state.shard_of = ShardIndex(self.markets)
        self._matched_at = time.monotonic()
        self.pairs = pairs
        await self.store.save_pairs([pair_to_json(p) for p in pairs], self.clock())
        tradable = sum(p.tradable for p in pairs)
        summary = f"matched {len(pairs)} pairs ({tradable} tradable)"
        if summary != self._last_match_summary:  # say it when it changes, not every rematch
            self._last_match_summary = summary
            self.say(summary)
        return pairs

    # -- scanning and trading ---------------------------------------------------

    def calc_params(self) -> CalcParams:
        return CalcParams(
            max_cost=self.limits.max_bet,
            depth_fraction=self.limits.max_depth_fraction,
        )

    async def scan(self) -> list[Opportunity]:
        """Price the pairs whose books changed since the last scan (while ``run`` keeps
        the book cache fed), else every pair from one REST fetch; best first."""
        if self.feeds is None:
            pairs = [p for p in self.pairs if p.exhaustive]
            up = {v: c for v, c in self.venues.items() if self.venues_up.get(v, False)}
            books = await fetch_books(up, pairs)
            now = self.clock()
        else:
            now = self.clock()
            pairs = [p for p, _ in self.book_cache.take_dirty()]
            books = self.book_cache.quotes(pairs, now)
        found = price_pairs(pairs, books, self.markets, self.calc_params(), now, self.live)
        self.stats.scans += 1
        if self.watcher is not None:
            self.watcher.priced(pairs, found, now)
        if self.standing:
            priced = {o.pair_id for o in found}
            for p in pairs:
                if p.pair_id not in priced:
                    self.standing.pop(p.pair_id, None)  # nothing to trade there any more
        return found

    async def tick(self) -> None:
        await self._trade(await self.scan())
        # The status page's "last scan", written after trading and at most once a second.
        if time.monotonic() - self._last_scan_saved >= 1.0:
            self._last_scan_saved = time.monotonic()
            now = self.clock()
            await self.store.set_state(reports.LAST_SCAN, iso(now), now)

    async def _quick_check(self, opp: Opportunity) -> RiskDecision:
        """``check`` without reading SQLite on the hot path: the trading state's store
        view is at most ``SNAPSHOT_MAX_AGE_S`` old (and read again after every
        execution); everything else it holds is live."""
        return self.risk.check(opp, await self.state.snapshot())

    async def _keep_state_fresh(self) -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_MAX_AGE_S / 2)
            try:
                await self.state.refresh()
            except Exception:
                log.exception("risk snapshot refresh failed")

    async def _trade(self, found: list[Opportunity]) -> None:
        """Check each opportunity and start the approved ones' executions side by side.

        An approval reserves what the execution will use (``TradingState.reserve``)
        before anything else can run: the check and the reservation are one step
        with no ``await`` between them, so the next opportunity's check already sees
        the money, exposure, daily trade, order slots and event held. The executions
        run as tasks; the loop goes on pricing while their orders are answered."""
        for opp in found:
            self.stats.opportunities += 1
            decision = await self._quick_check(opp)
            if decision.code == SHARD_UNFUNDED:
                decision = await self._fund_shards(opp, decision)
            if self.watcher is not None:
                self.watcher.decided(opp, decision)
            # Priced again whenever a refusal may clear, and once an execution ends:
            # the arbitrage may still stand (a FOK killed).
            self.standing[opp.pair_id] = Standing(decision.code, opp.event)
            if not decision.approved:
                await self._rejected(opp, decision)
                continue
            reservation = self.state.reserve(opp)  # no await since the check
            self.stats.approved += 1
            self.say(
                f"APPROVED {opp.event}: {opp.kind.value}, {opp.contracts} contracts,"
                f" cost ${opp.cost + opp.fees:.2f}, profit ${opp.profit:.2f}"
                f" ({opp.roi_pct:.2f}%)"
            )
            task = asyncio.create_task(
                self._execution_task(opp, reservation), name=f"execution {opp.event}"
            )
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
            # Its write-ahead goes to the store now, ahead of this scan's later writes
            # (refusals, the last-scan time): they would otherwise delay its orders.
            await asyncio.sleep(0)

    async def _execution_task(self, opp: Opportunity, reservation: Reservation) -> None:
        try:
            await self._execute(opp, reservation)
        except Exception as exc:  # already handled (kill switch, alert); counted here
            await self.safety.crashed("execution", exc)

    async def drain(self) -> None:
        """Wait until no execution is in flight (those started meanwhile included)."""
        while self.in_flight:
            await asyncio.gather(*list(self.in_flight), return_exceptions=True)

    async def _wait_for_executions(self, grace_s: float) -> None:
        """Executions in flight finish (hedging or unwinding included) within
        ``grace_s``; any still running then is cancelled: its write-ahead is in the
        database, so the next start's recovery looks its orders up and finishes it."""
        if not self.in_flight:
            return
        tasks = list(self.in_flight)
        _, late = await asyncio.wait(tasks, timeout=grace_s)
        for task in late:
            log.warning(
                "%s still running at shutdown: left to the next start's recovery",
                task.get_name(),
                extra={"code": "execution_left_to_recovery"},
            )
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _rearm(self, event: Event) -> None:
        """Whatever may have cleared a refusal (trading on, a halt lifted, a venue back,
        a cooldown ended, money arrived on a venue or a shard, a position settled, a
        pair unblocked, a new day, an execution ended, order slots freed) has the
        standing opportunities priced again at once."""
        if not self.standing:
            return
        if isinstance(event, KillSwitchChanged) and not event.enabled:
            return
        if isinstance(event, BalanceChanged | ShardBalanceChanged) and (
            event.previous is not None and event.balance <= event.previous
        ):
            return
        if isinstance(event, OrderSlotsFreed):  # frequent: only what they refused
            self.book_cache.mark([p for p, s in self.standing.items() if s.code == "order_rate"])
            return
        # No event clears a refusal of the price itself (its book moving does, or a
        # /set, which re-prices them all). The most frequent events concern one event:
        # its cooldown ending clears its own refusals only, and an execution ending
        # clears a refusal of one event's own state only for its own event.
        standing = [(p, s) for p, s in self.standing.items() if s.code not in PRICE_REFUSALS]
        if isinstance(event, CooldownEnded):
            self.book_cache.mark([p for p, s in standing if s.event == event.event])
            return
        ended = event.opportunity.event if isinstance(event, ExecutionFinished) else None
        self.book_cache.mark(
            [
                p
                for p, s in standing
                if ended is None or s.code not in EVENT_REFUSALS or s.event == ended
            ]
        )

    async def _rejected(self, opp: Opportunity, decision: RiskDecision) -> None:
        self.stats.rejected += 1
        # Stored once a minute per pair and reason: the same refusal repeats on every
        # scan, and weeks of those would only grow the database (the risk manager
        # still counts every one).
        key = (opp.pair_id, decision.code)
        if time.monotonic() - self._rejection_stored.get(key, -REJECTION_STORE_S) >= (
            REJECTION_STORE_S
        ):
            self._rejection_stored[key] = time.monotonic()
            await self.store.record_rejection(
                self.clock(), opp.pair_id, opp.event, decision.code, decision.reason
            )
        # Say each pair's reason when it changes, not on every scan.
        if self.stats.last_rejection.get(opp.pair_id) != decision.code:
            self.stats.last_rejection[opp.pair_id] = decision.code
            self.say(
                f"rejected {opp.event} ({opp.kind.value}, ROI {opp.roi_pct:.2f}%):"
                f" {decision.reason}"
            )

    async def snapshot(self) -> RiskSnapshot:
        """What risk sees, with the store read now (the hot path allows it 1 s old)."""
        return await self.state.snapshot(0)

    async def check(self, opp: Opportunity) -> RiskDecision:
        return self.risk.check(opp, await self.snapshot())

    async def _fund_shards(self, opp: Opportunity, decision: RiskDecision) -> RiskDecision:
        """A trade refused for money on the wrong Kalshi shard: moved there (when
        allowed) and checked again, or refused with the funder's reason (the funder tells
        the chat once what to move where)."""
        if self.funding is None:
            return decision
        snap = await self.snapshot()
        source = (Venue.KALSHI, 0)
        sharded = {venue for venue, _ in snap.shard_balances}
        spare = (
            snap.shard_balances.get(source, Decimal(0))
            - snap.shard_held.get(source, Decimal(0))
            - shard_needs(opp, snap.shard_of, sharded).get(source, Decimal(0))
        )
        funding = await self.funding.cover(opp.event, shard_shortfalls(opp, snap), spare)
        if not funding.moved:
            return replace(decision, reason=f"{decision.reason} ({funding.reason})")
        await self.refresh_balances()
        return await self._quick_check(opp)

    async def execute(self, opp: Opportunity) -> Placement:
        """Place ``opp`` (already approved) with what it needs reserved first."""
        return await self._execute(opp, self.state.reserve(opp))

    async def _execute(self, opp: Opportunity, reservation: Reservation) -> Placement:
        placement: Placement | None = None
        try:
            placement = await self.placer.execute(opp)
            if placement.status is ExecutionStatus.PARTIAL:
                placement = await self._resolve_one_legged(placement, reservation)
        except Exception as exc:
            self.standing[opp.pair_id] = Standing("execution_failed", opp.event)
            # Its orders may be live: trading stops before what it holds is released.
            await self.safety.execution_failed(opp, exc)
            await self._finished(opp, reservation, None, exc)
            raise
        await self._finished(opp, reservation, placement, None)
        status = placement.status
        self.stats.executions[status.value] = self.stats.executions.get(status.value, 0) + 1
        if status is not ExecutionStatus.SUCCESS and status not in ONE_LEGGED:
            self.say(f"FAILED {opp.event}: no leg filled (killed), nothing at risk")
        return placement

    async def _finished(
        self,
        opp: Opportunity,
        reservation: Reservation,
        placement: Placement | None,
        error: BaseException | None,
    ) -> None:
        """Count what was spent (it comes off the balances), let the limits act on the
        outcome (``ExecutionOutcome``) while the reservation still holds, release it
        (what an order of unknown fate may have spent stays held while it is followed)
        and start the event's cooldown, then announce the end: the subscribers
        (re-arming, ``post_trade``, alerts) do the rest."""
        record = None
        if placement is not None:
            try:
                record = await self.store.execution(placement.execution_id)
            except Exception:
                log.exception("execution %s unreadable", placement.execution_id)
        execution_id = placement.execution_id if placement is not None else ""
        status = placement.status if placement is not None else None
        await self.state.account(reservation, spent_by_venue(record.orders) if record else {})
        await self.bus.publish(ExecutionOutcome(opp, execution_id, status))
        if record is not None and unknown_orders(record):
            self.state.keep(reservation, record)
        self.state.release(
            reservation,
            cooldown_until=self.limits.cooldown_end(self.clock()),
            # Nothing went out (a leg refused before sending): its order slots come back.
            sent=record is None or any(o.sent_at is not None for o in record.orders),
        )
        # An order of unknown fate: followed, and the chat told there.
        unknown = False
        if record is not None:
            try:
                unknown = await self.unknown.follow(record)
            finally:
                if record.id not in self.unknown.following:  # no one to drop the hold
                    self.state.drop_hold(record.id, None)
        await self.bus.publish(
            ExecutionFinished(
                opp,
                execution_id,
                status,
                record,
                unknown_orders=unknown,
                error=f"{type(error).__name__}: {error}" if error is not None else "",
            )
        )

    async def _resolve_one_legged(
        self, placement: Placement, reservation: Reservation
    ) -> Placement:
        """Hedge or unwind (``execution.partial``), in bounded time, a hedge paid only
        with money the trading state grants; the caller then sends one loud alert with
        the outcome. Whatever goes wrong here leaves the execution EXPOSED, never
        silently PARTIAL."""
        try:
            outcome = await resolve_partial(
                self.placer,
                placement.execution_id,
                HedgePolicy.from_settings(self.settings),
                self._fee_of,
                first_fill_ns=placement.first_fill_ns,
                funds=self.state.funds(reservation),
            )
        except Exception as exc:
            log.exception("handling the one-legged execution %s failed", placement.execution_id)
            note = f"hedge/unwind failed: {type(exc).__name__}"
            await self.store.set_status(
                placement.execution_id, ExecutionStatus.EXPOSED, self.clock(), note=note
            )
            return replace(placement, status=ExecutionStatus.EXPOSED)
        return replace(placement, status=outcome.status, unhedged_ms=outcome.unhedged_ms)

    def _markets_changed(self, kind: str, markets: Sequence[Market]) -> None:
        """A venue's lifecycle channel changed these listed markets (a fee override, a
        pause, a new grid, a result): priced as they are now from the next scan on; a
        settled market runs the settlement job now."""
        touched = [c for m in markets for c in m.contracts if c in self.markets]
        for m in markets:
            self.markets.update({c: m for c in m.contracts if c in self.markets})
        self.book_cache.mark({pid for c in touched for pid in self.book_cache.pairs_of(c)})
        job = self.scheduler.get_job("settlement") if self.scheduler is not None else None
        if kind == "settled" and job is not None:
            job.modify(next_run_time=utcnow())

    def _fee_of(self, contract: Contract) -> FeeSchedule | None:
        market = self.markets.get(contract)
        return market.fee_at(self.clock()) if market is not None else None

    async def trip(self, reason: str) -> None:
        await self.control.trip(reason)

    # -- scheduled jobs ----------------------------------------------------------

    async def alert(self, alert: Alert) -> None:
        await self.notifier.send(alert)

    async def settle(self) -> None:
        result = await self.settler.settle_once()
        if result.settled:
            self.state.stale()
            await self.redeem()  # right after settlement: the money comes back now
            # Subscribers: balances read, the daily loss limit, re-arming.
            await self.bus.publish(PositionsSettled(result.settled))

    async def advise_capital(self) -> None:
        """Once a UTC day at most: which venue cannot fund the next trade, and from where
        to move the money."""
        needed = self.limits.max_bet + self.limits.min_platform_balance
        await advise_once(self.store, needed=needed, notify=self.alert, now=self.clock())

    async def redeem(self) -> None:
        """Redeem resolved Polymarket positions and merge YES+NO pairs (on chain)."""
        if self.returner is None:
            return
        result = await self.returner.run_once()
        if result.confirmed:
            await self.refresh_balances()  # publishes BalanceChanged: re-arms what waited

    async def refresh_balances(self) -> None:
        """Fresh balances for the risk manager; a fall below the floor is alerted once."""
        await self.balance_reader.refresh()

    async def daily_summary(self) -> bool:
        """The summary of the UTC day that just ended, sent once: the day sent last is
        kept in bot_state, so a restart neither resends it nor skips it. Daily counters
        need no reset: they are sums over the current UTC day."""
        now = self.clock()
        day = (reports.day_start(now) - timedelta(days=1)).date().isoformat()
        last = await self.store.get_state(reports.LAST_DAILY_SUMMARY)
        if last >= day:
            return False
        # A first start has no ended day to tell.
        if not last:
            await self.store.set_state(reports.LAST_DAILY_SUMMARY, day, now)
            return False
        report = await reports.day_report(self.store, date.fromisoformat(day), now)
        await self.alert(messages.daily_summary(day, await self.control.status(), report))
        await self.store.set_state(reports.LAST_DAILY_SUMMARY, day, now)
        return True


async def fetch_books(
    venues: Mapping[Venue, VenueClient], pairs: Sequence[Pair]
) -> dict[Contract, OrderBook]:
    """Every pair's books, one batched request per venue, all venues at once. A venue
    that fails is logged and left out (its pairs then price to nothing)."""
    wanted: dict[Venue, dict[Contract, None]] = {}
    for pair in pairs:
        for c in pair.contracts:
            if c.venue in venues:
                wanted.setdefault(c.venue, {})[c] = None
    order = list(wanted)
    results = await asyncio.gather(
        *(venues[v].get_order_books(list(wanted[v])) for v in order), return_exceptions=True
    )
    books: dict[Contract, OrderBook] = {}
    for venue, result in zip(order, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("books from %s failed: %s", venue.value, result)
            continue
        books.update(result)
    return books


def price_pairs(
    pairs: Sequence[Pair],
    books: Mapping[Contract, OrderBook],
    markets: Mapping[Contract, Market],
    params: CalcParams,
    now: datetime,
    live: LiveConfirmation | None = None,
) -> list[Opportunity]:
    """The best opportunity of each pair, most profitable first."""
    # A market whose fees are unknown (``fee_at`` None) is left out: never priced. A
    # scheduled fee change applies from the moment it takes effect.
    fees: dict[Contract, FeeSchedule | None] = {
        c: fee
        for p in pairs
        for c in p.contracts
        if c in books and c in markets and (fee := markets[c].fee_at(now)) is not None
    }
    found: list[Opportunity] = []
    for pair in pairs:
        opps = find_opportunities(pair, books, fees, params, now)
        if pair.live and live is not None:
            opps = live.observe(pair.pair_id, opps)
        found.extend(opps[:1])
    found.sort(key=lambda o: o.profit, reverse=True)
    return found
