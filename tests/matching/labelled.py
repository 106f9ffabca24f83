"""Loads the labelled matching set (tests/matching/data/labelled.json) as domain Markets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from predarb.domain import Market, Pair, Venue
from predarb.venues.kalshi.wire import parse_market
from predarb.venues.polymarket.wire import gamma_events, gamma_market
from tests.matching.builders import kalshi, poly
from tests.paths import FIXTURES

DATA = Path(__file__).parent / "data" / "labelled.json"

World = frozenset[str]


@dataclass(frozen=True)
class Labelled:
    kalshi: list[Market]
    poly: list[Market]
    pairs: dict[frozenset[World], str]  # exact worlds (contract keys) -> name
    negatives: list[tuple[str, frozenset[str], frozenset[str]]]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _fixture_markets(spec: dict[str, list[str]]) -> tuple[list[Market], list[Market]]:
    k: list[Market] = []
    for name in spec["kalshi"]:
        body = json.loads((FIXTURES / "kalshi" / name).read_text())
        k.extend(parse_market(m) for m in body.get("markets", []))
    p: list[Market] = []
    for name in spec["polymarket_markets"]:
        p.append(gamma_market(json.loads((FIXTURES / "polymarket" / name).read_text())))
    for name in spec["polymarket_events"]:
        p.extend(gamma_events(json.loads((FIXTURES / "polymarket" / name).read_text())))
    for name in spec["polymarket_search"]:
        body = json.loads((FIXTURES / "polymarket" / name).read_text())
        p.extend(gamma_events(body["events"]))
    return k, p


def _written_kalshi(r: dict[str, Any]) -> Market:
    return kalshi(
        r["ticker"], r["title"], r.get("sub", ""), close=_when(r.get("close")),
        resolve=_when(r.get("resolve")), rules=r.get("rules", ""), extra=r.get("extra"),
    )  # fmt: skip


def _written_poly(r: dict[str, Any]) -> Market:
    return poly(
        r["id"], r["question"], r["outcomes"], event_id=r.get("event_id", ""),
        slug=r.get("slug", ""), category=r.get("category", ""), sub=r.get("sub", ""),
        close=_when(r.get("close")), rules=r.get("rules", ""),
        neg_risk=r.get("neg_risk", False), extra=r.get("extra"),
    )  # fmt: skip


def load() -> Labelled:
    raw = json.loads(DATA.read_text())
    fk, fp = _fixture_markets(raw["fixtures"])
    ks = fk + [_written_kalshi(r) for r in raw["kalshi"]]
    ps = fp + [_written_poly(r) for r in raw["polymarket"]]
    by_id = {(m.venue, m.market_id): m for m in (*ks, *ps)}

    def key(ref: str) -> str:
        venue, rest = ref.split(":", 1)
        market_id, side = rest.rsplit(":", 1)
        return by_id[(Venue(venue), market_id)].contract(side).key

    pairs = {
        frozenset(frozenset(key(c) for c in world) for world in p["worlds"]): p["name"]
        for p in raw["pairs"]
    }
    negatives = [
        (n["name"], frozenset(n["kalshi"]), frozenset(n["polymarket"])) for n in raw["negatives"]
    ]
    return Labelled(ks, ps, pairs, negatives)


def worlds_of(pair: Pair) -> frozenset[World]:
    return frozenset(frozenset(c.key for c in w.contracts) for w in pair.worlds)
