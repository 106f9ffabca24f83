"""Control from the phone, end to end: the real python-telegram-bot polls the fake Bot
API; /set, /blacklist, /unblock, /mute, /unwind and /chart change real SQLite state (and
risk), /unwind sells back through the real placer to the Kalshi and Polymarket fakes
over loopback, and a stranger changes nothing."""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from predarb import app
from predarb.config import Settings
from predarb.control import Control
from predarb.domain import ExecutionStatus, Venue
from predarb.engine import Engine
from predarb.execution import placer as placer_module
from predarb.execution.hedging import HedgePolicy
from predarb.execution.manual_unwind import unwind_execution
from predarb.execution.placer import Placer
from predarb.modes import Mode
from predarb.notify import chart, messages
from predarb.notify.base import AlertKind, FanOut
from predarb.notify.chart import balance_series
from predarb.notify.telegram import TelegramNotifier
from predarb.notify.telegram_control import Confirmations, Operations
from predarb.risk import RiskLimits, RiskManager
from predarb.runtime_settings import RuntimeSettings, SettingRefused, apply_to
from predarb.store import Store
from predarb.venues.base import VenueClient
from tests.execution.world import Fakes, make_venues, opportunity, running_fakes
from tests.fakes.scripted_venue import ScriptedVenue
from tests.fakes.telegram_server import TOKEN, FakeBotApi, Sent
from tests.notify.conftest import CHAT, STRANGER
from tests.notify.review_world import listing_venues
from tests.notify.seed import NOW, execution
from tests.notify.test_telegram_commands import ask
from tests.processes import run_predarb

D = Decimal
POLICY = HedgePolicy(unwind_steps=3)


def settings() -> Settings:
    return Settings.model_validate({})  # the defaults, whatever this shell's environment


class Tuned:
    """What ``apply_to`` changes, as the engine holds it."""

    def __init__(self, control: Control, s: Settings) -> None:
        self.settings = s
        self.limits = RiskLimits.from_settings(s)
        self.control = control
        self.risk = RiskManager(self.limits)


@pytest.fixture(autouse=True)
def fast_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placer_module, "LOOKUP_DELAY_S", 0.0)


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[Fakes]:
    async with running_fakes(tmp_path) as f:
        yield f


@pytest.fixture
async def venues(fakes: Fakes) -> AsyncIterator[dict[Venue, VenueClient]]:
    v = make_venues(fakes.cfg)
    yield v
    for client in v.values():
        await client.close()


@pytest.fixture
async def runtime(store: Store) -> RuntimeSettings:
    r = RuntimeSettings(store, settings(), lambda: NOW)
    await r.load()
    return r


@pytest.fixture
async def tuned(control: Control, runtime: RuntimeSettings) -> Tuned:
    t = Tuned(control, runtime.current)
    runtime.listen(lambda s: apply_to(t, s))
    return t


@pytest.fixture
async def placer(store: Store, venues: dict[Venue, VenueClient]) -> Placer:
    return Placer(store, venues, mode="paper", clock=lambda: datetime.now(UTC))


@pytest.fixture
async def phone(
    fake: FakeBotApi,
    control: Control,
    store: Store,
    runtime: RuntimeSettings,
    tuned: Tuned,
    placer: Placer,
) -> AsyncIterator[TelegramNotifier]:
    async def unwind(execution_id: str) -> str:
        return (await unwind_execution(placer, execution_id, POLICY)).text

    async def unblock(name: str) -> bool:
        return await store.unblock(name, NOW)

    notifier = TelegramNotifier(
        TOKEN,
        CHAT,
        fake.base_url,
        control,
        store,
        batch_window_s=0.2,
        clock=lambda: NOW,
        min_interval_s=0.01,
        poll_timeout_s=1.0,
        stop_timeout_s=2.0,
        operations=Operations(runtime, unwind=unwind, unblock=unblock),
    )
    await notifier.start()
    yield notifier
    await notifier.stop()


