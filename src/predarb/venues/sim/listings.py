"""What the simulator lists: team and coin tables, and each event's markets written in
the style of the venue they are listed on (Kalshi tickers and rules, Polymarket slugs,
token ids and neg-risk groups), so that the matcher meets realistic names.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from predarb.arbitrage.fees import kalshi_schedule, polymarket_schedule
from predarb.domain import CENT, ONE, Contract, Market, Venue
from predarb.venues.sim.events import K, P, SimEvent, SimMarket

MILLI = Decimal("0.001")


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


class SimListings:
    """Creates events and lists their markets, drawing from the world's ``rng`` so that a
    seed fixes every name, id, spread and resolution time. ``now`` dates each new event;
    it resolves between half of ``resolve_after_s`` and ``resolve_after_s`` later."""

    def __init__(
        self, rng: random.Random, resolve_after_s: float, now: Callable[[], datetime]
    ) -> None:
        self._rng = rng
        self._resolve_after_s = resolve_after_s
        self._now = now
        self._poly_ids = rng.randint(1_800_000, 1_900_000)
        self._poly_events: dict[str, str] = {}

    def initial(
        self, day0: date, n_games: int, n_crypto: int, n_soccer: int, n_decoys: int
    ) -> list[SimEvent]:
        """The events of a new world, in listing order."""
        rng = self._rng
        events: list[SimEvent] = []
        leagues = list(LEAGUES)
        games: list[tuple[str, Team, Team]] = []
        for i in range(n_games):
            league = leagues[i % len(leagues)]
            used = {t for lg, a, h in games if lg == league for t in (a, h)}
            away, home = rng.sample([t for t in LEAGUES[league].teams if t not in used], 2)
            games.append((league, away, home))
            events.append(self._game(league, away, home, day0 + timedelta(days=i % 3), (K, P)))
        for i in range(n_crypto):
            coin = COINS[i % len(COINS)]
            strike = coin.strike + 2 * coin.step * (i // len(COINS))
            events.append(self._threshold(coin, strike, day0 + timedelta(days=8), (K, P)))
        used_clubs: set[Team] = set()
        for i in range(n_soccer):
            home, away = rng.sample([t for t in EPL if t not in used_clubs], 2)
            used_clubs |= {home, away}
            events.append(self._soccer(home, away, day0 + timedelta(days=1 + i % 2)))
        # Decoys: one venue only, close enough to a real pair to fool a careless matcher.
        for i in range(n_decoys):
            venue = P if i % 4 < 2 else K
            if i % 2 == 0 and games:
                league, away, home = games[(i // 2) % len(games)]
                day = day0 + timedelta(days=7 + i)
                events.append(self._game(league, away, home, day, (venue,)))
            elif n_crypto:
                coin = COINS[(i // 2) % min(n_crypto, len(COINS))]
                strike = coin.strike + (coin.step if venue is P else -coin.step)
                events.append(self._threshold(coin, strike, day0 + timedelta(days=8), (venue,)))
        return events

    def successor(self, ev: SimEvent, day: date) -> SimEvent:
        """A fresh event of the same kind as ``ev``, listed on both venues on ``day``."""
        head = ev.key.split("-")[0]
        if ev.kind == "game":
            away, home = self._rng.sample(LEAGUES[head.upper()].teams, 2)
            return self._game(head.upper(), away, home, day, (K, P))
        if ev.kind == "soccer":
            home, away = self._rng.sample(EPL, 2)
            return self._soccer(home, away, day)
        coin = next(c for c in COINS if c.code.lower() == head)
        return self._threshold(coin, coin.strike, day, (K, P))

    def _new_event(
        self, key: str, kind: str, title: str, outcomes: tuple[str, ...], logits: list[float]
    ) -> SimEvent:
        offset = timedelta(seconds=self._resolve_after_s * self._rng.uniform(0.5, 1.0))
        category = "crypto" if kind == "threshold" else "sports"
        return SimEvent(key, kind, title, category, outcomes, self._now() + offset, logits)

    def _list(self, ev: SimEvent, market: Market, outcome: int, mirror: int | None) -> None:
        if market.venue is K:
            half_spread = self._rng.choice((0.01, 0.015, 0.02))
        else:
            half_spread = self._rng.uniform(0.004, 0.015)
        market = replace(
            market, category=ev.category, close_time=ev.resolve_at, resolve_time=ev.resolve_at
        )
        ev.markets.setdefault(market.venue, []).append(
            SimMarket(market, outcome, mirror, half_spread)
        )

    def _game(
        self, league: str, away: Team, home: Team, day: date, venues: tuple[Venue, ...]
    ) -> SimEvent:
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
        return ev

    def _threshold(self, coin: Coin, strike: int, day: date, venues: tuple[Venue, ...]) -> SimEvent:
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
        return ev

    def _soccer(self, home: Team, away: Team, day: date) -> SimEvent:
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
        return ev

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
