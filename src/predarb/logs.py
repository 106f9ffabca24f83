"""Logging: stdlib loggers everywhere, rendered by structlog as console lines or JSON,
with every configured secret redacted from every record (message, arguments,
exception text and ``extra`` fields alike)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"

# ``extra=`` keys worth keeping in structured output.
CONTEXT_KEYS = ("event", "venue", "pair", "execution", "client_order_id", "code")


class Redactor(logging.Filter):
    """Replaces each secret (and its obvious variants) in the rendered record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.scrub(formatted)
            record.exc_info = None
        for key, value in list(record.__dict__.items()):
            if key in CONTEXT_KEYS and isinstance(value, str):
                setattr(record, key, self.scrub(value))
        return True


def _context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                event_dict["evt" if key == "event" else key] = value
    return event_dict


def setup_logging(
    level: str = "INFO", fmt: str = "console", secrets: Iterable[str] = (), stream: Any = None
) -> Redactor:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _context,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Library chatter (HTTP requests, scheduler ticks) only when debugging.
    quiet = logging.WARNING if level != "DEBUG" else logging.DEBUG
    for name in ("httpx", "httpcore", "apscheduler", "telegram", "aiosqlite", "hpack"):
        logging.getLogger(name).setLevel(quiet)
    return redactor
