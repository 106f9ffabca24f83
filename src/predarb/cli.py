"""The ``predarb`` command line (typer). Exit codes: 0 success, 2 bad usage or
configuration (one line on stderr), 1 an unexpected failure (logged)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from predarb.config import Settings, load_settings
from predarb.errors import ConfigError, PredarbError
from predarb.logs import RecordCounter, setup_logging
from predarb.store import Store

if TYPE_CHECKING:
    from predarb.runner import StopRequest
    from predarb.runtime_settings import RuntimeSettings

log = logging.getLogger("predarb")
T = TypeVar("T")
JsonFlag = Annotated[bool, typer.Option("--json", help="one JSON object per line")]

# SIGHUP is a closed terminal (or an SSH session gone): stop cleanly, as for the others.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# No meaning here; by default they would kill the process mid-execution.
IGNORED_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)
# After the command ended, how long the interpreter may take to exit before it is made
# to: a thread left running (a database connection not closed, say) must not keep a
# failed start from exiting, which is what makes systemd restart it.
EXIT_DEADLINE_S = 5.0

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Arbitrage between Kalshi and Polymarket, steered from Telegram.",
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"predarb: {message}", file=sys.stderr)
    raise typer.Exit(code)


def load_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


def settings_or_exit(level: str | None = None) -> Settings:
    settings = load_or_exit()
    setup_logging(level or settings.log_level, settings.log_format.value, settings.secrets())
    return settings


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(main())
    except PredarbError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:
        log.exception("unexpected failure: %s", exc)
        fail(f"unexpected failure: {type(exc).__name__}: {exc}", 1)


def until_stopped(
    work: Callable[[StopRequest], Awaitable[T]],
) -> Callable[[], Coroutine[Any, Any, T]]:
    """``work`` with the stop signals asking it to stop (it ends cleanly, exit 0), and the
    ignored ones logged. Once it has ended nothing but the exit is left: a late signal (a
    second SIGTERM, say) is ignored rather than turning a clean stop into a kill."""

    async def main() -> T:
        from predarb.runner import StopRequest

        loop = asyncio.get_running_loop()
        request = StopRequest()

        def on_stop(sig: signal.Signals) -> None:
            if request.is_set:
                log.warning("%s: already stopping", sig.name)
            else:
                log.warning("%s: stopping (the execution under way finishes first)", sig.name)
            request.set()

        def on_ignored(sig: signal.Signals) -> None:
            log.warning("%s ignored; SIGTERM, SIGINT or SIGHUP stops predarb", sig.name)

        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, on_stop, sig)
        for sig in IGNORED_SIGNALS:
            loop.add_signal_handler(sig, on_ignored, sig)
        try:
            return await work(request)
        finally:
            for sig in (*STOP_SIGNALS, *IGNORED_SIGNALS):
                loop.remove_signal_handler(sig)
                signal.signal(sig, signal.SIG_IGN)

    return main


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
def pnl(
    by: Annotated[
        str | None,
        typer.Option(help="break down by day, week, month, kind, category or pair"),
    ] = None,
) -> None:
    """Realized and expected P&L: today, this week, all time (or --by a breakdown)."""
    from predarb import reports, reports_periods
    from predarb.notify import messages, report_texts

    if by is not None and by not in reports_periods.GROUPS:
        fail(f"--by: one of {', '.join(reports_periods.GROUPS)}")
    settings = settings_or_exit()

    async def show(store: Store) -> str:
        if by is not None:
            return report_texts.breakdown_text(await reports_periods.breakdown(store, by))
        return messages.pnl_text(await reports.pnl(store, now()))

    print(plain(run_async(lambda: with_store(settings, show, readonly=True))))


DaysOption = Annotated[int, typer.Option("--days", help="days back", min=1, max=90)]


@app.command()
def quality(
    days: DaysOption = 7,
    execution: Annotated[
        str | None, typer.Option("--execution", help="one execution's quality, by its id")
    ] = None,
) -> None:
    """Execution quality: slippage, fill rate, leg latency and skew, unhedged windows,
    hedge and unwind costs, expected against realized profit (of one execution with
    --execution)."""
    from predarb import reports_quality
    from predarb.notify import report_texts

    settings = settings_or_exit()

    async def show(store: Store) -> str | None:
        if execution is not None:
            one = await reports_quality.of_execution(store, execution)
            return report_texts.execution_quality_text(one) if one is not None else None
        return report_texts.quality_text(await reports_quality.quality(store, now(), days))

    text = run_async(lambda: with_store(settings, show, readonly=True))
    if text is None:
        fail(f"--execution: no execution {execution} (ids: predarb trades)")
    print(plain(text))


@app.command()
def daily(days: DaysOption = 7) -> None:
    """The P&L of each of the last UTC days."""
    from predarb import reports_periods
    from predarb.notify import report_texts

    settings = settings_or_exit()

    async def show(store: Store) -> str:
        return report_texts.daily_text(await reports_periods.daily(store, now(), days))

    print(plain(run_async(lambda: with_store(settings, show, readonly=True))))


# -- runtime settings (the same as /settings, /set, /blacklist, /unblock, /mute) ------


async def _runtime(settings: Settings, store: Store) -> RuntimeSettings:
    from predarb.runtime_settings import RuntimeSettings

    runtime = RuntimeSettings(store, settings, now)
    await runtime.load()
    return runtime


def _change(settings: Settings, change: Callable[[RuntimeSettings], Awaitable[str]]) -> None:
    """A change to the stored runtime settings, made while no bot runs on the database
    (the bot holds it; from the phone the change applies at once)."""
    from predarb.runtime_settings import SettingRefused
    from predarb.store.lock import DatabaseInUse

    async def use(store: Store) -> str:
        return await change(await _runtime(settings, store))

    async def main() -> tuple[str, str]:  # (what changed, why nothing did)
        try:
            return await with_store(settings, use), ""
        except SettingRefused as exc:
            return "", f"refused: {exc}"
        except DatabaseInUse:
            return "", (
                "the bot is running on this database: send the command from Telegram"
                " (it applies at once), or stop the bot first"
            )

    done, refused = run_async(main)
    if refused:
        fail(refused)
    print(plain(done))


@app.command("settings")
def show_settings() -> None:
    """Limits set at run time, the blacklist, muted alerts, blocked pairs, all limits."""
    from predarb.notify import control_texts

    settings = settings_or_exit()

    async def show(store: Store) -> str:
        runtime = await _runtime(settings, store)
        blocks = await store.pair_blocks(now())
        return (
            control_texts.settings_text(runtime, blocks)
            + "\n\n"
            + control_texts.limits_text(runtime.limits())
        )

    print(plain(run_async(lambda: with_store(settings, show, readonly=True))))


@app.command("set")
def set_limit(name: str, value: str) -> None:
    """Change a trading limit (VALUE ``default`` undoes it), validated like the
    configuration; kept in the database, applied from the bot's next start."""
    settings = settings_or_exit()

    async def change(runtime: RuntimeSettings) -> str:
        limit = await runtime.set_limit(name, value)
        return f"{limit.name} is now {limit.value} ({limit.source})."

    _change(settings, change)


