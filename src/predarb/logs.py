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

# The ids a reader filters JSON lines by; every other ``extra=`` field is kept too.
CONTEXT_KEYS = ("event", "venue", "pair", "execution", "client_order_id", "code")
# What a bare LogRecord carries; anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v
        for k, v in record.__dict__.items()
        if k not in _RECORD_FIELDS and not k.startswith("_")
    }


def _variants(secret: str) -> set[str]:
    """A secret as it may appear: a hex key with or without its 0x prefix."""
    out = {secret}
    if secret[:2].lower() == "0x":
        out |= {secret[2:], secret[2:].lower(), secret.lower()}
    return out


class Redactor(logging.Filter):
    """Replaces each secret (and its obvious variants) in the rendered record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        every = {v for s in secrets if s for v in _variants(s)}
        self.secrets = sorted({s for s in every if len(s) >= 6}, key=len, reverse=True)

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
        for key, value in extra_fields(record).items():
            if isinstance(value, str):
                setattr(record, key, self.scrub(value))
            elif not isinstance(value, int | float | bool) and value is not None:
                setattr(record, key, self.scrub(str(value)))
        return True


def redact_also(secret: str) -> None:
    """Adds a secret made at run time (the dashboard's random token) to every installed
    redaction filter."""
    for handler in logging.getLogger().handlers:
        for f in handler.filters:
            if isinstance(f, Redactor) and secret not in f.secrets:
                f.secrets = sorted({*f.secrets, secret}, key=len, reverse=True)


def _context(event_key: str) -> Any:
    """Copies a record's ``extra=`` fields into the output; the ``event`` field (an
    arbitrage's event) goes under ``event_key`` so it never clobbers the message."""

    def add(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        record = event_dict.get("_record")
        if isinstance(record, logging.LogRecord):
            for key, value in extra_fields(record).items():
                if value is not None:
                    event_dict[event_key if key == "event" else key] = value
            if record.exc_text and not record.exc_info:  # a traceback the Redactor scrubbed
                event_dict["exception"] = record.exc_text
        return event_dict

    return add


def setup_logging(
    level: str = "INFO", fmt: str = "console", secrets: Iterable[str] = (), stream: Any = None
) -> Redactor:
    # JSON lines: the message is "msg" and "event" is the arbitrage's event.
    json_out = fmt == "json"
    renderer: Any = (
        structlog.processors.JSONRenderer(default=str)
        if json_out
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    rename: list[Any] = [structlog.processors.EventRenamer("msg", "_event")] if json_out else []
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _context("_event" if json_out else "evt"),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            *rename,
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
