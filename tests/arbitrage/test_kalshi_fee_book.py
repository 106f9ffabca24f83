"""KalshiFeeBook: a series fee with its announced changes, the history of changes
(``show_historical``) against the fee as read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from predarb.arbitrage.fees import KalshiFeeBook

NOW = datetime(2026, 12, 1, tzinfo=UTC)
Q = "quadratic"


def _rate(book: KalshiFeeBook, at: datetime = NOW) -> Decimal | None:
    fee, _ = book.timeline("KXS", "KXS-E", at)
    return fee.rate if fee is not None else None


def test_changes_older_than_the_fee_read_are_already_in_it() -> None:
    book = KalshiFeeBook()
    book.read_series("KXS", (Q, Decimal(1)), NOW)
    # a change of a month ago, since undone by a change the schedule does not list
    book.schedule_series("KXS", NOW - timedelta(days=30), (Q, Decimal(3)))
    assert _rate(book) == Decimal("0.07")  # the fee as read, not the old change


def test_a_change_in_force_just_before_the_read_is_applied() -> None:
    """The read may not show a change that took effect a moment earlier."""
    book = KalshiFeeBook()
    book.read_series("KXS", (Q, Decimal(1)), NOW)
    book.schedule_series("KXS", NOW - timedelta(minutes=1), (Q, Decimal(2)))
    assert _rate(book) == Decimal("0.14")


def test_a_change_after_the_read_is_priced_from_its_moment() -> None:
    book = KalshiFeeBook()
    book.read_series("KXS", (Q, Decimal(1)), NOW)
    at = NOW + timedelta(hours=1)
    book.schedule_series("KXS", at, (Q, Decimal(2)))
    fee, changes = book.timeline("KXS", "KXS-E", NOW)
    assert fee is not None and fee.rate == Decimal("0.07")
    assert [(c.at, c.fee.rate if c.fee else None) for c in changes] == [(at, Decimal("0.14"))]
    assert _rate(book, at) == Decimal("0.14")
