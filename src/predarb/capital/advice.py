"""The capital advice job: once a UTC day at most, the chat is told which venue cannot
fund the next trades and from where to move the money (``capital.view``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal

from predarb.capital.view import capital_view
from predarb.notify import messages
from predarb.notify.base import Alert, AlertKind
from predarb.store import Store

ADVICE_DAY = "capital_advice_day"  # the UTC day the last move advice was sent


async def advise_once(
    store: Store,
    *,
    needed: Decimal,
    notify: Callable[[Alert], Awaitable[None]],
    now: datetime,
) -> list[str]:
    """Tell the chat, at most once a UTC day, what to move where."""
    advice = (await capital_view(store, needed=needed)).advice()
    day = now.date().isoformat()
    if not advice or await store.get_state(ADVICE_DAY) == day:
        return []
    await store.set_state(ADVICE_DAY, day, now)
    await notify(messages.info("CAPITAL: " + "; ".join(advice), AlertKind.BALANCE_LOW))
    return advice
