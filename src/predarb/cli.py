"""The ``predarb`` command line (typer). Exit codes: 0 success, 2 bad usage or
configuration (one line on stderr), 1 an unexpected failure (logged)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from predarb.config import ConfigError, Settings, load_settings
from predarb.logs import setup_logging
from predarb.store import Store, StoreError

log = logging.getLogger("predarb")
T = TypeVar("T")
JsonFlag = Annotated[bool, typer.Option("--json", help="one JSON object per line")]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Arbitrage between Kalshi and Polymarket, steered from Telegram.",
    pretty_exceptions_enable=False,
)


class UsageProblem(Exception):
    """Bad usage or state the user can fix: exit 2 with this one line."""


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"predarb: {message}", file=sys.stderr)
    raise typer.Exit(code)


def settings_or_exit(level: str | None = None) -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    setup_logging(level or settings.log_level, settings.log_format.value, settings.secrets())
    return settings


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(main())
    except (ConfigError, StoreError, UsageProblem) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:
        log.exception("unexpected failure: %s", exc)
        fail(f"unexpected failure: {type(exc).__name__}: {exc}", 1)


def now() -> datetime:
    return datetime.now(UTC)


async def with_store(
    settings: Settings, use: Callable[[Store], Awaitable[T]], *, readonly: bool = False
) -> T:
    store = await Store.open(settings.predarb_db_path, readonly=readonly)
    try:
        return await use(store)
    finally:
        await store.close()


def plain(html_text: str) -> str:
    from predarb.notify.base import Alert, AlertKind

    return Alert(AlertKind.INFO, html_text).plain


# -- reports -----------------------------------------------------------------


@app.command()
def status() -> None:
    """Mode, trading on/off, balances, exposure and today's figures, from the database."""
    from predarb import reports
    from predarb.notify import messages

    settings = settings_or_exit()

    async def show(store: Store) -> str:
        report = await reports.status(
            store,
            now(),
            max_daily_trades=settings.executor_max_daily_trades,
            max_daily_loss=settings.executor_max_daily_loss,
            needed=settings.executor_max_bet + settings.executor_min_platform_balance,
        )
        return messages.status_text(report, now())

    print(plain(run_async(lambda: with_store(settings, show, readonly=True))))


@app.command()
def trades(limit: Annotated[int, typer.Option(min=1, max=1000)] = 10) -> None:
    """The last executions with their legs, status and P&L."""
    from predarb import reports
    from predarb.notify import messages

    settings = settings_or_exit()

    async def show(store: Store) -> str:
        return messages.trades_text(await reports.trades(store, limit))

    print(plain(run_async(lambda: with_store(settings, show, readonly=True))))


@app.command()
def pnl() -> None:
    """Realized and expected P&L: today, this week, all time."""
    from predarb import reports
    from predarb.notify import messages

    settings = settings_or_exit()

    async def show(store: Store) -> str:
        return messages.pnl_text(await reports.pnl(store, now()))

    print(plain(run_async(lambda: with_store(settings, show, readonly=True))))


@app.command()
def backup(target: Path) -> None:
    """A consistent copy of the database, taken while the bot may be running."""
    settings = settings_or_exit()

    async def copy(store: Store) -> None:
        await store.backup(target)

    run_async(lambda: with_store(settings, copy, readonly=True))  # beside a running bot
    print(f"backed up {settings.predarb_db_path} to {target}")


# -- trading -----------------------------------------------------------------


@app.command()
def demo(
    duration: Annotated[float, typer.Option(help="seconds to run", min=1, max=86_400)] = 30.0,
    seed: Annotated[int, typer.Option(help="simulator seed")] = 7,
) -> None:
    """The whole pipeline offline: simulated Kalshi and Polymarket, simulated fills."""
    from predarb.runner import run_demo

    settings = settings_or_exit("WARNING")
    run_async(lambda: run_demo(settings, duration_s=duration, seed=seed))


@app.command()
def run(
    live: Annotated[bool, typer.Option("--live", help="send real orders (needs keys)")] = False,
) -> None:
    """The bot, unattended, until SIGINT/SIGTERM. Paper trading unless --live."""
    from predarb.runner import run_bot

    settings = settings_or_exit()
    run_async(lambda: run_bot(settings, live=live, install_signals=_install_signals))


def _install_signals(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)


@app.command()
def scan(
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """One pass: fetch markets, match, price, print the opportunities. Places nothing."""
    from predarb.arbitrage.calculator import opportunity_to_json
    from predarb.runner import scan_once

    settings = settings_or_exit()
    opportunities = run_async(lambda: scan_once(settings))
    if json_out:
        for opp in opportunities:
            print(json.dumps(opportunity_to_json(opp)))
        return
    if not opportunities:
        print("no opportunities")
    for opp in opportunities:
        legs = " + ".join(
            f"{leg.contract.venue.value}:{leg.contract.market_id}:{leg.contract.side}@{leg.price}"
            for leg in opp.legs
        )
        flag = "" if opp.tradable else f"  [not tradable: {opp.reason}]"
        print(
            f"{opp.kind.value:10} {opp.event[:50]:50} {opp.contracts}x {legs}"
            f"  cost {opp.cost + opp.fees:.2f} profit {opp.profit:.2f}"
            f" ({opp.roi_pct:.2f}%){flag}"
        )


@app.command()
def pairs(
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """The matched pairs, with outcome mapping, confidence and flags."""
    from predarb.matching.codec import format_pair_line, pair_to_json
    from predarb.runner import match_once

    settings = settings_or_exit()
    found = run_async(lambda: match_once(settings))
    for pair in found:
        print(json.dumps(pair_to_json(pair)) if json_out else format_pair_line(pair))
    if not found and not json_out:
        print("no pairs")


@app.command("check-config")
def check_config() -> None:
    """Validate the configuration; with keys set, prove them. One line per check."""
    from predarb.runner import check_configuration

    settings = settings_or_exit("WARNING")
    lines, ok = run_async(lambda: check_configuration(settings))
    for line in lines:
        print(line)
    if not ok:
        raise typer.Exit(2)


def main() -> None:
    app()
