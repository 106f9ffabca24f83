"""The console notifier: every alert, in plain text, to the log and to stdout."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from predarb.notify.base import Alert, Notifier

log = logging.getLogger("predarb.alerts")


class ConsoleNotifier(Notifier):
    def __init__(self, stream: TextIO | None = None, *, echo: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.echo = echo
        self.sent: list[Alert] = []  # what this run alerted, for the demo summary

    async def send(self, alert: Alert) -> None:
        self.sent.append(alert)
        text = alert.plain
        log.info("alert %s: %s", alert.kind.value, text.replace("\n", " | "))
        if self.echo:
            marker = "!!" if alert.urgent else "--"
            print(f"{marker} {text}", file=self.stream, flush=True)
