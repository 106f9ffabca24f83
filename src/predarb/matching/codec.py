"""Pairs to and from JSON (the ``predarb pairs --json`` object), and the one-line listing.

``pair_to_json`` returns exactly the interface.md fields plus what an exact round trip
needs (``pair_id``, ``event``, ``worlds``, ``exhaustive``, ``category``, ``series``,
``live``, ``resolve_time``). The store saves it as JSON text; ``pair_from_json`` gives
back an equal :class:`Pair`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from predarb.domain import Contract, Pair, PairKind, Venue, World

POLYMARKETS = (Venue.POLYMARKET, Venue.POLYMARKET_US)


def _contract_to_json(c: Contract) -> dict[str, str]:
    return {"venue": c.venue.value, "market": c.market_id, "side": c.side, "token_id": c.token_id}


def _contract_from_json(d: Mapping[str, Any]) -> Contract:
    return Contract(Venue(d["venue"]), str(d["market"]), str(d["side"]), str(d["token_id"]))


def mapping_entries(pair: Pair) -> list[dict[str, str]]:
    """Each Kalshi side with each Polymarket outcome paying in exactly the same world."""
    entries: list[dict[str, str]] = []
    for world in pair.worlds:
        kalshi = [c for c in world.contracts if c.venue is Venue.KALSHI]
        poly = [c for c in world.contracts if c.venue.is_polymarket]
        for k in kalshi:
            for p in poly:
                entries.append(
                    {
                        "kalshi": k.market_id,
                        "kalshi_side": k.side,
                        "polymarket": p.market_id,
                        "outcome": p.side,
                        "token_id": p.token_id,
                    }
                )
    return entries


def pair_to_json(pair: Pair) -> dict[str, Any]:
    return {
        "kind": pair.kind.value,
        "kalshi": list(pair.markets(Venue.KALSHI)),
        "polymarket": [m for v in POLYMARKETS for m in pair.markets(v)],
        "polymarket_venue": next(
            (v.value for v in POLYMARKETS if pair.markets(v)), Venue.POLYMARKET.value
        ),
        "mapping": mapping_entries(pair),
        "confidence": pair.confidence,
        "tradable": pair.tradable,
        "flags": list(pair.flags),
        "evidence": pair.evidence,
        "pair_id": pair.pair_id,
        "event": pair.event,
        "worlds": [
            {"label": w.label, "contracts": [_contract_to_json(c) for c in w.contracts]}
            for w in pair.worlds
        ],
        "exhaustive": pair.exhaustive,
        "category": pair.category,
        "series": list(pair.series),
        "live": pair.live,
        "resolve_time": pair.resolve_time.isoformat() if pair.resolve_time else None,
    }


def pair_from_json(d: Mapping[str, Any]) -> Pair:
    resolve = d.get("resolve_time")
    return Pair(
        pair_id=str(d["pair_id"]),
        kind=PairKind(d["kind"]),
        event=str(d["event"]),
        worlds=tuple(
            World(str(w["label"]), tuple(_contract_from_json(c) for c in w["contracts"]))
            for w in d["worlds"]
        ),
        confidence=float(d["confidence"]),
        tradable=bool(d["tradable"]),
        exhaustive=bool(d["exhaustive"]),
        flags=tuple(str(f) for f in d["flags"]),
        evidence=str(d["evidence"]),
        category=str(d["category"]),
        series=tuple(str(s) for s in d["series"]),
        live=bool(d["live"]),
        resolve_time=datetime.fromisoformat(resolve) if resolve else None,
    )


def format_pair_line(pair: Pair) -> str:
    """One line: id, kind, tradable or not, confidence, event, mapping, flags, evidence."""
    state = "TRADE" if pair.tradable else "watch"
    mapping = "; ".join(
        f"{e['kalshi']} {e['kalshi_side']}={e['polymarket']}:{e['outcome']}"
        for e in mapping_entries(pair)
    )
    flags = ",".join(pair.flags) or "-"
    event = " ".join(pair.event.split())
    return (
        f"{pair.pair_id} {pair.kind.value:6} {state} {pair.confidence:.2f} "
        f"{event} | {mapping} | flags {flags} | {pair.evidence}"
    )
