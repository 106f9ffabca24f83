"""The web dashboard, served by the bot's own process on the engine's event loop.

``prepare`` checks the settings and binds the port before anything else starts (a
remote host without a strong token, or a taken port, stops the start with exit 2);
``Dashboard`` serves the pages, the JSON API and the live stream.
"""

from __future__ import annotations

import socket

from predarb.config import Settings
from predarb.web.access import Access, listen, resolve
from predarb.web.server import Dashboard


def prepare(settings: Settings) -> tuple[Access, socket.socket] | None:
    """The access rules and the bound socket, or None when ``PREDARB_WEB_PORT=0``."""
    access = resolve(settings)
    return None if access is None else (access, listen(access))


__all__ = ["Access", "Dashboard", "prepare"]
