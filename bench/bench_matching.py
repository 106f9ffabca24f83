"""Matching throughput: 10,000 Kalshi-like against 30,000 Polymarket-like markets.

Run: ``.venv/bin/python -m bench.bench_matching`` (or ``bench/bench_matching.py``).
Prints figures; asserts nothing. Markets are generated (seeded) in each venue's title
style: games (two Kalshi team markets, one Polymarket moneyline), totals, crypto
thresholds, plus Polymarket-only noise. The naive all-pairs baseline (every Kalshi
market scored against every Polymarket market with rapidfuzz) is timed on a subsample
in the same run and extrapolated.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rapidfuzz import fuzz

from predarb.domain import Contract, Market, Venue
from predarb.matching.aliases import ascii_lower, fold, load_aliases
from predarb.matching.matcher import Matcher

K, P = Venue.KALSHI, Venue.POLYMARKET
DAY0 = date(2026, 11, 22)
LEAGUES = ("nba", "nfl", "nhl", "mlb")
KALSHI_SERIES = {"nba": "KXNBAGAME", "nfl": "KXNFLGAME", "nhl": "KXNHLGAME", "mlb": "KXMLBGAME"}
COINS = (("BTC", "Bitcoin"), ("ETH", "Ethereum"), ("SOL", "Solana"))


def _kalshi(ticker: str, title: str, sub: str, extra: dict[str, str] | None = None) -> Market:
    return Market(
        K, ticker, ticker.rsplit("-", 1)[0], title,
        (Contract(K, ticker, "yes"), Contract(K, ticker, "no")),
        series=ticker.split("-")[0], subtitle=sub, extra=extra or {},
    )  # fmt: skip


def _poly(n: int, question: str, outcomes: tuple[str, str], slug: str, **kw: object) -> Market:
    mid = str(1_000_000 + n)
    contracts = tuple(Contract(P, mid, o, f"{mid}{i}") for i, o in enumerate(outcomes))
    return Market(P, mid, f"e{slug}", question, contracts, series=slug, **kw)  # type: ignore[arg-type]


def generate(n_kalshi: int, n_poly: int, seed: int = 1) -> tuple[list[Market], list[Market]]:
    rng = random.Random(seed)
    aliases = load_aliases()
    teams = {
        lg: sorted((e, n) for e, n in aliases.leagues[lg].names.items() if e.startswith(lg))
        for lg in LEAGUES
    }
    kalshi: list[Market] = []
    poly: list[Market] = []
    n = 0
    while len(kalshi) < n_kalshi:
        roll = rng.random()
        day = DAY0 + timedelta(days=rng.randrange(120))
        kdate = f"{day:%y}{day:%b}".upper() + f"{day:%d}"
        if roll < 0.7:
            lg = rng.choice(LEAGUES)
            (a, an), (b, bn) = rng.sample(teams[lg], 2)
            ac, bc = a.split(":")[1], b.split(":")[1]
            event = f"{KALSHI_SERIES[lg]}-{kdate}{ac}{bc}"
            title = f"{an} at {bn} Winner?"
            kalshi += [_kalshi(f"{event}-{ac}", title, an), _kalshi(f"{event}-{bc}", title, bn)]
            slug = f"{lg}-{ac.lower()}-{bc.lower()}-{day.isoformat()}"
            short = (an.split()[-1], bn.split()[-1])
            poly.append(_poly(n, f"{short[0]} vs. {short[1]}", short, slug))
            n += 1
        else:
            code, name = rng.choice(COINS)
            strike = rng.randrange(50, 150) * 1000
            when = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=22)
            on = f"{day:%b} {day.day}, {day.year}"
            kalshi.append(
                _kalshi(
                    f"KX{code}D-{kdate}17-T{strike}",
                    f"Will the {name} price be above ${strike:,} on {on}?",
                    f"${strike:,} or above",
                    {"strike_type": "greater", "floor_strike": str(strike)},
                )
            )
            kalshi[-1] = _with_times(kalshi[-1], when)
            question = f"Will {name} be above ${strike:,} on {day:%B} {day.day}?"
            poly.append(_with_times(_poly(n, question, ("Yes", "No"), f"{code.lower()}-{n}"), when))
            n += 1
    words = ("election", "rain", "album", "ceasefire", "launch", "rate", "cup", "oscar")
    while len(poly) < n_poly:
        day = DAY0 + timedelta(days=rng.randrange(365))
        topic = " ".join(rng.sample(words, 3))
        poly.append(_poly(n, f"Will {topic} happen by {day:%B} {day.day}?", ("Yes", "No"), "x"))
        n += 1
    return kalshi[:n_kalshi], poly[:n_poly]


def _with_times(m: Market, when: datetime) -> Market:
    from dataclasses import replace

    return replace(m, close_time=when, resolve_time=when, rules="CF Benchmarks BRTI")


def timed(kalshi: list[Market], poly: list[Market]) -> tuple[float, int]:
    # Start cold: the text caches would otherwise carry over from the smaller runs.
    fold.cache_clear()
    ascii_lower.cache_clear()
    matcher = Matcher()
    t0 = time.perf_counter()
    pairs = matcher.match(kalshi, poly)
    return time.perf_counter() - t0, len(pairs)


def naive_rate(kalshi: list[Market], poly: list[Market]) -> float:
    """Seconds per comparison of scoring every title against every title."""
    t0 = time.perf_counter()
    for k in kalshi:
        for p in poly:
            fuzz.token_set_ratio(k.title, p.title)
    return (time.perf_counter() - t0) / (len(kalshi) * len(poly))


def main() -> dict[str, tuple[float, float]]:
    kalshi, poly = generate(10_000, 30_000)
    print(f"generated {len(kalshi)} Kalshi and {len(poly)} Polymarket markets")
    sizes = []
    for frac in (4, 2, 1):
        k, p = kalshi[: len(kalshi) // frac], poly[: len(poly) // frac]
        seconds, pairs = timed(k, p)
        sizes.append((len(k) + len(p), seconds))
        print(f"  1/{frac}: {len(k):>6} x {len(p):>6}  {seconds:6.2f} s  {pairs} pairs")
    full = sizes[-1][1]
    per_market = [s / n for n, s in sizes]
    print(
        f"growth: time per market {per_market[0] * 1e6:.0f} / {per_market[1] * 1e6:.0f} / "
        f"{per_market[2] * 1e6:.0f} us at 1/4, 1/2, full (flat = linear); "
        f"full/quarter time ratio {full / sizes[0][1]:.2f} (4.0 = linear)"
    )
    rate = naive_rate(kalshi[:200], poly[:1000])
    naive = rate * len(kalshi) * len(poly)
    print(
        f"naive all-pairs rapidfuzz baseline: {rate * 1e9:.0f} ns per comparison, "
        f"extrapolated {naive:.0f} s for the full set (only title scores, no guards); "
        f"blocking is {naive / full:.0f}x faster"
    )
    print(f"goal: under 5 s on one core -> {'met' if full < 5 else 'NOT met'} ({full:.2f} s)")
    return {"matching 10k x 30k (s)": (full, naive)}


if __name__ == "__main__":
    main()
