"""Trading limits, the blacklist and alert mutes changed from the phone (or the CLI)
without a redeploy, kept in ``bot_state`` so they survive restarts.

A change is validated by the configuration's own rules: the whole ``Settings`` is
validated again with the new value (``config.revalidate``), so a value out of range, or
a band turned upside down (``EXECUTOR_MIN_BET`` above ``EXECUTOR_MAX_BET``), is refused
with the same one line a bad ``.env`` gets. Once stored, every listener (the composition
root hands the new settings to the engine's risk checks) is told. A stored value wins
over the environment until it is reset (``/set NAME default``); one the environment
has since made invalid is dropped at start, with a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from predarb import reports
from predarb.config import ConfigError, Settings, revalidate
from predarb.control import Control
from predarb.notify.base import AlertKind
from predarb.risk import RiskLimits, RiskManager
from predarb.store import Store

log = logging.getLogger(__name__)

# The limits that may be changed at run time, by their variable names.
SETTABLE: tuple[str, ...] = (
    "EXECUTOR_MIN_BET",
    "EXECUTOR_MAX_BET",
    "EXECUTOR_MIN_ROI",
    "EXECUTOR_MAX_ROI",
    "EXECUTOR_MAX_DAILY_TRADES",
    "EXECUTOR_MAX_DAILY_LOSS",
    "EXECUTOR_MIN_PLATFORM_BALANCE",
    "EXECUTOR_MAX_EXPOSURE",
    "EXECUTOR_COOLDOWN_S",
    "EXECUTOR_MAX_QUOTE_AGE_S",
    "EXECUTOR_MAX_DEPTH_FRACTION",
    "EXECUTOR_HEDGE_BUDGET_CENTS",
    "EXECUTOR_UNWIND_STEPS",
    "EXECUTOR_PAIR_PARTIAL_LIMIT",
    "EXECUTOR_PAIR_BLOCK_HOURS",
    "EXECUTOR_DAILY_PARTIAL_LIMIT",
)
SET_PREFIX = "runtime:set:"  # + field name: the value as typed
BLACKLIST_KEY = "runtime:blacklist"  # {"add": [...], "remove": [...]}
MUTED_KEY = "runtime:muted"  # [alert kinds]
RESET = "default"
# A one-legged fill (and what stops trading) always reaches the phone.
NEVER_MUTED = frozenset({AlertKind.PARTIAL, AlertKind.EXPOSED, AlertKind.KILL_SWITCH})


class SettingRefused(ValueError):
    """A change that was not made; the message is one line saying why."""


@dataclass(frozen=True, slots=True)
class Limit:
    name: str  # the variable
    value: str
    source: str  # "set" (at run time), "env" (the environment or .env), "default"


def _field(name: str) -> str:
    return name.strip().lower()


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class Tunable(Protocol):
    """What takes new limits at once (the engine)."""

    settings: Settings
    limits: RiskLimits
    control: Control
    risk: RiskManager


def apply_to(engine: Tunable, settings: Settings) -> None:
    """The engine trades with ``settings`` from its next check on: risk, the kill
    switch's limits, the calculator's bet size and the hedge policy all read them."""
    limits = RiskLimits.from_settings(settings)
    engine.settings = settings
    engine.limits = limits
    engine.control.limits = limits
    engine.risk.set_limits(limits)


class RuntimeSettings:
    def __init__(self, store: Store, base: Settings, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.base = base  # from the environment, as started
        self.clock = clock
        self.overrides: dict[str, str] = {}  # field -> the value as typed
        self.added: set[str] = set()
        self.removed: set[str] = set()
        self.muted: set[AlertKind] = set()
        self.current = base
        self._listeners: list[Callable[[Settings], None]] = []

    def listen(self, listener: Callable[[Settings], None]) -> None:
        self._listeners.append(listener)

    # -- loading and building --------------------------------------------------------

    async def load(self) -> Settings:
        """What was changed before this start, applied over the environment."""
        rows = await self.store.query("SELECT key, value FROM bot_state WHERE key LIKE 'runtime:%'")
        state = {str(k): str(v) for k, v in rows}
        for key, value in state.items():
            field = key.removeprefix(SET_PREFIX)
            if key.startswith(SET_PREFIX) and field.upper() in SETTABLE:
                self.overrides[field] = value
        lists = json.loads(state.get(BLACKLIST_KEY, "{}"))
        self.added = {str(x) for x in lists.get("add", [])}
        self.removed = {str(x) for x in lists.get("remove", [])}
        self.muted = {
            AlertKind(k)
            for k in json.loads(state.get(MUTED_KEY, "[]"))
            if k in AlertKind._value2member_map_ and AlertKind(k) not in NEVER_MUTED
        }
        # Read only (the CLI reads beside a running bot): a value that no longer fits
        # is left out, and said so at each start until it is set again.
        accepted: dict[str, str] = {}
        pending = dict(self.overrides)
        progress = True
        while pending and progress:  # both ends of a band may depend on each other
            progress = False
            for field, value in list(pending.items()):
                try:
                    self._build({**accepted, field: value})
                except SettingRefused:
                    continue
                accepted[field] = pending.pop(field)
                progress = True
        for field, value in pending.items():
            log.warning(
                "%s %s, set at run time, no longer fits the configuration; left out",
                field.upper(),
                value,
            )
        self.overrides = accepted
        self.current = self._build()
        return self.current

    def _blacklist(self, added: Iterable[str], removed: Iterable[str]) -> str:
        items = (self.base.blacklist | set(added)) - set(removed)
        return ",".join(sorted(items))

    def _build(
        self,
        overrides: dict[str, str] | None = None,
        added: Iterable[str] | None = None,
        removed: Iterable[str] | None = None,
    ) -> Settings:
        changes: dict[str, Any] = dict(self.overrides if overrides is None else overrides)
        changes["executor_blacklist"] = self._blacklist(
            self.added if added is None else added, self.removed if removed is None else removed
        )
        try:
            return revalidate(self.base, **changes)
        except ConfigError as exc:
            raise SettingRefused(str(exc)) from None

    def _changed(self, settings: Settings) -> None:
        self.current = settings
        for listener in self._listeners:
            listener(settings)

    # -- limits ----------------------------------------------------------------------

    def limits(self) -> list[Limit]:
        out = []
        for name in SETTABLE:
            field = _field(name)
            if field in self.overrides:
                source = "set"
            elif field in self.base.model_fields_set:
                source = "env"
            else:
                source = "default"
            out.append(Limit(name, _text(getattr(self.current, field)), source))
        return out

    async def set_limit(self, name: str, value: str) -> Limit:
        """Change one limit (``value`` ``default`` drops the change); refused with the
        reason when the name is not a limit or the value breaks a rule."""
        name = name.strip().upper()
        if name not in SETTABLE:
            raise SettingRefused(
                f"{name or 'NAME'}: not a limit that can be set; one of {', '.join(SETTABLE)}"
            )
        field = _field(name)
        overrides = dict(self.overrides)
        if value.strip().lower() == RESET:
            overrides.pop(field, None)
        else:
            overrides[field] = value.strip()
        settings = self._build(overrides)
        self.overrides = overrides
        await self._persist_override(field, overrides.get(field))
        self._changed(settings)
        await self._remember_daily_limits()
        await self.store.log_event("setting_changed", self.clock(), name=name, value=value)
        log.warning("%s set to %s at run time", name, _text(getattr(settings, field)))
        return next(limit for limit in self.limits() if limit.name == name)

    async def _persist_override(self, field: str, value: str | None) -> None:
        if value is None:
            await self.store.delete_state(SET_PREFIX + field)
        else:
            await self.store.set_state(SET_PREFIX + field, value, self.clock())

    async def _remember_daily_limits(self) -> None:
        """``predarb status`` shows the limits the bot runs with (``reports``)."""
        now = self.clock()
        s = self.current
        await self.store.set_state(
            reports.LIMIT_DAILY_TRADES, str(s.executor_max_daily_trades), now
        )
        await self.store.set_state(reports.LIMIT_DAILY_LOSS, str(s.executor_max_daily_loss), now)

    # -- the blacklist -----------------------------------------------------------------

    @property
    def blacklist(self) -> frozenset[str]:
        return self.current.blacklist

    async def blacklist_add(self, item: str) -> bool:
        """Never trade ``item`` (a series, league, category or pair id). False if it
        already was."""
        key = _item(item)
        if key in self.blacklist:
            return False
        await self._blacklist_change(self.added | {key}, self.removed - {key})
        return True

    async def blacklist_remove(self, item: str) -> bool:
        key = _item(item)
        if key not in self.blacklist:
            return False
        await self._blacklist_change(self.added - {key}, self.removed | {key})
        return True

    async def _blacklist_change(self, added: set[str], removed: set[str]) -> None:
        settings = self._build(added=added, removed=removed)
        self.added, self.removed = added, removed
        value = json.dumps({"add": sorted(added), "remove": sorted(removed)})
        await self.store.set_state(BLACKLIST_KEY, value, self.clock())
        self._changed(settings)
        await self.store.log_event(
            "blacklist_changed", self.clock(), blacklist=self.current.executor_blacklist
        )

    # -- alert mutes -------------------------------------------------------------------

    def is_muted(self, kind: AlertKind) -> bool:
        return kind in self.muted and kind not in NEVER_MUTED

    async def mute(self, kind: str, on: bool) -> AlertKind:
        text = kind.strip().lower()
        if text not in AlertKind._value2member_map_:
            kinds = ", ".join(k.value for k in AlertKind if k not in NEVER_MUTED)
            raise SettingRefused(f"{text or 'KIND'}: not an alert kind; one of {kinds}")
        alert = AlertKind(text)
        if on and alert in NEVER_MUTED:
            raise SettingRefused(
                f"{alert.value} alerts can never be muted: a one-legged fill or a stopped"
                " bot always reaches you"
            )
        if on:
            self.muted.add(alert)
        else:
            self.muted.discard(alert)
        value = json.dumps(sorted(k.value for k in self.muted))
        await self.store.set_state(MUTED_KEY, value, self.clock())
        return alert


def _item(item: str) -> str:
    key = item.strip().lower()
    if not key or "," in key or len(key) > 200:
        raise SettingRefused("EXECUTOR_BLACKLIST: give one series, league, category or pair id")
    return key