@app.command()
def blacklist(
    action: Annotated[str, typer.Argument(help="add or remove")],
    item: Annotated[str, typer.Argument(help="a series, league, category or pair id")],
) -> None:
    """Never trade a series, league, category or pair (or trade it again)."""
    if action not in ("add", "remove"):
        fail("ACTION: add or remove")
    settings = settings_or_exit()

    async def change(runtime: RuntimeSettings) -> str:
        if action == "add":
            done = await runtime.blacklist_add(item)
            return f"{item}: " + ("blacklisted" if done else "was already blacklisted")
        done = await runtime.blacklist_remove(item)
        return f"{item}: " + ("no longer blacklisted" if done else "was not blacklisted")

    _change(settings, change)


@app.command()
def unblock(pair: Annotated[str, typer.Argument(help="a pair id or a series")]) -> None:
    """Lift the block a pair (or series) got after one-legged results."""
    settings = settings_or_exit()

    async def change(runtime: RuntimeSettings) -> str:
        was = await runtime.store.unblock(pair, now())
        return f"{pair}: " + ("unblocked" if was else "was not blocked")

    _change(settings, change)


@app.command()
def mute(kind: str) -> None:
    """Stop sending one kind of alert to Telegram (a partial fill never)."""
    settings = settings_or_exit()

    async def change(runtime: RuntimeSettings) -> str:
        return f"{(await runtime.mute(kind, True)).value} alerts muted"

    _change(settings, change)