def png_size(data: bytes) -> tuple[int, int]:
    """Decode the PNG's chunks (signature, IHDR, CRCs, IDAT inflates, IEND): its size."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    stream = io.BytesIO(data[8:])
    chunks: dict[bytes, bytes] = {}
    idat = b""
    while True:
        length, kind = struct.unpack(">I4s", stream.read(8))
        body = stream.read(length)
        (crc,) = struct.unpack(">I", stream.read(4))
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IDAT":
            idat += body
        chunks.setdefault(kind, body)
        if kind == b"IEND":
            break
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert len(zlib.decompress(idat)) > width * height  # the pixels inflate
    return width, height


async def test_set_changes_risk_persists_and_refuses_bad_values(
    fake: FakeBotApi, store: Store, runtime: RuntimeSettings, tuned: Tuned, phone: TelegramNotifier
) -> None:
    refused = await ask(fake, "/set EXECUTOR_MAX_BET 1e9")
    assert refused.text.startswith("Refused: EXECUTOR_MAX_BET: must be a number above 0")
    assert "\n" not in refused.text
    assert tuned.risk.limits.max_bet == D("2.0")
    band = await ask(fake, "/set EXECUTOR_MAX_BET 0.5")
    assert band.text == "Refused: EXECUTOR_MAX_BET: must be at least EXECUTOR_MIN_BET"
    unknown = await ask(fake, "/set POLY_PRIVATE_KEY 0x00")
    assert unknown.text.startswith("Refused: POLY_PRIVATE_KEY: not a limit that can be set")

    ok = await ask(fake, "/set EXECUTOR_MAX_BET 7.5")
    assert ok.text == "EXECUTOR_MAX_BET is now <b>7.5</b> (set)."
    assert tuned.risk.limits.max_bet == D("7.5") and tuned.control.limits.max_bet == D("7.5")
    assert tuned.settings.executor_max_bet == D("7.5")
    limits = await ask(fake, "/limits")
    assert "EXECUTOR_MAX_BET = 7.5 <b>(set)</b>" in limits.text
    assert "EXECUTOR_MAX_DAILY_TRADES = 50" in limits.text

    again = RuntimeSettings(store, settings(), lambda: NOW)  # a restart
    assert (await again.load()).executor_max_bet == D("7.5")
    back = await ask(fake, "/set executor_max_bet default")
    assert back.text == "EXECUTOR_MAX_BET is now <b>2</b> (default)."
    assert tuned.risk.limits.max_bet == 2


async def test_blacklist_unblock_settings(
    fake: FakeBotApi, store: Store, runtime: RuntimeSettings, tuned: Tuned, phone: TelegramNotifier
) -> None:
    added = await ask(fake, "/blacklist add KXNBAGAME")
    assert added.text == "kxnbagame: never traded from now on."
    assert "kxnbagame" in tuned.risk.limits.blacklist
    assert (await ask(fake, "/blacklist add kxnbagame")).text.endswith("was already blacklisted.")
    await store.block_pair("pair-x", NOW + timedelta(hours=3), "two one-legged results")
    shown = await ask(fake, "/settings")
    assert "blacklist: kxnbagame" in shown.text
    assert "blocked pairs: pair-x until 11-22 21:00 UTC" in shown.text
    unblocked = await ask(fake, "/unblock pair-x")
    assert unblocked.text == "pair-x: unblocked: it may trade again."
    assert await store.pair_blocks(NOW) == {}
    assert (await ask(fake, "/unblock pair-x")).text == "pair-x: was not blocked."
    removed = await ask(fake, "/blacklist remove kxnbagame")
    assert removed.text == "kxnbagame: no longer blacklisted."
    assert tuned.risk.limits.blacklist == frozenset()
    again = RuntimeSettings(store, settings(), lambda: NOW)
    assert (await again.load()).blacklist == frozenset()


async def test_mute_unmute_and_partial_fills_are_never_muted(
    fake: FakeBotApi, store: Store, runtime: RuntimeSettings, phone: TelegramNotifier
) -> None:
    muted = await ask(fake, "/mute settled")
    assert muted.text == "settled alerts muted: not sent to this chat."
    refused = await ask(fake, "/mute partial")
    assert refused.text.startswith("Refused: partial alerts can never be muted")
    assert (await ask(fake, "/mute exposed")).text.startswith("Refused: exposed alerts")
    await phone.send(messages.info("SETTLED quietly", AlertKind.SETTLED))
    await phone.send(messages.info("PARTIAL loudly", AlertKind.PARTIAL))
    await fake.wait_for(lambda: any("PARTIAL loudly" in s.text for s in fake.sent))
    assert not any("SETTLED quietly" in s.text for s in fake.sent)
    again = RuntimeSettings(store, settings(), lambda: NOW)
    await again.load()
    assert again.is_muted(AlertKind.SETTLED) and not again.is_muted(AlertKind.PARTIAL)
    assert (await ask(fake, "/unmute settled")).text == "settled alerts unmuted."
    await phone.send(messages.info("SETTLED again", AlertKind.SETTLED))
    await fake.wait_for(lambda: any("SETTLED again" in s.text for s in fake.sent))


async def test_chart_sends_a_photo_whose_png_decodes(
    fake: FakeBotApi, store: Store, phone: TelegramNotifier
) -> None:
    await execution(store, "c-1", "Lakers @ Celtics", settle=True)
    await execution(store, "c-2", "Knicks @ Nets", at=NOW - timedelta(days=2), settle=True)
    fake.command("/chart", CHAT)
    await fake.wait_for(lambda: bool(fake.photos), timeout=20)
    photo = fake.photos[0]
    assert photo.chat_id == CHAT and photo.parse_mode == "HTML"
    assert photo.caption is not None and "(2 settled)" in photo.caption
    assert png_size(photo.data) == (800, 500)


# Shorter than python-telegram-bot's 5 s read timeout: a handler stuck on a held call
# (released only by that timeout) cannot be what answers in time.
PROMPT_S = 3.0


async def answered(fake: FakeBotApi, text: str) -> tuple[Sent, float]:
    """Send ``text``; its reply and the seconds it took."""
    before, sent_at = len(fake.sent), time.monotonic()
    fake.command(text, CHAT)
    reply = (await fake.wait_for_messages(before + 1, timeout=PROMPT_S))[before]
    return reply, time.monotonic() - sent_at


async def test_a_slow_chart_holds_no_command(
    fake: FakeBotApi, store: Store, control: Control, phone: TelegramNotifier
) -> None:
    """Issue 16: replies never hold command handling. While a /chart's sendPhoto hangs,
    /start, /status and /stop sent after it act and are answered at once."""
    await control.stop("stopped before the test")
    await execution(store, "c-1", "Lakers @ Celtics", settle=True)
    fake.hold("sendPhoto")
    fake.command("/chart", CHAT)
    await fake.wait_for(lambda: fake.held("sendPhoto") == 1, timeout=20)

    started, took_start = await answered(fake, "/start")
    assert started.text == "Trading turned <b>ON</b>." and control.enabled
    status, took_status = await answered(fake, "/status")
    assert status.text.startswith("<b>Status</b> mode paper, trading ON")
    stopped, took_stop = await answered(fake, "/stop")
    assert stopped.text.startswith("Trading turned <b>OFF</b>.") and not control.enabled
    assert fake.held("sendPhoto") == 1 and not fake.photos  # the photo still on its way
    print(f"\nbehind a hanging sendPhoto: /start {took_start:.3f} s, /stop {took_stop:.3f} s")
    assert max(took_start, took_status, took_stop) < 1.0

    fake.release("sendPhoto")
    await fake.wait_for(lambda: bool(fake.photos), timeout=20)
    assert fake.photos[0].caption is not None and "(1 settled)" in fake.photos[0].caption


async def unwind_prompt(fake: FakeBotApi, execution_id: str) -> tuple[Sent, str]:
    prompt = await ask(fake, f"/unwind {execution_id}")
    buttons = prompt.reply_markup["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["Sell back", "Cancel"]
    return prompt, str(buttons[0]["callback_data"])


async def test_unwind_does_nothing_until_confirmed(
    fake: FakeBotApi,
    fakes: Fakes,
    store: Store,
    placer: Placer,
    phone: TelegramNotifier,
) -> None:
    placement = await placer.execute(opportunity(fakes.cfg))
    assert placement.status is ExecutionStatus.SUCCESS
    ex_id = placement.execution_id
    orders_before = (len(fakes.kalshi_orders()), fakes.poly_posts())

    prompt, yes = await unwind_prompt(fake, ex_id)
    assert "Nothing is sent until you tap Sell back." in prompt.text
    cancel = yes.replace(":yes:", ":no:")
    fake.button(cancel, CHAT)
    await fake.wait_for_calls("editMessageText", 1)
    fake.button(yes, CHAT)  # the cancelled prompt's other button: it is spent
    await fake.wait_for_calls("answerCallbackQuery", 2)
    fake.button(yes, STRANGER)
    await ask(fake, "/help")
    assert (len(fakes.kalshi_orders()), fakes.poly_posts()) == orders_before
    record = await store.execution(ex_id)
    assert record is not None and record.status is ExecutionStatus.SUCCESS
    assert not [o for o in record.orders if o.role == "unwind"]

    _, yes = await unwind_prompt(fake, ex_id)
    n = len(fake.sent)
    fake.button(yes, CHAT)
    done = (await fake.wait_for_messages(n + 1, timeout=20))[n]
    assert done.text == f"{ex_id}: Unwound: everything it held is sold back."
    record = await store.execution(ex_id)
    assert record is not None and record.status is ExecutionStatus.UNWOUND
    assert {o.venue for o in record.orders if o.role == "unwind" and o.filled == 5} == {
        Venue.KALSHI,
        Venue.POLYMARKET,
    }
    assert sum(h.contracts for h in await store.holdings(ex_id)) == 0
    settled = await ask(fake, f"/unwind {ex_id}")
    assert settled.text == f"{ex_id} cannot be unwound: it holds nothing."


async def test_every_control_command_from_a_stranger_does_nothing(
    fake: FakeBotApi, store: Store, runtime: RuntimeSettings, phone: TelegramNotifier
) -> None:
    await execution(store, "s-1", "Lakers @ Celtics")
    await store.block_pair("pair-x", NOW + timedelta(hours=3), "blocked")
    # Something muted and blacklisted already, so that an /unmute or a /blacklist
    # remove that got through would show.
    await runtime.blacklist_add("kxnbagame")
    await runtime.mute("settled", True)
    for text in (
        "/settings",
        "/limits",
        "/set EXECUTOR_MAX_BET 9",
        "/blacklist add nba",
        "/blacklist remove kxnbagame",
        "/unblock pair-x",
        "/mute info",
        "/unmute settled",
        "/unwind s-1",
        "/chart",
        "/quality",
        "/daily",
    ):
        fake.command(text, STRANGER)
    reply = await ask(fake, "/help", n_before=0)
    assert reply.text == messages.help_text(messages.CONTROL_COMMANDS)
    assert len(fake.sent) == 1 and not fake.photos and not fake.sent_to(STRANGER)
    assert runtime.current.executor_max_bet == D("2.0")
    assert runtime.blacklist == frozenset({"kxnbagame"})
    assert runtime.muted == {AlertKind.SETTLED}
    assert await store.pair_blocks(NOW) == {"pair-x": NOW + timedelta(hours=3)}
    again = RuntimeSettings(store, settings(), lambda: NOW)
    loaded = await again.load()
    assert loaded.executor_max_bet == D("2.0") and loaded.blacklist == frozenset({"kxnbagame"})
    assert again.is_muted(AlertKind.SETTLED) and not again.is_muted(AlertKind.INFO)


async def test_every_new_command_is_in_the_menu_and_help(
    fake: FakeBotApi, phone: TelegramNotifier
) -> None:
    await fake.wait_for_calls("setMyCommands", 1)
    menu = [c["command"] for c in fake.calls_of("setMyCommands")[0].json("commands")]
    for name in ("quality", "daily", "chart", "settings", "limits", "set", "blacklist"):
        assert name in menu
    for name in ("unblock", "mute", "unmute", "unwind"):
        assert name in menu and f"/{name}:" in messages.help_text(messages.CONTROL_COMMANDS)
    assert (await ask(fake, "/help")).text == messages.help_text(messages.CONTROL_COMMANDS)


async def test_an_operation_not_handed_over_is_not_in_the_menu(
    fake: FakeBotApi, control: Control, store: Store, runtime: RuntimeSettings
) -> None:
    """Without an unwind (or unblock) operation, /unwind (/unblock) would only answer
    its usage: the menu and /help leave it out."""
    notifier = TelegramNotifier(
        TOKEN,
        CHAT,
        fake.base_url,
        control,
        store,
        clock=lambda: NOW,
        min_interval_s=0.01,
        poll_timeout_s=1.0,
        stop_timeout_s=2.0,
        operations=Operations(runtime),
    )
    await notifier.start()
    try:
        await fake.wait_for_calls("setMyCommands", 1)
        menu = [c["command"] for c in fake.calls_of("setMyCommands")[0].json("commands")]
        assert "set" in menu and "mute" in menu and "chart" in menu
        assert "unwind" not in menu and "unblock" not in menu
        help_reply = await ask(fake, "/help")
        assert "/set:" in help_reply.text and "/unwind:" not in help_reply.text
    finally:
        await notifier.stop()


def test_unwind_confirmations_expire_and_are_forgotten() -> None:
    now = [0.0]
    confirmations = Confirmations(ttl_s=300.0, monotonic=lambda: now[0])
    first = confirmations.add("ex-1")
    spent = confirmations.add("ex-2")
    assert confirmations.take(spent) == "ex-2" and confirmations.take(spent) is None
    now[0] = 301.0
    assert confirmations.take(first) is None  # shown too long ago
    old = [confirmations.add(f"old-{n}") for n in range(3)]
    now[0] = 700.0
    fresh = confirmations.add("ex-3")  # the three never tapped are dropped meanwhile
    assert len(confirmations) == 1
    assert confirmations.take(old[0]) is None and confirmations.take(fresh) == "ex-3"


async def test_the_daily_summary_is_followed_by_the_chart(
    fake: FakeBotApi, store: Store, control: Control, phone: TelegramNotifier
) -> None:
    from predarb import reports

    report = await reports.day_report(store, NOW.date(), NOW)
    await phone.send(messages.daily_summary("2026-11-22", await control.status(), report))
    await fake.wait_for(lambda: bool(fake.photos), timeout=20)
    await fake.wait_for(lambda: any("Daily summary" in s.text for s in fake.sent))
    assert png_size(fake.photos[0].data) == (800, 500)


async def test_stored_values_apply_in_any_order_and_misfits_are_left_out(store: Store) -> None:
    first = RuntimeSettings(store, settings(), lambda: NOW)
    await first.load()
    await first.set_limit("EXECUTOR_MAX_BET", "9")
    await first.set_limit("EXECUTOR_MIN_BET", "8")  # only valid once MAX_BET is 9
    again = RuntimeSettings(store, settings(), lambda: NOW)
    s = await again.load()
    assert (s.executor_min_bet, s.executor_max_bet) == (D(8), D(9))
    # The environment changed since: a stored value that no longer fits is left out.
    await store.set_state("runtime:set:executor_max_roi", "0.5", NOW)
    later = RuntimeSettings(store, settings(), lambda: NOW)
    s = await later.load()
    assert s.executor_max_roi == D(50) and s.executor_max_bet == D(9)
    refused = RuntimeSettings(store, settings(), lambda: NOW)
    await refused.load()
    with pytest.raises(SettingRefused):
        await refused.set_limit("EXECUTOR_MAX_BET", "7")  # below MIN_BET 8
    assert refused.current.executor_max_bet == D(9)


async def test_an_unwind_under_way_holds_no_command(
    fake: FakeBotApi,
    fakes: Fakes,
    store: Store,
    control: Control,
    placer: Placer,
    phone: TelegramNotifier,
) -> None:
    """Issue 16: the confirmed unwind (its answer, its edit, its orders) runs beside the
    command handling: with Telegram hanging on the "Unwinding..." edit, /status is
    answered at once and the unwind still finishes and reports."""
    placement = await placer.execute(opportunity(fakes.cfg))
    ex_id = placement.execution_id
    _, yes = await unwind_prompt(fake, ex_id)
    fake.hold("editMessageText")
    fake.button(yes, CHAT)
    await fake.wait_for(lambda: fake.held("editMessageText") == 1, timeout=20)

    status, took = await answered(fake, "/status")
    assert status.text.startswith("<b>Status</b>") and took < 1.0
    done = f"{ex_id}: Unwound: everything it held is sold back."
    await fake.wait_for(lambda: any(s.text == done for s in fake.sent), timeout=20)
    assert fake.held("editMessageText") == 1  # all of it while the edit still hangs
    record = await store.execution(ex_id)
    assert record is not None and record.status is ExecutionStatus.UNWOUND
    fake.release("editMessageText")
    await fake.wait_for_calls("editMessageText", 1)


async def test_a_limit_set_before_a_start_reaches_the_engine_and_so_does_a_later_set(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    """Through the composition root, as ``predarb run`` builds it: ``predarb set`` while
    no bot runs, then ``app.build`` on the database applies the value to the engine's
    risk limits from the start; a ``/set`` to the running bot changes them at once."""
    db = tmp_path / "root.sqlite3"
    done = run_predarb(
        ["set", "EXECUTOR_MAX_BET", "7.5"], {"PREDARB_DB_PATH": str(db)}, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    configured = Settings(
        _env_file=None,
        predarb_db_path=db,
        telegram_bot_token=TOKEN,
        telegram_chat_id=CHAT,
        telegram_base_url=fake.base_url,
    )
    assert configured.executor_max_bet == D(2)
    store = await Store.open(db)
    try:
        built = await app.build(
            store,
            configured,
            Mode.PAPER,
            dict(listing_venues()),
            None,
            say=None,
            echo_alerts=False,
            rematch_interval_s=900.0,
        )
        engine = built.engine
        assert built.settings.executor_max_bet == D("7.5")
        assert engine.settings.executor_max_bet == D("7.5")
        assert engine.risk.limits.max_bet == D("7.5") == engine.control.limits.max_bet
        await engine.notifier.start()
        try:
            reply = await ask(fake, "/set EXECUTOR_MAX_BET 9")
            assert reply.text == "EXECUTOR_MAX_BET is now <b>9</b> (set)."
            assert engine.risk.limits.max_bet == 9 == engine.limits.max_bet
            assert engine.control.limits.max_bet == 9 and engine.settings.executor_max_bet == 9
        finally:
            await engine.notifier.stop()
    finally:
        await store.close()


async def test_the_chart_draws_each_venues_balance_from_the_kept_history(store: Store) -> None:
    """The engine's balance job keeps a venue's balance at most every 5 minutes; the
    chart's lower panel is that history per venue, carried on to now."""
    kalshi, poly = ScriptedVenue(Venue.KALSHI), ScriptedVenue(Venue.POLYMARKET)
    at = [NOW - timedelta(minutes=30)]
    engine = Engine(
        settings(),
        store,
        {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly},
        FanOut([]),
        mode="paper",
        clock=lambda: at[0],
    )
    for minutes, k, p in (
        (0, "100", "50"),
        (2, "90", "50"),  # within 5 minutes of the last kept: not kept
        (6, "80", "55"),
    ):
        at[0] = NOW - timedelta(minutes=30) + timedelta(minutes=minutes)
        kalshi.balance, poly.balance = D(k), D(p)
        await engine.refresh_balances()
    history = await store.balance_history()
    start = NOW - timedelta(minutes=30)
    assert history == {
        Venue.KALSHI: [(start, D(100)), (start + timedelta(minutes=6), D(80))],
        Venue.POLYMARKET: [(start, D(50)), (start + timedelta(minutes=6), D(55))],
    }
    series = balance_series(history, engine.balances, NOW)
    fig = chart.figure([], series, NOW)
    lower = fig.axes[1]
    drawn = {line.get_label(): list(line.get_ydata()) for line in lower.get_lines()}
    assert drawn == {"kalshi": [100.0, 80.0, 80.0], "polymarket": [50.0, 55.0, 55.0]}
    assert png_size(chart.pnl_png([], series, NOW)) == (800, 500)
