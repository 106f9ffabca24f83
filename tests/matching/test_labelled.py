"""Precision and recall of the matcher on the labelled set (real and written records)."""

from __future__ import annotations

from predarb.domain import Venue
from predarb.matching.codec import format_pair_line
from predarb.matching.matcher import Matcher
from tests.matching.labelled import load, worlds_of


def test_precision_is_one_and_recall_is_reported() -> None:
    data = load()
    pairs = Matcher().match(data.kalshi, data.poly)
    tradable = [p for p in pairs if p.tradable]
    correct = [p for p in tradable if worlds_of(p) in data.pairs]
    wrong = [format_pair_line(p) for p in tradable if worlds_of(p) not in data.pairs]
    found = {data.pairs[worlds_of(p)] for p in correct}
    missed = sorted(set(data.pairs.values()) - found)

    precision = len(correct) / len(tradable) if tradable else 1.0
    recall = len(found) / len(data.pairs)
    print(
        f"\nlabelled set: {len(data.kalshi)} Kalshi, {len(data.poly)} Polymarket markets; "
        f"{len(pairs)} pairs ({len(tradable)} tradable); "
        f"precision {precision:.3f}, recall {recall:.3f} ({len(found)}/{len(data.pairs)})"
    )
    for name in missed:
        print(f"  missed: {name}")
    assert not wrong, "false tradable pairs:\n" + "\n".join(wrong)
    assert precision == 1.0


def test_hard_negatives_never_trade_together() -> None:
    data = load()
    pairs = [p for p in Matcher().match(data.kalshi, data.poly) if p.tradable]
    for name, kalshi_ids, poly_ids in data.negatives:
        for p in pairs:
            joined = kalshi_ids <= set(p.markets(Venue.KALSHI)) and poly_ids <= set(
                p.markets(Venue.POLYMARKET)
            )
            assert not joined, f"{name}: {format_pair_line(p)}"


def test_every_labelled_pair_is_found() -> None:
    """Recall on the labelled set is complete today; a regression shows up here by name."""
    data = load()
    found = {worlds_of(p) for p in Matcher().match(data.kalshi, data.poly) if p.tradable}
    assert sorted(name for w, name in data.pairs.items() if w not in found) == []
