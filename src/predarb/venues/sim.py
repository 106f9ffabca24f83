"""An offline, seeded world of matched Kalshi-like and Polymarket-like markets.

``SimWorld`` holds events (two-team games, crypto thresholds, 3-way soccer, and decoys
listed on one venue only), lists each venue's markets in that venue's own naming style, and
random-walks a fair probability per event. Each venue quotes around it with its own
drifting offset, spread and depth, so cross-venue arbitrage appears and disappears. Events
resolve after a while, consistently on both venues unless rigged otherwise.

``SimVenue`` is the ``VenueClient`` of one venue of a world. Nothing here touches the
network or the disk; everything is deterministic given the seed and the sequence of calls.
The latent probabilities are floats (a model quantity); every price is a Decimal on the
market's tick grid.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from predarb.arbitrage.fees import kalshi_schedule, polymarket_schedule
from predarb.domain import (
    CENT,
    ONE,
    Action,
    Contract,
    Fill,
    Level,
    Market,
    MarketStatus,
    OrderBook,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Pair,
    PairKind,
    Resolution,
    Venue,
    VenuePosition,
    World,
)
from predarb.venues.base import VenueClient
from predarb.venues.paper import PaperLedger, check_order

K, P = Venue.KALSHI, Venue.POLYMARKET
START = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
MILLI = Decimal("0.001")
VOID_PAYOUT = Decimal("0.5")


@dataclass(frozen=True, slots=True)
class Team:
    code: str  # Kalshi's ticker code
    name: str  # Kalshi's name
    short: str  # Polymarket's name


@dataclass(frozen=True, slots=True)
class League:
    series: str  # Kalshi series ticker
    teams: tuple[Team, ...]


@dataclass(frozen=True, slots=True)
class Coin:
    code: str
    name: str
    strike: int  # the paired threshold
    step: int  # how far decoy thresholds sit from it


def _teams(*rows: str) -> tuple[Team, ...]:
    return tuple(Team(*row.split("|")) for row in rows)


LEAGUES: dict[str, League] = {
    "NBA": League("KXNBAGAME", _teams(
        "LAL|Los Angeles Lakers|Lakers", "BOS|Boston Celtics|Celtics",
        "GSW|Golden State Warriors|Warriors", "NYK|New York Knicks|Knicks",
        "MIA|Miami Heat|Heat", "DEN|Denver Nuggets|Nuggets", "PHX|Phoenix Suns|Suns",
        "MIL|Milwaukee Bucks|Bucks", "DAL|Dallas Mavericks|Mavericks",
        "OKC|Oklahoma City Thunder|Thunder", "LAC|Los Angeles Clippers|Clippers",
        "CHI|Chicago Bulls|Bulls",
    )),
    "NFL": League("KXNFLGAME", _teams(
        "KC|Kansas City Chiefs|Chiefs", "BUF|Buffalo Bills|Bills",
        "PHI|Philadelphia Eagles|Eagles", "DAL|Dallas Cowboys|Cowboys",
        "SF|San Francisco 49ers|49ers", "BAL|Baltimore Ravens|Ravens",
        "DET|Detroit Lions|Lions", "GB|Green Bay Packers|Packers",
        "NYG|New York Giants|Giants", "NYJ|New York Jets|Jets",
    )),
    "NHL": League("KXNHLGAME", _teams(
        "TOR|Toronto Maple Leafs|Maple Leafs", "MTL|Montreal Canadiens|Canadiens",
        "BOS|Boston Bruins|Bruins", "NYR|New York Rangers|Rangers",
        "EDM|Edmonton Oilers|Oilers", "COL|Colorado Avalanche|Avalanche",
        "VGK|Vegas Golden Knights|Golden Knights", "FLA|Florida Panthers|Panthers",
        "DAL|Dallas Stars|Stars", "CHI|Chicago Blackhawks|Blackhawks",
    )),
    "MLB": League("KXMLBGAME", _teams(
        "NYY|New York Yankees|Yankees", "LAD|Los Angeles Dodgers|Dodgers",
        "BOS|Boston Red Sox|Red Sox", "CHC|Chicago Cubs|Cubs", "HOU|Houston Astros|Astros",
        "ATL|Atlanta Braves|Braves", "NYM|New York Mets|Mets",
        "SF|San Francisco Giants|Giants",
    )),
}  # fmt: skip
EPL = _teams(
    "ARS|Arsenal|Arsenal FC", "CHE|Chelsea|Chelsea FC", "LIV|Liverpool|Liverpool FC",
    "MCI|Manchester City|Manchester City FC", "MUN|Manchester United|Manchester United FC",
    "TOT|Tottenham|Tottenham Hotspur FC", "NEW|Newcastle|Newcastle United FC",
    "AVL|Aston Villa|Aston Villa FC", "BHA|Brighton|Brighton & Hove Albion FC",
    "EVE|Everton|Everton FC",
)  # fmt: skip
COINS = (
    Coin("BTC", "Bitcoin", 100_000, 5_000),
    Coin("ETH", "Ethereum", 4_000, 250),
    Coin("SOL", "Solana", 250, 10),
)


@dataclass(eq=False)
class _SimMarket:
    """One listed market. Its book is quoted on ``primary`` (Kalshi YES, Polymarket's
    first token); the other contract mirrors it (a bid at p is an ask at 1 - p)."""

    market: Market
    outcome: int  # index of the event outcome in which ``primary`` pays
    # The outcome in which ``mirror`` pays and nothing else does (None: several do, as for
    # a 3-way NO, or a tie is possible).
    mirror_outcome: int | None
    half_spread: float
    deviation: float = 0.0
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    taken_bids: dict[Decimal, Decimal] = field(default_factory=dict)
    taken_asks: dict[Decimal, Decimal] = field(default_factory=dict)

    @property
    def primary(self) -> Contract:
        return self.market.contracts[0]

    @property
    def mirror(self) -> Contract:
        return self.market.contracts[1]

    def paying_only_in(self, outcome: int) -> list[Contract]:
        """The contracts of this market that pay $1 in ``outcome`` and in no other."""
        sides = ((self.primary, self.outcome), (self.mirror, self.mirror_outcome))
        return [c for c, pays_in in sides if pays_in == outcome]


@dataclass(eq=False)
class SimEvent:
    """One real-world fact. ``outcomes`` are its mutually exclusive, exhaustive worlds."""

    key: str
    kind: str  # "game" | "threshold" | "soccer"
    title: str
    category: str
    outcomes: tuple[str, ...]
    resolve_at: datetime
    logits: list[float]
    markets: dict[Venue, list[_SimMarket]] = field(default_factory=dict)
    # Index of the winning outcome per venue once resolved; None means void.
    winners: dict[Venue, int | None] = field(default_factory=dict)
    rigged: dict[Venue, int | None] | None = None

    @property
    def venues(self) -> tuple[Venue, ...]:
        return tuple(v for v in (K, P) if self.markets.get(v))

    @property
    def resolved(self) -> bool:
        return bool(self.winners)

    def probabilities(self) -> list[float]:
        top = max(self.logits)
        weights = [math.exp(x - top) for x in self.logits]
        total = sum(weights)
        return [w / total for w in weights]


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
        self._resolve_after_s = resolve_after_s
        self._respawns = respawn
        self._spawned = 0
        self.steps = 0
        self.start = self.now()
        self._synced_at = self.start
        self.events: list[SimEvent] = []
        self._by_id: dict[tuple[Venue, str], _SimMarket] = {}
        self._owner: dict[tuple[Venue, str], SimEvent] = {}
        self._poly_ids = self._rng.randint(1_800_000, 1_900_000)
        self._poly_events: dict[str, str] = {}
        self._build(n_games, n_crypto, n_soccer, n_decoys)
        for ev in self.events:
            self._quote(ev)

    # -- time --------------------------------------------------------------------------

    def now(self) -> datetime:
        if self._clock is not None:
            return self._clock()
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

    def _build(self, n_games: int, n_crypto: int, n_soccer: int, n_decoys: int) -> None:
        rng, day0 = self._rng, self.start.date()
        leagues = list(LEAGUES)
        games: list[tuple[str, Team, Team]] = []
        for i in range(n_games):
            league = leagues[i % len(leagues)]
            used = {t for lg, a, h in games if lg == league for t in (a, h)}
            away, home = rng.sample([t for t in LEAGUES[league].teams if t not in used], 2)
            games.append((league, away, home))
            self._add_game(league, away, home, day0 + timedelta(days=i % 3), (K, P))
        for i in range(n_crypto):
            coin = COINS[i % len(COINS)]
            strike = coin.strike + 2 * coin.step * (i // len(COINS))
            self._add_threshold(coin, strike, day0 + timedelta(days=8), (K, P))
        used_clubs: set[Team] = set()
        for i in range(n_soccer):
            home, away = rng.sample([t for t in EPL if t not in used_clubs], 2)
            used_clubs |= {home, away}
            self._add_soccer(home, away, day0 + timedelta(days=1 + i % 2))
        # Decoys: one venue only, close enough to a real pair to fool a careless matcher.
        for i in range(n_decoys):
            venue = P if i % 4 < 2 else K
            if i % 2 == 0 and games:
                league, away, home = games[(i // 2) % len(games)]
                self._add_game(league, away, home, day0 + timedelta(days=7 + i), (venue,))
            elif n_crypto:
                coin = COINS[(i // 2) % min(n_crypto, len(COINS))]
                strike = coin.strike + (coin.step if venue is P else -coin.step)
                self._add_threshold(coin, strike, day0 + timedelta(days=8), (venue,))

    def _respawn(self, ev: SimEvent) -> None:
        """List a fresh event of the same kind, on a later day, in place of a resolved one."""
        self._spawned += 1
        day = self.start.date() + timedelta(days=13 + self._spawned)
        head = ev.key.split("-")[0]
        if ev.kind == "game":
            away, home = self._rng.sample(LEAGUES[head.upper()].teams, 2)
            self._add_game(head.upper(), away, home, day, (K, P))
        elif ev.kind == "soccer":
            home, away = self._rng.sample(EPL, 2)
            self._add_soccer(home, away, day)
        else:
            coin = next(c for c in COINS if c.code.lower() == head)
            self._add_threshold(coin, coin.strike, day, (K, P))
        self._quote(self.events[-1])

    def _new_event(
        self, key: str, kind: str, title: str, outcomes: tuple[str, ...], logits: list[float]
    ) -> SimEvent:
        offset = timedelta(seconds=self._resolve_after_s * self._rng.uniform(0.5, 1.0))
        category = "crypto" if kind == "threshold" else "sports"
        ev = SimEvent(key, kind, title, category, outcomes, self.now() + offset, logits)
        self.events.append(ev)
        return ev

    def _list(self, ev: SimEvent, market: Market, outcome: int, mirror: int | None) -> None:
        if market.venue is K:
            half_spread = self._rng.choice((0.01, 0.015, 0.02))
        else:
            half_spread = self._rng.uniform(0.004, 0.015)
        market = replace(
            market, category=ev.category, close_time=ev.resolve_at, resolve_time=ev.resolve_at
        )
        sim = _SimMarket(market, outcome, mirror, half_spread)
        ev.markets.setdefault(market.venue, []).append(sim)
        self._by_id[(market.venue, market.market_id)] = sim
        self._owner[(market.venue, market.market_id)] = ev

    def _add_game(
        self, league: str, away: Team, home: Team, day: date, venues: tuple[Venue, ...]
    ) -> None:
        series = LEAGUES[league].series
        slug = f"{league.lower()}-{away.code.lower()}-{home.code.lower()}-{day.isoformat()}"
        title = f"{away.name} at {home.name} Winner?"
        logits = [self._rng.gauss(0, 0.8), 0.0]
        ev = self._new_event(slug, "game", title, (away.name, home.name), logits)
        when = f"{day:%b} {day.day}, {day.year}"
        # 7:30 pm Eastern, the evening of ``day``.
        start = datetime.combine(day + timedelta(days=1), time(0, 30), UTC).isoformat()
        if K in venues:
            event_ticker = f"{series}-{_kdate(day)}{away.code}{home.code}"
            for i, team in enumerate((away, home)):
                rules = (
                    f"If {team.name} wins the {away.name} at {home.name} {league} game "
                    f"originally scheduled for {when}, then the market resolves to Yes."
                )
                ticker = f"{event_ticker}-{team.code}"
                market = _kalshi(ticker, event_ticker, title, team.name, series, rules)
                self._list(ev, market, i, None if league == "NFL" else 1 - i)
        if P in venues:
            question = f"{away.short} vs. {home.short}"
            rules = (
                f"This market refers to the {league} game between the {away.name} and the "
                f'{home.name} scheduled for {when}. It resolves to "{away.short}" if the '
                f'{away.name} win and to "{home.short}" if the {home.name} win.'
            )
            extra = {
                "sportsMarketType": "moneyline",
                "game_start_time": start,
                "tags": f"sports,{league.lower()}",
            }
            outcomes = (away.short, home.short)
            market = self._poly(question, outcomes, slug, slug, question, "", rules, CENT, extra)
            self._list(ev, market, 0, 1)

    def _add_threshold(self, coin: Coin, strike: int, day: date, venues: tuple[Venue, ...]) -> None:
        key = f"{coin.code.lower()}-above-{strike}-{day.isoformat()}"
        dollars = f"${strike:,}"
        title = f"{coin.name} above {dollars} on {day:%B} {day.day}"
        ev = self._new_event(
            key, "threshold", title, ("above", "not above"), [self._rng.gauss(0, 0.7), 0.0]
        )
        if K in venues:
            event_ticker = f"KX{coin.code}-{_kdate(day)}"
            question = (
                f"Will the {coin.name} price be above {dollars} on {day:%b} {day.day}, {day.year}?"
            )
            rules = (
                f"If the CF Benchmarks {coin.name} Real Time Index is above {dollars} at 5pm "
                f"EST on {day:%b} {day.day}, {day.year}, then the market resolves to Yes."
            )
            market = _kalshi(
                f"{event_ticker}-T{strike}",
                event_ticker,
                question,
                f"{dollars} or above",
                f"KX{coin.code}",
                rules,
            )
            extra = {**market.extra, "floor_strike": str(strike), "strike_type": "greater"}
            self._list(ev, replace(market, extra=extra), 0, 1)
        if P in venues:
            question = f"Will {coin.name} be above {dollars} on {day:%B} {day.day}?"
            event_slug = f"{coin.name}-above-on-{day:%B}-{day.day}".lower()
            rules = (
                f'This market will resolve to "Yes" if the CF Benchmarks {coin.name} Real Time '
                f"Index is above {dollars} at 17:00 ET on {day:%B} {day.day}, {day.year}."
            )
            market = self._poly(
                question,
                ("Yes", "No"),
                f"{event_slug}-{strike}",
                event_slug,
                f"{coin.name} above ___ on {day:%B} {day.day}?",
                f"{strike:,}",
                rules,
                MILLI,
                {"tags": f"crypto,{coin.name.lower()}"},
            )
            self._list(ev, market, 0, 1)

    def _add_soccer(self, home: Team, away: Team, day: date) -> None:
        slug = f"epl-{home.code.lower()}-{away.code.lower()}-{day.isoformat()}"
        title = f"{home.name} vs {away.name} Winner?"
        rng = self._rng
        logits = [rng.gauss(0.2, 0.5), rng.gauss(-0.3, 0.2), rng.gauss(0, 0.5)]
        ev = self._new_event(slug, "soccer", title, (home.name, "Draw", away.name), logits)
        event_ticker = f"KXEPLGAME-{_kdate(day)}{home.code}{away.code}"
        when = f"{day:%b} {day.day}, {day.year}"
        sides = ((home.code, home.name), ("TIE", "Tie"), (away.code, away.name))
        for i, (code, sub) in enumerate(sides):
            what = "ends in a tie" if code == "TIE" else f"is won by {sub}"
            rules = (
                f"If the {home.name} vs {away.name} professional soccer game scheduled for "
                f"{when} {what} after regulation time, then the market resolves to Yes."
            )
            ticker = f"{event_ticker}-{code}"
            self._list(ev, _kalshi(ticker, event_ticker, title, sub, "KXEPLGAME", rules), i, None)
        match = f"{home.short} vs. {away.short}"
        rules = (
            f"This market refers to the English Premier League game {match} on "
            f"{day.isoformat()}, counting 90 minutes plus stoppage time only."
        )
        start = datetime.combine(day, time(15, 0), UTC).isoformat()
        extra = {"game_start_time": start, "tags": "sports,soccer,epl"}
        questions = (
            (f"Will {home.short} win on {day.isoformat()}?", home.short),
            (f"Will {match} end in a draw?", f"Draw ({match})"),
            (f"Will {away.short} win on {day.isoformat()}?", away.short),
        )
        for i, (question, group) in enumerate(questions):
            market = self._poly(
                question, ("Yes", "No"), f"{slug}-{i}", slug, match, group, rules, MILLI, extra
            )
            self._list(ev, replace(market, neg_risk=True), i, None)

    def _poly(
        self,
        question: str,
        outcomes: tuple[str, str],
        market_slug: str,
        event_slug: str,
        event_title: str,
        group: str,
        rules: str,
        tick: Decimal,
        extra: dict[str, str],
    ) -> Market:
        rng = self._rng
        self._poly_ids += rng.randint(1, 40)
        market_id = str(self._poly_ids)
        event_id = self._poly_events.setdefault(event_slug, str(rng.randint(90_000, 190_000)))
        tokens = tuple(Contract(P, market_id, o, str(rng.getrandbits(255))) for o in outcomes)
        crypto = "crypto" in extra.get("tags", "")
        return Market(
            venue=P,
            market_id=market_id,
            event_id=event_id,
            title=question,
            contracts=tokens,
            series=event_slug,
            subtitle=group,
            rules=rules,
            tick_size=tick,
            min_order_size=Decimal(5),
            fee=polymarket_schedule(Decimal("0.07") if crypto else Decimal("0.05")),
            extra={
                "slug": market_slug,
                "event_title": event_title,
                "conditionId": f"0x{rng.getrandbits(256):064x}",
                **extra,
            },
        )


def _kalshi(
    ticker: str, event_ticker: str, title: str, sub: str, series: str, rules: str
) -> Market:
    return Market(
        venue=K,
        market_id=ticker,
        event_id=event_ticker,
        title=title,
        contracts=(Contract(K, ticker, "yes"), Contract(K, ticker, "no")),
        series=series,
        subtitle=sub,
        rules=rules,
        tick_size=CENT,
        min_order_size=ONE,
        fee=kalshi_schedule(),
        extra={
            "yes_sub_title": sub,
            "no_sub_title": sub,
            "market_type": "binary",
            "fee_type": "quadratic",
        },
    )


def _kdate(day: date) -> str:
    return f"{day:%y}{day:%b}".upper() + f"{day:%d}"


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


class SimVenue(VenueClient):
    """One venue of a ``SimWorld``: its markets and books, and orders filled against them
    (taking liquidity until the next step). ``follow_clock`` advances the world by its
    injected clock on every read."""

    def __init__(
        self,
        world: SimWorld,
        venue: Venue,
        *,
        balance: Decimal = Decimal(1000),
        follow_clock: bool = False,
    ) -> None:
        self.world = world
        self.venue = venue
        self._follow_clock = follow_clock
        self.ledger = PaperLedger(venue, balance, world.now)

    async def list_markets(self) -> list[Market]:
        self._advance()
        return self.world.markets(self.venue)

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        self._advance()
        books = {c: self.world.book(c) for c in contracts if c.venue is self.venue}
        return {c: b for c, b in books.items() if b is not None}

    async def place_order(self, order: OrderRequest) -> OrderResult:
        if (known := self.ledger.known(order.client_order_id)) is not None:
            return known
        market = self.world.market(self.venue, order.contract.market_id)
        refusal = check_order(order, market)
        if refusal is None and market is not None:
            refusal = self.ledger.affordable(order, market.fee)
        book = self.world.book(order.contract)
        if refusal is not None or market is None or book is None:
            code, msg = refusal or ("market_closed", "no book")
            return self.ledger.finish(order, OrderStatus.REJECTED, code, msg)
        levels = book.asks if order.action is Action.BUY else book.bids
        result, taken = self.ledger.execute(order, levels, market.fee)
        self.world.take(order.contract, order.action, taken)
        return result

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult | None:
        return self.ledger.known(client_order_id)

    async def cancel_order(self, venue_order_id: str) -> None:
        """Simulated orders never rest, so there is nothing to cancel."""

    async def get_fills(self, client_order_id: str = "") -> list[Fill]:
        return self.ledger.fills(client_order_id)

    async def get_balance(self) -> Decimal:
        return self.ledger.balance

    async def get_positions(self) -> list[VenuePosition]:
        return self.ledger.positions()

    async def get_resolution(self, market_id: str) -> Resolution | None:
        return self.world.resolution(self.venue, market_id)

    def _advance(self) -> None:
        if self._follow_clock:
            self.world.sync()
