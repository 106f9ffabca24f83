"""Which price form a Kalshi ``orderbook_delta`` subscription sends its NO ladder in
(venue-apis 0.1 #3, ``getting_started/order_direction``, ``asyncapi.yaml``). No I/O.

We subscribe with ``use_yes_price: true``: NO levels on the YES scale (a NO level at
0.52 is a NO bid at 0.48). Kalshi will make that the default and then drop the flag, so
it is the form to expect; but no frame says which form it is in (the snapshot has only
``market_ticker``, ``market_id`` and the two ladders; the ``subscribed`` reply only
``channel`` and ``sid``), and a venue not honouring the flag would send NO-leg prices
that often still read as a valid book (YES bids 0.30 and NO levels at 0.40 are an
uncrossed book either way). So the form is found, once per subscription:

- a snapshot whose NO ladder reads the same either way (none, or symmetric) decides
  nothing, and needs nothing decided;
- one that is a valid (uncrossed) book in one form only is in that form;
- one valid in both is compared with the market's REST book read just before
  subscribing: the form whose NO bids agree with it more is the form;
- otherwise (no REST book, or a tie) the form is unknown: ``FormUnknown``, and the
  stream resyncs from REST rather than guess.

A NO delta before any decision is judged the same way, without a REST book to ask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from predarb.domain import ONE, ZERO, Level
from predarb.marketdata import StreamGap

Ladder = dict[Decimal, Decimal]  # price -> size

FORM_UNKNOWN = "price form of the NO ladder unknown"


class FormUnknown(StreamGap):
    """Both forms read as a valid book and nothing tells them apart."""


def as_no_bids(sent: Sequence[Level], yes_scale: bool) -> Ladder:
    """The NO bids a sent NO ladder stands for."""
    out: Ladder = {}
    for lv in sent:
        p = ONE - lv.price if yes_scale else lv.price
        out[p] = out.get(p, ZERO) + lv.size
    return out


def crossed(yes: Mapping[Decimal, Decimal], no: Mapping[Decimal, Decimal]) -> bool:
    """A locked or crossed book: Kalshi would have matched it."""
    return bool(yes and no and max(yes) + max(no) >= ONE)


def _agreement(no: Mapping[Decimal, Decimal], rest: Mapping[Decimal, Decimal]) -> int:
    """How much a reading agrees with the REST NO bids: prices in both, and sizes too."""
    return sum((p in rest) + (rest.get(p) == s) for p, s in no.items())


def snapshot_form(
    ticker: str,
    yes: Mapping[Decimal, Decimal],
    sent_no: Sequence[Level],
    rest_no: Mapping[Decimal, Decimal] | None,
) -> bool | None:
    """True for the YES-price form, False for NO-leg, None when both read the same."""
    readings = {True: as_no_bids(sent_no, True), False: as_no_bids(sent_no, False)}
    if readings[True] == readings[False]:
        return None
    valid = [form for form, no in readings.items() if not crossed(yes, no)]
    if not valid:
        raise StreamGap(f"{ticker}: snapshot crossed in either price form")
    if len(valid) == 1:
        return valid[0]
    if rest_no is not None:
        scores = {form: _agreement(no, rest_no) for form, no in readings.items()}
        if scores[True] != scores[False]:
            return scores[True] > scores[False]
    raise FormUnknown(f"{ticker}: {FORM_UNKNOWN}")


def delta_form(
    ticker: str,
    yes: Mapping[Decimal, Decimal],
    no: Mapping[Decimal, Decimal],
    price: Decimal,
    delta: Decimal,
) -> bool | None:
    """The form a NO delta at ``price`` must be in to leave a valid book (None: the
    same either way)."""
    if ONE - price == price:
        return None
    valid = []
    for form, p in ((True, ONE - price), (False, price)):
        if not ZERO < p < ONE:
            continue
        size = no.get(p, ZERO) + delta
        after = {**no, p: size} if size else {k: v for k, v in no.items() if k != p}
        if size >= 0 and not crossed(yes, after):
            valid.append(form)
    if len(valid) == 1:
        return valid[0]
    if not valid:
        raise StreamGap(f"{ticker}: NO delta at {price} fits neither price form")
    raise FormUnknown(f"{ticker}: {FORM_UNKNOWN}")