@app.command()
def unmute(kind: str) -> None:
    """Send that kind of alert to Telegram again."""
    settings = settings_or_exit()

    async def change(runtime: RuntimeSettings) -> str:
        return f"{(await runtime.mute(kind, False)).value} alerts unmuted"

    _change(settings, change)


@app.command()
def unwind(
    execution: Annotated[str, typer.Argument(help="the execution's id (predarb trades)")],
    yes: Annotated[bool, typer.Option("--yes", help="sell back without asking first")] = False,
) -> None:
    """Sell an open position back at the bids (as /unwind), while no bot runs on the
    database; asks first unless --yes."""
    from predarb.runner import unwind_offline
    from predarb.store.lock import DatabaseInUse

    settings = settings_or_exit()

    def confirm(question: str) -> bool:
        print(question, flush=True)
        return yes or typer.confirm("Sell back now?", default=False)

    async def main() -> tuple[bool, str] | None:
        try:
            return await unwind_offline(settings, execution, confirm=confirm)
        except DatabaseInUse:
            return None

    outcome = run_async(main)
    if outcome is None:
        fail(
            "the bot is running on this database: send /unwind from Telegram (it asks"
            " before it sells), or stop the bot first"
        )
    done, text = outcome
    print(text)
    if not done:
        raise typer.Exit(1)


@app.command()
def chart(target: Annotated[Path, typer.Argument(help="the PNG file to write")]) -> None:
    """The /chart picture (cumulative realized P&L, balances) as a PNG file."""
    from predarb import reports_periods
    from predarb.balance_rows import read_balances
    from predarb.notify.chart import balance_series, render

    settings = settings_or_exit()

    async def draw(store: Store) -> bytes:
        points = await reports_periods.cumulative(store)
        at = now()
        current, _ = await read_balances(store)
        history = balance_series(await store.balance_history(), current, at)
        return await render(points, history, at)

    png = run_async(lambda: with_store(settings, draw, readonly=True))
    try:
        target.write_bytes(png)
    except OSError as exc:
        fail(f"PATH: cannot write {target}: {exc.strerror}")
    print(f"wrote {target}")


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

    settings = load_or_exit()
    # The story is on stdout; the log goes to a file, so that the two never interleave.
    log_path = settings.predarb_db_path.with_suffix(".log")
    try:
        log_file = log_path.open("w", encoding="utf-8")
    except OSError as exc:
        fail(f"PREDARB_DB_PATH: cannot write the demo's log {log_path}: {exc.strerror}")
    level = settings.log_level if "log_level" in settings.model_fields_set else "WARNING"
    with log_file:
        setup_logging(level, settings.log_format.value, settings.secrets(), stream=log_file)
        counter = RecordCounter()
        logging.getLogger().addHandler(counter)

        def log_note() -> str:
            counts = ", ".join(f"{n} {level}" for level, n in sorted(counter.counts.items()))
            return f"log: {log_path} ({counts or 'no warnings'})"

        run_async(
            until_stopped(
                lambda stop: run_demo(
                    settings,
                    duration_s=duration,
                    seed=seed,
                    stop=stop,
                    log_note=log_note,
                    command=invoked_as(),
                )
            )
        )


