"""What every notifier (console, Telegram) receives: an ``Alert`` with its text
already built (HTML, every dynamic value escaped) by ``notify.messages``.

The trading core only knows ``Notifier``; a failing channel never stops it.
"""

from __future__ import annotations

import abc
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class AlertKind(StrEnum):
    EXECUTED = "executed"
    PARTIAL = "partial"
    EXPOSED = "exposed"
    KILL_SWITCH = "kill_switch"
    SETTLED = "settled"
    VENUE_DOWN = "venue_down"
    VENUE_UP = "venue_up"
    BALANCE_LOW = "balance_low"
    MISMATCH = "mismatch"
    PAIR_BLOCKED = "pair_blocked"
    DAILY_SUMMARY = "daily_summary"
    INFO = "info"


# Alerts that wake a human: sent at once (no batching wait) and with sound. Muting is
# another matter (``runtime_settings.NEVER_MUTED``): a partial fill, an exposed position
# and the kill switch can never be muted; a mismatch or a venue down can be, by /mute.
URGENT_KINDS = frozenset(
    {
        AlertKind.PARTIAL,
        AlertKind.EXPOSED,
        AlertKind.KILL_SWITCH,
        AlertKind.MISMATCH,
        AlertKind.VENUE_DOWN,
    }
)

_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    html: str  # Telegram HTML; dynamic values escaped by the builder

    @property
    def urgent(self) -> bool:
        return self.kind in URGENT_KINDS

    @property
    def plain(self) -> str:
        return html.unescape(_TAG.sub("", self.html))


class Notifier(abc.ABC):
    """A channel for alerts. ``send`` must not raise and must not block trading."""

    async def start(self) -> None:
        return None

    @abc.abstractmethod
    async def send(self, alert: Alert) -> None: ...

    async def stop(self) -> None:
        return None


class FanOut(Notifier):
    """Sends every alert to each channel; one failing channel never stops the others."""

    def __init__(self, channels: Sequence[Notifier]) -> None:
        self.channels = list(channels)

    async def start(self) -> None:
        for ch in self.channels:
            try:
                await ch.start()
            except Exception:
                log.exception("notifier %s failed to start", type(ch).__name__)

    async def send(self, alert: Alert) -> None:
        for ch in self.channels:
            try:
                await ch.send(alert)
            except Exception:
                log.exception("notifier %s failed to send %s", type(ch).__name__, alert.kind)

    async def stop(self) -> None:
        for ch in self.channels:
            try:
                await ch.stop()
            except Exception:
                log.exception("notifier %s failed to stop", type(ch).__name__)
