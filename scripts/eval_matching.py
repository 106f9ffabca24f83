"""Score the matcher on a labelled development set of real venue records.

Run on demand (not in CI: the set lives outside the project)::

    .venv/bin/python scripts/eval_matching.py [PATH]   # default ../shared/matching-dev

PATH holds ``kalshi_markets.jsonl``, ``polymarket_markets.jsonl`` and ``pairs.jsonl`` (see
the set's README). Records are fed through the venue adapters where they are complete
enough (full Kalshi market records with their event, Gamma markets with outcomes and
token ids); slim records become the same domain Market from the fields they do carry,
so the matcher sees only what a venue sends. Prints precision, recall, inverted pairs,
hard negatives refused, the pairs held for review and every miss or false match.
A pair counts as predicted when it is tradable; a flagged pair waits for review.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from predarb.domain import Contract, Market, Pair, Venue  # noqa: E402
from predarb.matching.matcher import Matcher  # noqa: E402
from predarb.venues.kalshi.wire import WireEvent, parse_market  # noqa: E402
from predarb.venues.polymarket.wire import gamma_market, when  # noqa: E402

META = ("source", "record_completeness")


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            yield {k: v for k, v in row.items() if k not in META}


def _sources(r: dict[str, Any]) -> str:
    return ", ".join(
        str(s["name"]) for s in r.get("settlement_sources") or () if isinstance(s, dict)
    )


def kalshi_market(r: dict[str, Any]) -> Market:
    """A Kalshi record as the adapter makes it (slim records: the fields they carry)."""
    rules = r.get("rules_text") or "\n".join(
        x for x in (r.get("rules_primary"), r.get("rules_secondary")) if x
    )
    record = {**r, "rules_primary": rules}
    if r.get("event_ticker"):
        event = WireEvent(
            event_ticker=r["event_ticker"],
            series_ticker=r.get("series_ticker") or "",
            title=r.get("event_title") or "",
            sub_title=r.get("event_sub_title") or "",
            fee_override=None,
            category=r.get("category") or "",
            sources=_sources(r),
        )
        return parse_market(record, event=event)
    ticker = r["ticker"]
    extra = {
        "event_title": r.get("event_title") or "",
        "series_title": r.get("series_title") or "",
        "resolution_source": _sources(r),
    }
    return Market(
        venue=Venue.KALSHI,
        market_id=ticker,
        event_id="",
        title=r.get("title") or "",
        contracts=(Contract(Venue.KALSHI, ticker, "yes"), Contract(Venue.KALSHI, ticker, "no")),
        close_time=when(r.get("close_time")),
        category=(r.get("category") or "").lower(),
        series=r.get("series_ticker") or "",
        subtitle=r.get("yes_sub_title") or "",
        rules=rules,
        extra={k: v for k, v in extra.items() if v},
    )


def poly_market(r: dict[str, Any]) -> Market:
    """A Gamma record through the adapter; without outcomes, a Yes/No market (the set's
    labels rest on the binary question form there) with no token ids."""
    event = {"id": r.get("event_id"), "slug": r.get("event_slug"), "title": r.get("event_title")}
    if r.get("outcomes") and r.get("clobTokenIds"):
        return gamma_market(r, {k: v for k, v in event.items() if v})
    mid = str(r["id"])
    extra = {"event_title": r.get("event_title") or "", "slug": r.get("slug") or ""}
    return Market(
        venue=Venue.POLYMARKET,
        market_id=mid,
        event_id=str(r.get("event_id") or ""),
        title=r.get("question") or "",
        contracts=(Contract(Venue.POLYMARKET, mid, "Yes"), Contract(Venue.POLYMARKET, mid, "No")),
        close_time=when(r.get("endDate")),
        series=r.get("event_slug") or "",
        subtitle=r.get("groupItemTitle") or "",
        rules=r.get("description") or "",
        extra={k: v for k, v in extra.items() if v},
    )


def predictions(pairs: list[Pair]) -> dict[tuple[str, str], tuple[str, Pair]]:
    """(ticker, market id) -> (Polymarket outcome paying with Kalshi YES, pair)."""
    out: dict[tuple[str, str], tuple[str, Pair]] = {}
    for p in pairs:
        for w in p.worlds:
            ks = [c for c in w.contracts if c.venue is Venue.KALSHI and c.side == "yes"]
            ps = [c for c in w.contracts if c.venue is Venue.POLYMARKET]
            for k in ks:
                for c in ps:
                    out[(k.market_id, c.market_id)] = (c.side, p)
    return out


def main(argv: list[str] | None = None) -> int:
    # ../shared from the main checkout; a worktree one level deeper looks one further up.
    options = [base / "shared" / "matching-dev" for base in (ROOT.parent, ROOT.parent.parent)]
    default = next((o for o in options if o.exists()), options[0])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=default)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every pair")
    args = parser.parse_args(argv)
    path: Path = args.path
    if not (path / "pairs.jsonl").exists():
        print(f"no labelled set at {path}", file=sys.stderr)
        return 2
    kalshi = [kalshi_market(r) for r in _rows(path / "kalshi_markets.jsonl")]
    poly = [poly_market(r) for r in _rows(path / "polymarket_markets.jsonl")]
    labels = list(_rows(path / "pairs.jsonl"))
    pairs = Matcher().match(kalshi, poly)
    tradable = predictions([p for p in pairs if p.tradable])
    shown = predictions([p for p in pairs if not p.tradable])
    truth = {(r["kalshi_ticker"], r["polymarket_market_id"]): r for r in labels}
    gold = {k: r for k, r in truth.items() if r["label"] == "match"}
    negatives = {k: r for k, r in truth.items() if r["label"] == "no_match"}

    hits = [k for k in tradable if k in gold]
    false = [k for k in tradable if k not in gold]
    inverted = [
        k for k in hits if tradable[k][0] != gold[k]["kalshi_yes_equals_polymarket_outcome"]
    ]
    precision = len(hits) / len(tradable) if tradable else 1.0
    recall = len(hits) / len(gold) if gold else 1.0
    refused = [k for k in negatives if k not in tradable]
    print(f"set: {path} ({len(kalshi)} Kalshi, {len(poly)} Polymarket markets)")
    print(f"pairs: {len(pairs)} ({len({p.pair_id for _, p in tradable.values()})} tradable)")
    print(f"precision {precision:.3f}  ({len(hits)}/{len(tradable)})")
    print(f"recall    {recall:.3f}  ({len(hits)}/{len(gold)})")
    print(f"inverted pairs: {len(inverted)}")
    print(f"hard negatives refused: {len(refused)}/{len(negatives)}")
    by_cat = Counter(r["category"] for k, r in negatives.items() if k in tradable)
    for cat, n in sorted(by_cat.items()):
        print(f"  hard-negative FP in {cat}: {n}")
    review_true = [k for k in shown if k in gold and k not in tradable]
    review_neg = [k for k in shown if k in negatives]
    print(f"held for review: {len(review_true)} true pairs, {len(review_neg)} hard negatives")
    for k in false:
        label = truth.get(k, {}).get("pair_id", "unlabelled")
        print(f"  FALSE {label} {k}: {tradable[k][1].evidence}")
    for k in inverted:
        print(f"  INVERTED {gold[k]['pair_id']} {k}")
    for k, r in gold.items():
        if k not in tradable:
            why = ",".join(shown[k][1].flags) if k in shown else "not paired"
            print(f"  missed {r['pair_id']} {k}: {why}")
    if args.verbose:
        for k, (side, p) in sorted(tradable.items()):
            print(f"  pair {k} yes={side} {p.evidence}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
