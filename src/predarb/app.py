"""The composition root: the running application built from its parts for one mode,
on an open store and the mode's venues. The engine (with its trading state, safety,
placer and the post-trade subscribers of its event bus), the pair review in the chat,
the notification channels (console, Telegram, the dashboard's feed) and the dashboard
are made and connected here, and nowhere else; ``runner`` starts and stops what this
builds. Nothing below imports this module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from predarb.config import Settings
from predarb.control import utcnow
from predarb.domain import Market, Pair, Venue
from predarb.engine import Engine
from predarb.errors import ConfigError
from predarb.modes import Mode
from predarb.notify.base import FanOut, Notifier
from predarb.notify.console import ConsoleNotifier
from predarb.runtime_settings import RuntimeSettings, apply_to
from predarb.store import Store
from predarb.venues.base import VenueClient
from predarb.venues.paper import PaperVenue

if TYPE_CHECKING:
    import socket

    from predarb.control import Control
    from predarb.notify.pair_review import PairReview
    from predarb.notify.telegram_control import Operations
    from predarb.web import Access, Dashboard


@dataclass
class App:
    engine: Engine
    dashboard: Dashboard | None
    review: PairReview | None
    settings: Settings  # as configured, with the limits changed from the phone applied


async def build(
    store: Store,
    settings: Settings,
    mode: Mode,
    venues: dict[Venue, VenueClient],
    served: tuple[Access, socket.socket] | None,
    *,
    say: Callable[[str], None] | None,
    echo_alerts: bool,
    rematch_interval_s: float,
) -> App:
    """Everything of one run, connected, nothing started. ``served``: the dashboard's
    bound socket and access rules (``web.prepare``), None without a dashboard."""
    from predarb import web

    review = pair_review(settings, store, dashboard=served is not None)
    if review is not None:
        await review.load()
    # Limits and the blacklist changed from the phone before this start apply from it.
    runtime = RuntimeSettings(store, settings, utcnow)
    settings = await runtime.load()
    engine = Engine(
        settings,
        store,
        venues,
        FanOut([]),
        mode=mode.value,
        matcher=make_matcher(settings, review),
        say=say,
        circuit_breakers=True,
        rematch_interval_s=rematch_interval_s,
    )
    post_trade(engine)
    if review is not None:
        review.attach(engine)
    _paper_ledgers(settings, venues, engine)
    halt_on_fee_mismatch(venues, engine.control)
    dashboard = (
        web.Dashboard(engine, *served, say=say, review=review) if served is not None else None
    )
    engine.notifier = notifiers(
        settings,
        store,
        engine.control,
        echo_alerts,
        review,
        [dashboard.feed] if dashboard else [],
        operations=phone_operations(engine, runtime),
    )
    return App(engine, dashboard, review, settings)


def post_trade(engine: Engine) -> None:
    """What follows an execution and a settlement, subscribed to the engine's events
    (after its own re-arming, which must wait for nothing): the one-legged and daily
    loss limits on the outcome, while the execution still holds its reservation; then,
    once it is released, the balances read again and the alerts that show them."""
    from predarb.events import ExecutionFinished, ExecutionOutcome, PositionsSettled
    from predarb.notify.alerts import AlertRouter
    from predarb.post_trade import DailyLossLimit, OneLeggedLimits

    bus, state, store, clock = engine.bus, engine.state, engine.store, engine.clock

    def settings() -> Settings:  # as ``/set`` leaves them
        return engine.settings

    one_legged = OneLeggedLimits(store, settings, state, engine.control, bus, clock)
    bus.subscribe(one_legged.after_execution, ExecutionOutcome)
    daily_loss = DailyLossLimit(store, engine.control, clock)
    bus.subscribe(daily_loss.after, ExecutionOutcome, PositionsSettled)
    bus.subscribe(engine.balance_reader.after_execution, ExecutionFinished)
    bus.subscribe(engine.balance_reader.after_settlement, PositionsSettled)
    AlertRouter(
        engine.alert,
        store,
        clock,
        balances=lambda: state.balances,
        balance_floor=engine.limits.min_platform_balance,
    ).subscribe(bus)


def make_matcher(
    settings: Settings, review: PairReview | None = None
) -> Callable[[Sequence[Market], Sequence[Market]], list[Pair]]:
    from predarb.matching.matcher import Matcher
    from predarb.matching.overrides import Overrides, OverridesError

    path = settings.predarb_match_overrides
    try:
        overrides = Overrides.load(path) if path is not None else None
    except (OverridesError, OSError) as exc:
        raise ConfigError("PREDARB_MATCH_OVERRIDES", str(exc)) from None
    matcher = Matcher(overrides)
    return review.wrap(matcher) if review is not None else matcher.match


def halt_on_fee_mismatch(venues: Mapping[Venue, VenueClient], control: Control) -> None:
    """A Polymarket US fill charged other than its market's fee coefficient says stops
    new executions on that venue alone (announced, persisted; the other pairs go on)
    until a person looks and sends /start."""
    from predarb.venues.polymarket_us import PolymarketUSVenue

    for client in venues.values():
        if isinstance(client, PolymarketUSVenue):
            client.on_fee_mismatch = lambda m: control.halt_venue(m.venue, m.describe())


def pair_review(settings: Settings, store: Store, *, dashboard: bool = False) -> PairReview | None:
    """Uncertain pairs are asked about in the chat and on the dashboard (earlier answers
    apply from the start); only the users allowed to command the bot may answer in the
    chat. Without a chat, chat id 0 matches no update: the dashboard alone asks."""
    chat = settings.telegram_chat_id if settings.telegram_enabled else None
    if chat is None and not dashboard:
        return None
    from predarb.notify.pair_review import PairReview

    return PairReview(store, chat or 0, utcnow, allowed_users=settings.allowed_user_ids)


def notifiers(
    settings: Settings,
    store: Store,
    engine_control: object,
    echo: bool,
    review: PairReview | None = None,
    extra: Sequence[Notifier] = (),
    operations: Operations | None = None,
) -> Notifier:
    channels: list[Notifier] = [ConsoleNotifier(echo=echo), *extra]
    if settings.telegram_enabled:
        from predarb.notify.telegram import TelegramNotifier

        assert settings.telegram_bot_token is not None and settings.telegram_chat_id is not None
        channels.append(
            TelegramNotifier(
                settings.telegram_bot_token.get_secret_value(),
                settings.telegram_chat_id,
                settings.telegram_base_url,
                engine_control,  # type: ignore[arg-type]
                store,
                review=review,
                allowed_users=settings.allowed_user_ids,
                operations=operations,
            )
        )
    return FanOut(channels)


def phone_operations(engine: Engine, runtime: RuntimeSettings) -> Operations:
    """What ``/set``, ``/blacklist``, ``/unblock`` and ``/unwind`` do to this engine:
    a change reaches risk at once, and the opportunities it refused are priced again."""
    from predarb.events import PairUnblocked
    from predarb.execution.hedging import HedgePolicy
    from predarb.execution.manual_unwind import unwind_execution
    from predarb.notify.telegram_control import Operations

    def changed(settings: Settings) -> None:
        apply_to(engine, settings)
        if engine.standing:
            engine.book_cache.mark(engine.standing)

    runtime.listen(changed)

    async def unwind(execution_id: str) -> str:
        policy = HedgePolicy.from_settings(engine.settings)
        result = await unwind_execution(engine.placer, execution_id, policy)
        engine.state.stale()
        await engine.refresh_balances()
        return result.text

    async def unblock(name: str) -> bool:
        was = await engine.store.unblock(name, utcnow())
        engine.state.stale()
        if was:
            await engine.bus.publish(PairUnblocked(name))
        return was

    return Operations(runtime, unwind=unwind, unblock=unblock)


def _paper_ledgers(settings: Settings, venues: dict[Venue, VenueClient], engine: Engine) -> None:
    """Paper venues keep their ledger in a file beside the database (so a restart goes on
    with the same money and positions) and fill against the engine's streamed books."""
    paper = [v for v in venues.values() if isinstance(v, PaperVenue)]
    if not paper:
        return
    for client in paper:
        client.use_books(engine.book_cache)
    if engine.mode != Mode.PAPER.value:
        return  # the demo's accounts start afresh each run
    keep_paper_ledgers(settings, venues)


def keep_paper_ledgers(settings: Settings, venues: Mapping[Venue, VenueClient]) -> None:
    """The paper venues' ledger is the file beside the database (``predarb run`` and
    ``predarb unwind`` on a paper database)."""
    from predarb.venues.paper_journal import PaperJournal, journal_path

    paper = [v for v in venues.values() if isinstance(v, PaperVenue)]
    if not paper:
        return
    path = journal_path(settings.predarb_db_path)
    try:
        journal = PaperJournal(path)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            "PREDARB_DB_PATH", f"{path}: cannot open the paper ledger: {exc}"
        ) from None
    for client in paper:
        client.keep_ledger(journal)