@app.command()
def run(
    live: Annotated[bool, typer.Option("--live", help="send real orders (needs keys)")] = False,
) -> None:
    """The bot, unattended, until SIGINT/SIGTERM/SIGHUP. Paper trading unless --live."""
    from predarb.runner import run_bot

    settings = settings_or_exit()
    run_async(until_stopped(lambda stop: run_bot(settings, live=live, stop=stop)))


@app.command()
def record(
    duration: Annotated[
        float, typer.Option(help="seconds to record, then stop", min=1, max=30 * 86_400)
    ] = 3600.0,
    out: Annotated[
        Path, typer.Option(help="the recording; parts after the first are OUT.1, OUT.2...")
    ] = Path("predarb-recording.jsonl.gz"),
    part_mb: Annotated[
        int, typer.Option(help="start a new part at this many MB (compressed)", min=1)
    ] = 256,
) -> None:
    """Record public market data (listings, books, results) to a file. No keys needed."""
    from predarb.rehearsal.recorder import record as record_markets

    settings = settings_or_exit()

    async def work(stop: StopRequest) -> None:
        def attach(recorder: Any) -> None:
            stop.when_set(recorder.stop)

        summary = await record_markets(
            settings,
            out,
            duration_s=duration,
            max_part_bytes=part_mb * 1024 * 1024,
            say=lambda text: print(text, flush=True),
            on_start=attach,
        )
        print(
            f"recorded {summary.lines} lines ({summary.book_updates} book updates,"
            f" {summary.resolutions} results, {summary.pairs} pairs) into {summary.path}"
            + (f" and {summary.parts - 1} more parts" if summary.parts > 1 else ""),
            flush=True,
        )

    run_async(until_stopped(work))


@app.command()
def replay(
    recording: Annotated[Path, typer.Argument(help="the first part of a recording")],
    speed: Annotated[
        float, typer.Option(help="times real time; 0 runs as fast as it can", min=0)
    ] = 0.0,
    latency_ms: Annotated[
        str,
        typer.Option(
            help="order latency: one number for both venues, or kalshi=MS,polymarket=MS"
            " (default: PREDARB_PAPER_LATENCY_MS_KALSHI / _POLYMARKET)"
        ),
    ] = "",
) -> None:
    """Run the whole engine on a recording, offline, and print the report."""
    import time

    from predarb.rehearsal.replay import parse_latencies
    from predarb.rehearsal.replay import replay as replay_recording

    settings = load_or_exit()
    setup_logging(
        settings.log_level if "log_level" in settings.model_fields_set else "WARNING",
        settings.log_format.value,
        settings.secrets(),
    )
    try:
        latencies = parse_latencies(latency_ms, settings.paper_latencies_ms())
    except ValueError as exc:
        fail(f"--latency-ms: {exc}")
    started = time.monotonic()
    report = run_async(
        lambda: replay_recording(settings, recording, latency_ms=latencies, speed=speed)
    )
    print(report.text())
    print(f"replayed in {time.monotonic() - started:.1f} s", file=sys.stderr)


def invoked_as() -> str:
    """How the user ran predarb, to tell them the next command they can type."""
    argv0 = sys.argv[0]
    if Path(argv0).name == "__main__.py":
        return "python -m predarb"
    if shutil.which("predarb") == str(Path(argv0).resolve()) or os.sep not in argv0:
        return "predarb"
    return argv0


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
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    try:
        app()
    except SystemExit as exc:
        _exit_soon(exc.code if isinstance(exc.code, int) else 1)
        raise


def _exit_soon(code: int) -> None:
    """Once the command has ended, the process exits within ``EXIT_DEADLINE_S`` even if a
    thread would keep the interpreter waiting for it."""

    def force() -> None:
        stuck = [t.name for t in threading.enumerate() if not t.daemon and t.is_alive()]
        print(f"predarb: exit forced; threads still running: {stuck}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    timer = threading.Timer(EXIT_DEADLINE_S, force)
    timer.daemon = True
    timer.start()
