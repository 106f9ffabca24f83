"""Listing and matching at the venues' real size: 100,000 Kalshi x 200,000 Polymarket.

Run: ``.venv/bin/python -m bench.bench_matching_scale [--scale 0.1]`` (a fresh process;
the full size takes about a minute of both cores' time: run it rarely).

Pages of venue JSON are generated (seeded) from the recorded ones in ``tests/fixtures``
(every field of a recorded Kalshi ``/events?with_nested_markets`` market and of a
recorded Gamma ``/events`` market), in the shapes both venues list: politics and world
events with one Kalshi market per outcome against Polymarket's per-outcome yes/no markets
(some with another deadline), games (two Kalshi team markets, one Polymarket moneyline),
crypto strike ladders, and Polymarket-only noise. "Listing" is what the venue clients do
with each page: ``json.loads`` and the adapters' parsers. Matching is
``Matcher().match``. Peak resident memory is the process's high-water mark; steady is
what is left once the listing is dropped and only the paired markets are kept, as the
engine keeps them. The baseline is the number of comparisons an all-pairs matcher makes
(and the blocked matcher's comparisons per market at a tenth of the size: flat is linear).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import rss_mb
from predarb.domain import Market
from predarb.matching.aliases import load_aliases
from predarb.matching.matcher import Matcher
from predarb.venues.kalshi import wire as kwire
from predarb.venues.polymarket.wire import gamma_events

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
KALSHI_PAGE = 200  # events per /events page (the client's limit)
POLY_PAGE = 100  # events per Gamma /events page
FIRST = (
    "Ana",
    "Boris",
    "Chen",
    "Dara",
    "Elif",
    "Femi",
    "Gita",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Lars",
    "Mira",
    "Nikos",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sami",
    "Tomas",
)
SYLLABLES = ("ka", "ro", "mi", "ten", "ba", "lo", "vi", "sar", "du", "nel", "po", "fi", "gan")
FAMILIES = (
    # (Kalshi event title, Kalshi market title, Polymarket question); {x} the outcome.
    (
        "Who will {actor} meet before 2027?",
        "Will {actor} meet in person {x} before Jan 1, 2027?",
        "Will {short} meet with {x} in 2026?",
    ),
    (
        "Who will {actor} pardon?",
        "Will {x} receive a presidential pardon before Jan 1, 2027?",
        "Will {short} pardon {x} before 2027?",
    ),
    (
        "Which places will {actor} visit?",
        "Will {actor} visit {x} before Jul 1, 2026?",
        "Will {short} enter {x} by June 30, 2026?",
    ),
)
COINS = (("BTC", "Bitcoin"), ("ETH", "Ethereum"), ("SOL", "Solana"))
# How often Polymarket lists a Kalshi event too (then about half of its outcomes): about
# one Kalshi market in twelve ends up paired, as in the venues' real overlap.
LISTED_ON_BOTH = 0.3


def _recorded() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    page = json.loads((FIXTURES / "kalshi" / "markets__page1.json").read_text())
    events = json.loads(
        (FIXTURES / "polymarket" / "gamma_events__list_active_2026-01.json").read_text()
    )
    event = {k: v for k, v in events[0].items() if k != "markets"}
    return page["markets"][0], event, events[0]["markets"][0]


class World:
    """Seeded generator of both venues' listings, page by page: family ``n`` gives the
    same Kalshi and Polymarket events whichever stream asks, so nothing is held."""

    def __init__(self, n_kalshi: int, n_poly: int, seed: int = 7) -> None:
        self.n_kalshi, self.n_poly, self.seed = n_kalshi, n_poly, seed
        self.k_market, self.p_event, self.p_market = _recorded()
        self.teams = sorted(load_aliases().leagues["nba"].names.items())
        self.families = 0  # how many families the Kalshi stream used

    def _name(self, n: int) -> str:
        rng = random.Random(n)
        last = "".join(rng.choice(SYLLABLES) for _ in range(4)).capitalize()
        return f"{FIRST[n % len(FIRST)]} {last}"

    def _k(self, ticker: str, event: str, title: str, sub: str, rules: str) -> dict[str, Any]:
        m = dict(self.k_market)
        m.update(
            ticker=ticker,
            event_ticker=event,
            title=title,
            yes_sub_title=sub,
            no_sub_title=sub,
            rules_primary=rules,
            status="active",
            strike_type="custom",
            close_time="2027-01-01T15:00:00Z",
            expected_expiration_time="2027-01-01T15:00:00Z",
        )
        m.pop("floor_strike", None)
        return m

    def _p(self, mid: str, question: str, sub: str, outcomes: tuple[str, ...]) -> dict[str, Any]:
        m = dict(self.p_market)
        token = 10**70 + 2 * int(mid.replace("-", ""))
        m.update(
            id=mid,
            question=question,
            groupItemTitle=sub,
            slug=f"m-{mid}",
            outcomes=json.dumps(list(outcomes)),
            conditionId=f"0x{mid.replace('-', ''):0>64}",
            clobTokenIds=json.dumps([str(token), str(token + 1)]),
            description=f'This market will resolve to "Yes" if {question[5:-1]}. '
            + self.p_market["description"],
            endDate="2026-12-31T12:00:00Z",
            closed=False,
        )
        return m

    def _event(self, n: int, title: str, markets: list[dict[str, Any]]) -> dict[str, Any]:
        event = dict(self.p_event)
        event.update(id=str(n), slug=f"event-{n}", title=title, markets=markets)
        return event

    def family(self, n: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Family ``n``: one Kalshi event and the Polymarket event listing it, if any."""
        rng = random.Random(self.seed * 1_000_003 + n)
        roll = rng.random()
        if roll < 0.5:  # a politics family: one Kalshi market per outcome
            fam = FAMILIES[rng.randrange(len(FAMILIES))]
            actor = self._name(rng.randrange(4000))
            short = actor.split()[-1]
            event = f"KXFAM{n}-27"
            outcomes = [
                self._name(10_000 + rng.randrange(200_000)) for _ in range(rng.randrange(5, 30))
            ]
            markets = []
            for i, x in enumerate(outcomes):
                title = fam[1].format(actor=actor, x=x)
                rules = f"If {title[5:-1]}, then the market resolves to Yes (rules of {actor})."
                markets.append(self._k(f"{event}-X{i}", event, title, x, rules))
            k_event = {
                "event_ticker": event,
                "series_ticker": f"KXFAM{n}",
                "title": fam[0].format(actor=actor),
                "category": "Politics",
                "markets": markets,
            }
            if rng.random() >= LISTED_ON_BOTH:
                return k_event, None
            listed = [x for x in outcomes if rng.random() < 0.5]
            qs = [
                self._p(f"{n}-{i}", fam[2].format(short=short, x=x), x, ("Yes", "No"))
                for i, x in enumerate(listed)
            ]
            return k_event, self._event(n, fam[0].format(actor=short), qs)
        if roll < 0.8:  # a game: two Kalshi team markets, one Polymarket moneyline
            (a, an), (b, bn) = rng.sample(self.teams, 2)
            ac, bc = a.split(":")[1], b.split(":")[1]
            day = 10 + rng.randrange(18)
            event = f"KXNBAGAME-26NOV{day}{ac}{bc}{n}"
            markets = [
                self._k(f"{event}-{c}", event, f"{an} at {bn} Winner?", nm, "")
                for c, nm in ((ac, an), (bc, bn))
            ]
            q = self._p(
                f"{n}-0",
                f"{an.split()[-1]} vs. {bn.split()[-1]}",
                "",
                (an.split()[-1], bn.split()[-1]),
            )
            q["slug"] = f"nba-{ac.lower()}-{bc.lower()}-2026-11-{day}"
            k_event = {
                "event_ticker": event,
                "series_ticker": "KXNBAGAME",
                "title": f"{an} at {bn}",
                "markets": markets,
            }
            if rng.random() >= LISTED_ON_BOTH * 2:  # games are listed on both more often
                return k_event, None
            return k_event, self._event(n, f"{an} vs. {bn}", [q])
        code, name = COINS[rng.randrange(3)]  # a crypto strike ladder, Kalshi only
        event = f"KX{code}D-26NOV{10 + rng.randrange(18)}17-{n}"
        markets = []
        for s in range(20):
            strike = 50_000 + 1000 * s
            m = self._k(
                f"{event}-T{strike}",
                event,
                f"{name} price on Nov 22?",
                f"${strike:,} or above",
                "CF Benchmarks BRTI",
            )
            m.update(strike_type="greater", floor_strike=strike)
            markets.append(m)
        return {
            "event_ticker": event,
            "series_ticker": f"KX{code}D",
            "title": f"{name} price",
            "markets": markets,
        }, None

    def _noise(self, n: int) -> dict[str, Any]:
        rng = random.Random(self.seed * 7_000_003 + n)
        words = ("election", "rain", "album", "ceasefire", "launch", "rate", "cup", "oscar")
        qs = []
        for i in range(rng.randrange(1, 20)):
            topic = " ".join(rng.sample(words, 3))
            who = self._name(300_000 + rng.randrange(400_000))
            qs.append(self._p(f"9{n}-{i}", f"Will {who} {topic} by June 30?", who, ("Yes", "No")))
        return self._event(10**7 + n, f"Noise {n}", qs)

    def kalshi_pages(self) -> Iterator[bytes]:
        count, n, page = 0, 0, []
        while count < self.n_kalshi:
            event, _ = self.family(n)
            page.append(event)
            count += len(event["markets"])
            n += 1
            if len(page) == KALSHI_PAGE:
                yield json.dumps({"events": page, "cursor": str(n)}).encode()
                page = []
        self.families = n
        if page:
            yield json.dumps({"events": page, "cursor": ""}).encode()

    def poly_pages(self) -> Iterator[bytes]:
        count, page = 0, []
        for n in range(self.families):
            _, event = self.family(n)
            if event is not None:
                page.append(event)
                count += len(event["markets"])
            if len(page) == POLY_PAGE:
                yield json.dumps(page).encode()
                page = []
        n = 0
        while count < self.n_poly:
            event = self._noise(n)
            page.append(event)
            count += len(event["markets"])
            n += 1
            if len(page) == POLY_PAGE:
                yield json.dumps(page).encode()
                page = []
        if page:
            yield json.dumps(page).encode()


