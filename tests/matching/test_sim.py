"""The matcher recovers the simulator's ground truth, with the same mapping and verdict."""

from __future__ import annotations

import pytest

from predarb.domain import Venue
from predarb.matching.codec import format_pair_line
from predarb.matching.matcher import Matcher
from predarb.venues.sim import SimWorld
from tests.matching.labelled import worlds_of


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_ground_truth_recovered_exactly(seed: int) -> None:
    world = SimWorld(seed, n_games=8, n_crypto=3, n_soccer=2, n_decoys=6)
    pairs = Matcher().match(world.markets(Venue.KALSHI), world.markets(Venue.POLYMARKET))
    ours = {worlds_of(p): p for p in pairs}
    truth = {worlds_of(t): t for t in world.ground_truth()}
    for worlds, t in truth.items():
        assert worlds in ours, f"missing: {t.event}"
        assert ours[worlds].tradable == t.tradable, format_pair_line(ours[worlds])
        assert ours[worlds].exhaustive == t.exhaustive, format_pair_line(ours[worlds])
    false = [format_pair_line(p) for p in pairs if p.tradable and worlds_of(p) not in truth]
    assert not false, "\n".join(false)
