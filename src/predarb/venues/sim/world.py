"""``SimWorld``: the simulator's clock, random walk, books and resolutions.

Each event's fair probability random-walks; each venue quotes around it with its own
drifting offset, spread and depth, so cross-venue arbitrage appears and disappears.
Events resolve after a while, consistently on both venues unless rigged otherwise. The
latent probabilities are floats (a model quantity); every price is a Decimal on the
market's tick grid.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from predarb.domain import (
    ONE,
    Action,
    Contract,
    Level,
    Market,
    MarketStatus,
    OrderBook,
    Pair,
    PairKind,
    Resolution,
    Venue,
    World,
)
from predarb.venues.sim.events import K, P, SimEvent, SimMarket
from predarb.venues.sim.listings import SimListings

START = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
VOID_PAYOUT = Decimal("0.5")


class SimWorld:
    """A seeded, deterministic world of events and both venues' markets and books.

    Time is the injected ``clock`` or, without one, an internal clock that starts at
    ``START`` and advances ``step_s`` per ``step()``. Each event resolves between half of
    ``resolve_after_s`` and ``resolve_after_s`` after it was listed; with ``respawn`` a
    resolved pair is replaced by a fresh event of the same kind, so long demos keep trading.
    """

    def __init__(
        self,
        seed: int,
        *,
        n_games: int = 6,
        n_crypto: int = 2,
        n_soccer: int = 2,
        n_decoys: int = 4,
        clock: Callable[[], datetime] | None = None,
        resolve_after_s: float = 600.0,
        step_s: float = 1.0,
        respawn: bool = False,
    ) -> None:
        if resolve_after_s <= 0 or step_s <= 0:
            raise ValueError("resolve_after_s and step_s must be positive")
        self.seed = seed
        self._rng = random.Random(seed)
        self._clock = clock
        self._step_s = step_s
        self._respawns = respawn
        self._spawned = 0
        self.steps = 0
        # With a clock, the world's time starts at its first sync (the first market read),
        # so that a slow start-up does not spend the lives of the first events unseen.
        self._offset = timedelta(0)
        self._begun = clock is None
        self.start = self.now()
        self._synced_at = self.start
        self.events: list[SimEvent] = []
        self._by_id: dict[tuple[Venue, str], SimMarket] = {}
        self._owner: dict[tuple[Venue, str], SimEvent] = {}
        self._listings = SimListings(self._rng, resolve_after_s, self.now)
        initial = self._listings.initial(self.start.date(), n_games, n_crypto, n_soccer, n_decoys)
        for ev in initial:
            self._add(ev)
        for ev in self.events:
            self._quote(ev)

    # -- time --------------------------------------------------------------------------

    def now(self) -> datetime:
        if self._clock is not None:
            return self._clock() - self._offset
        return START + timedelta(seconds=self.steps * self._step_s)

    def step(self, n: int = 1) -> None:
        """Advance the random walk ``n`` steps and re-quote every open market."""
        for _ in range(n):
            self.steps += 1
            for ev in self.events:
                if not ev.resolved:
                    self._walk(ev)
            self._settle_due()
            for ev in self.events:
                if not ev.resolved:
                    self._quote(ev)

    def sync(self, max_steps: int = 600) -> None:
        """With an injected clock: take one step per ``step_s`` elapsed since the last sync."""
        if self._clock is None:
            return
        if not self._begun:
            self._begun = True
            self._offset = self._clock() - self.start
            return
        due = int((self.now() - self._synced_at).total_seconds() // self._step_s)
        if due > 0:
            self._synced_at += timedelta(seconds=due * self._step_s)
            self.step(min(due, max_steps))

    # -- market data -------------------------------------------------------------------

    def markets(self, venue: Venue) -> list[Market]:
        self._settle_due()
        return [
            m.market
            for ev in self.events
            for m in ev.markets.get(venue, [])
            if m.market.status is MarketStatus.OPEN
        ]

    def market(self, venue: Venue, market_id: str) -> Market | None:
        self._settle_due()
        sim = self._by_id.get((venue, market_id))
        return sim.market if sim else None

    def book(self, contract: Contract) -> OrderBook | None:
        """The current book of ``contract`` net of what orders took this step, or None
        when the market is unknown or no longer open."""
        self._settle_due()
        sim = self._by_id.get((contract.venue, contract.market_id))
        if sim is None or sim.market.status is not MarketStatus.OPEN:
            return None
        bids = _net(sim.bids, sim.taken_bids)
        asks = _net(sim.asks, sim.taken_asks)
        if contract == sim.mirror:
            bids, asks = _mirrored(asks), _mirrored(bids)
        elif contract != sim.primary:
            return None
        m = sim.market
        return OrderBook(contract, bids, asks, self.now(), m.tick_size, m.min_order_size)

    def take(self, contract: Contract, action: Action, taken: Sequence[Level]) -> None:
        """Remove liquidity an order consumed, until the next step re-quotes."""
        sim = self._by_id[(contract.venue, contract.market_id)]
        from_asks = (action is Action.BUY) == (contract == sim.primary)
        side = sim.taken_asks if from_asks else sim.taken_bids
        for lv in taken:
            price = lv.price if contract == sim.primary else ONE - lv.price
            side[price] = side.get(price, Decimal(0)) + lv.size

    # -- resolution --------------------------------------------------------------------

    def set_resolution(self, key: str, kalshi: str | None, polymarket: str | None) -> None:
        """Rig how event ``key`` resolves on each venue: an outcome label, or None for a
        void. Different labels make the venues disagree (for settlement tests)."""
        ev = self.event(key)
        self_idx = {label: i for i, label in enumerate(ev.outcomes)}
        ev.rigged = {
            K: None if kalshi is None else self_idx[kalshi],
            P: None if polymarket is None else self_idx[polymarket],
        }

    def resolve_now(self, key: str) -> None:
        ev = self.event(key)
        if not ev.resolved:
            self._resolve(ev)

    def event(self, key: str) -> SimEvent:
        for ev in self.events:
            if ev.key == key:
                return ev
        raise KeyError(key)

    def resolution(self, venue: Venue, market_id: str) -> Resolution | None:
        self._settle_due()
        sim = self._by_id.get((venue, market_id))
        if sim is None:
            return None
        ev = self._owner[(venue, market_id)]
        if venue not in ev.winners:
            return None
        winner = ev.winners[venue]
        settled_at = sim.market.resolve_time
        if winner is None:
            halves = {sim.primary.side: VOID_PAYOUT, sim.mirror.side: VOID_PAYOUT}
            return Resolution(market_id, halves, void=True, settled_at=settled_at)
        won = Decimal(1 if winner == sim.outcome else 0)
        payouts = {sim.primary.side: won, sim.mirror.side: ONE - won}
        return Resolution(market_id, payouts, settled_at=settled_at)

    # -- ground truth ------------------------------------------------------------------

    def ground_truth(self) -> list[Pair]:
        """The true cross-venue pairs with their exact outcome mapping (decoys excluded).

        A game is one group pair. An NFL game can end in a tie, in which Kalshi's NO sides
        pay and Polymarket refunds half, so its pair holds only the team contracts and is
        neither exhaustive nor tradable (the matcher flags it the same way). Each outcome
        of a 3-way game is also a binary pair: YES/Yes against NO/No.
        """
        pairs: list[Pair] = []
        for ev in self.events:
            if ev.venues != (K, P):
                continue
            sims = [sim for v in (K, P) for sim in ev.markets[v]]
            worlds = [
                World(label, tuple(c for sim in sims for c in sim.paying_only_in(i)))
                for i, label in enumerate(ev.outcomes)
            ]
            tie = ev.key.startswith("nfl-")
            binary = all(len(ev.markets[v]) == 1 for v in (K, P))
            kind = PairKind.BINARY if binary else PairKind.GROUP
            pairs.append(self._pair(ev, f"sim-{ev.key}", kind, worlds, tie_possible=tie))
            if len(ev.outcomes) > 2:
                for i, label in enumerate(ev.outcomes):
                    k, p = (next(s for s in ev.markets[v] if s.outcome == i) for v in (K, P))
                    worlds = [
                        World(label, (k.primary, p.primary)),
                        World(f"not {label}", (k.mirror, p.mirror)),
                    ]
                    pairs.append(self._pair(ev, f"sim-{ev.key}-{i}", PairKind.BINARY, worlds))
        return pairs

    def _pair(
        self,
        ev: SimEvent,
        pair_id: str,
        kind: PairKind,
        worlds: list[World],
        *,
        tie_possible: bool = False,
    ) -> Pair:
        return Pair(
            pair_id=pair_id,
            kind=kind,
            event=ev.title,
            worlds=tuple(worlds),
            confidence=1.0,
            tradable=not tie_possible,
            exhaustive=not tie_possible,
            flags=("tie_possible",) if tie_possible else (),
            evidence="simulator ground truth",
            category=ev.category,
            series=tuple(ev.markets[v][0].market.series for v in (K, P)),
            resolve_time=ev.resolve_at,
        )

    # -- internals ---------------------------------------------------------------------

    def _walk(self, ev: SimEvent) -> None:
        rng = self._rng
        ev.logits = [x + rng.gauss(0, 0.05) for x in ev.logits]
        for sims in ev.markets.values():
            for sim in sims:
                jump = rng.choice((-1, 1)) * rng.uniform(0.05, 0.09) if rng.random() < 0.003 else 0
                sim.deviation = 0.85 * sim.deviation + rng.gauss(0, 0.005) + jump

    def _settle_due(self) -> None:
        now = self.now()
        due = [ev for ev in self.events if not ev.resolved and now >= ev.resolve_at]
        for ev in due:
            self._resolve(ev)
            if self._respawns and ev.venues == (K, P):
                self._respawn(ev)

    def _resolve(self, ev: SimEvent) -> None:
        if ev.rigged is not None:
            ev.winners = dict(ev.rigged)
        else:
            # A draw of its own, so that the result does not depend on the call sequence.
            draw = random.Random(f"{self.seed}:{ev.key}").random()
            cumulative, winner = 0.0, len(ev.outcomes) - 1
            for i, p in enumerate(ev.probabilities()):
                cumulative += p
                if draw < cumulative:
                    winner = i
                    break
            ev.winners = {v: winner for v in ev.venues}
        for sims in ev.markets.values():
            for sim in sims:
                sim.market = replace(sim.market, status=MarketStatus.SETTLED)
                sim.bids = sim.asks = ()

    def _quote(self, ev: SimEvent) -> None:
        probs = ev.probabilities()
        for sims in ev.markets.values():
            for sim in sims:
                mid = min(0.97, max(0.03, probs[sim.outcome] + sim.deviation))
                tick = sim.market.tick_size
                sim.bids, sim.asks = _ladder(mid, sim.half_spread, tick, self._rng)
                sim.taken_bids.clear()
                sim.taken_asks.clear()

    def _add(self, ev: SimEvent) -> None:
        self.events.append(ev)
        for venue, sims in ev.markets.items():
            for sim in sims:
                self._by_id[(venue, sim.market.market_id)] = sim
                self._owner[(venue, sim.market.market_id)] = ev

    def _respawn(self, ev: SimEvent) -> None:
        """List a fresh event of the same kind, on a later day, in place of a resolved one."""
        self._spawned += 1
        day = self.start.date() + timedelta(days=13 + self._spawned)
        fresh = self._listings.successor(ev, day)
        self._add(fresh)
        self._quote(fresh)


def _ladder(
    mid: float, half_spread: float, tick: Decimal, rng: random.Random
) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
    """A few levels each side of ``mid`` on the tick grid, within [tick, 1 - tick]."""
    t = float(tick)
    n = int(ONE / tick)  # ticks in a dollar
    best_bid = max(1, min(n - 2, math.floor((mid - half_spread) / t + 1e-9)))
    best_ask = max(best_bid + 1, min(n - 1, math.ceil((mid + half_spread) / t - 1e-9)))
    max_gap = max(1, round(0.02 / t))
    bids: list[Level] = []
    asks: list[Level] = []
    i, j = best_bid, best_ask
    for _ in range(rng.randint(3, 5)):
        if i >= 1:
            bids.append(Level(tick * i, Decimal(rng.randint(5, 200))))
        if j <= n - 1:
            asks.append(Level(tick * j, Decimal(rng.randint(5, 200))))
        i -= rng.randint(1, max_gap)
        j += rng.randint(1, max_gap)
    return tuple(bids), tuple(asks)


def _net(levels: tuple[Level, ...], taken: dict[Decimal, Decimal]) -> tuple[Level, ...]:
    if not taken:
        return levels
    net = (Level(lv.price, lv.size - taken.get(lv.price, Decimal(0))) for lv in levels)
    return tuple(lv for lv in net if lv.size > 0)


def _mirrored(levels: tuple[Level, ...]) -> tuple[Level, ...]:
    return tuple(Level(ONE - lv.price, lv.size) for lv in levels)