def list_kalshi(pages: Iterator[bytes]) -> Iterator[Market]:
    """What the Kalshi client does with each ``/events`` page, one market at a time."""
    for body in pages:
        for event in kwire.each(json.loads(body)["events"], kwire.parse_event, "event"):
            yield from (kwire.parse_market(m, event=event) for m in event.markets)


def list_poly(pages: Iterator[bytes]) -> Iterator[Market]:
    """What the Polymarket client does with each Gamma ``/events`` page."""
    for body in pages:
        yield from gamma_events(json.loads(body))


class Timed:
    """Counts and times (CPU) what passes through."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items, self.n, self.seconds = items, 0, 0.0

    def __iter__(self) -> Iterator[Any]:
        while True:
            t = time.process_time()
            item = next(self.items, None)
            self.seconds += time.process_time() - t
            if item is None:
                return
            self.n += 1
            yield item


def _trim() -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise); what a long-running
    bot would do after a re-match."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(scale: float) -> dict[str, float]:
    n_k, n_p = int(100_000 * scale), int(200_000 * scale)
    world = World(n_k, n_p)
    gc.collect()
    base = rss_mb()
    c0 = time.process_time()
    t0 = time.perf_counter()
    # The generator's CPU (making each page's JSON) is the venues' work, not the bot's:
    # it is timed on its own and taken out of the figures.
    k_pages, p_pages = Timed(world.kalshi_pages()), Timed(world.poly_pages())
    kalshi = Timed(list_kalshi(iter(k_pages)))
    poly = Timed(list_poly(iter(p_pages)))
    matcher = Matcher()
    pairs = matcher.match(kalshi, poly)
    making = k_pages.seconds + p_pages.seconds
    wall = time.perf_counter() - t0 - making
    cpu = time.process_time() - c0 - making
    peak = peak_mb()
    kept = matcher.paired
    gc.collect()
    _trim()
    steady = rss_mb()
    tradable = sum(p.tradable for p in pairs)
    comparisons = matcher.comparisons
    listing = kalshi.seconds + poly.seconds - making
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{kalshi.n} Kalshi x {poly.n} Polymarket markets (scale {scale})")
    print(f"  machine load (1/5/15 min) at the end: {load} on {os.cpu_count()} cores")
    print(
        f"  listed and matched in {wall:.1f} s wall, {cpu:.1f} s CPU (CPU is what a loaded"
        f" machine does not inflate); of it listing (JSON, adapters) {listing:.1f} s CPU;"
        f" making the pages took {making:.1f} s more, not counted"
    )
    print(f"  {len(pairs)} pairs ({tradable} tradable), {len(kept)} paired markets kept")
    print(
        f"  comparisons: {comparisons} ({comparisons / (n_k + n_p):.2f} per market); all"
        f" pairs would be {n_k * n_p:.2e} ({n_k * n_p / max(comparisons, 1):.0f}x more)"
    )
    print(
        f"  resident: {base:.0f} MB before listing, peak {peak:.0f} MB,"
        f" steady {steady:.0f} MB after matching"
    )
    return {"seconds": wall, "cpu_seconds": cpu, "peak_mb": peak, "steady_mb": steady}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    full = run(args.scale)
    goal = full["seconds"] < 60 and full["peak_mb"] < 500 and full["steady_mb"] < 250
    print(f"goal (< 60 s, peak < 500 MB, steady < 250 MB): {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
