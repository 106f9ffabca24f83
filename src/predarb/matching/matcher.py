"""The matcher: venue markets in, pairs with their outcome mapping out.

Steps: normalize every market once; block; compare candidates (guards, mapping,
confidence); flag ambiguous matches; assemble games into groups (a team per Kalshi
market, 3-way events); keep binary pairs a group does not already cover; apply the
overrides (which win). Deterministic: the same markets give the same pairs and ids.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from predarb.domain import CENT, ONE, Contract, Market, Pair, PairKind, Venue, World
from predarb.matching.aliases import Aliases, load_aliases
from predarb.matching.candidates import KalshiIndex
from predarb.matching.normalize import Facts, Kind, normalize
from predarb.matching.overrides import Forced, Overrides
from predarb.matching.payout import DRAW, Outcomes
from predarb.matching.proposition import clear_text_caches, same_claim_key
from predarb.matching.score import MIN_TRADABLE_CONFIDENCE, Match, compare

log = logging.getLogger(__name__)


def match_venues(
    match: Callable[[Sequence[Market], Sequence[Market]], list[Pair]],
    listed: Mapping[Venue, Sequence[Market]],
) -> list[Pair]:
    """Kalshi against each Polymarket venue listed (international, US, or both: two
    separate venues, each paired with Kalshi on its own)."""
    kalshi = listed.get(Venue.KALSHI, [])
    return [p for v, ms in listed.items() if v.is_polymarket for p in match(kalshi, ms)]


def pair_id_for(contracts: Iterable[Contract]) -> str:
    """Stable id: a hash of the sorted contract keys."""
    keys = "|".join(sorted({c.key for c in contracts}))
    return "pr_" + hashlib.sha256(keys.encode()).hexdigest()[:16]


class Matcher:
    """``Matcher(overrides).match(kalshi_markets, polymarket_markets) -> list[Pair]``."""

    def __init__(
        self,
        overrides: Overrides | None = None,
        *,
        aliases: Aliases | None = None,
        min_confidence: float = MIN_TRADABLE_CONFIDENCE,
    ) -> None:
        self.overrides = overrides or Overrides()
        self.aliases = aliases or load_aliases()
        self.min_confidence = min_confidence
        self.comparisons = 0  # candidate pairs compared by the last match (for bench/)
        # The markets the last match paired, the only ones a caller streaming the
        # listings needs to keep (Kalshi's as the matcher keeps them: no fee schedule,
        # no wire hints; the venue's own listing has those).
        self.paired: dict[tuple[Venue, str], Market] = {}

    def facts(self, markets: Iterable[Market], venue: Venue) -> list[Facts]:
        return with_sibling_sides([normalize(m, self.aliases) for m in markets if m.venue is venue])

    def _index_side(self, markets: Iterable[Market]) -> list[Facts]:
        """The Kalshi facts, each holding a slim copy of its market (what pairs are built
        from: ids, contracts, titles, rules, times), so the listing's fee schedules and
        wire hints are not kept for the whole match."""
        out: list[Facts] = []
        for m in markets:
            if m.venue is Venue.KALSHI:
                f = normalize(m, self.aliases)
                out.append(replace(f, market=_slim(m)))
        return with_sibling_sides(out)

    def match(self, kalshi: Iterable[Market], poly: Iterable[Market]) -> list[Pair]:
        """``poly`` may be a generator (pages as they are listed): each Polymarket market
        is compared as it comes and kept only if it matched, so the larger listing is
        never held whole."""
        wanted = {key for f in self.overrides.forced for key in f.market_keys}
        named: dict[tuple[Venue, str], Market] = {}

        def noted(markets: Iterable[Market]) -> Iterator[Market]:
            for m in markets:
                if (m.venue, m.market_id) in wanted:
                    named[(m.venue, m.market_id)] = m
                yield m

        kf = self._index_side(noted(kalshi))
        index = KalshiIndex(kf)
        self.comparisons = 0
        matches: list[Match] = []
        for m in noted(poly):
            if not m.venue.is_polymarket:
                continue
            f = normalize(m, self.aliases)
            for i in index.candidates(f):
                self.comparisons += 1
                if (found := compare(kf[i], f)) is not None:
                    matches.append(found)
        del kf, index
        matches = _flag_ambiguous(matches)
        groups = [g for g in (self._group(c) for c in _components(matches)) if g]
        in_group = {c.key: n for n, g in enumerate(groups) for c in g.contracts}
        binaries = [self._binary(m) for m in matches if m.full and not _covered(m, in_group)]
        pairs = [p for p in (*groups, *binaries) if not self.overrides.forbids(p)]
        forced = self._forced(named)
        forced_markets = {(c.venue, c.market_id) for p in forced for c in p.contracts}
        pairs = [
            p
            for p in pairs
            if not any((c.venue, c.market_id) in forced_markets for c in p.contracts)
        ]
        unique = {p.pair_id: p for p in (*pairs, *forced)}
        listed = {
            (f.market.venue, f.market.market_id): f.market
            for m in matches
            for f in (m.kalshi, m.poly)
        }
        listed.update(named)
        keys = {(c.venue, c.market_id) for p in unique.values() for c in p.contracts}
        paired = {k: listed[k] for k in keys if k in listed}
        result = sorted(unique.values(), key=lambda p: p.pair_id)
        del matches, listed, pairs, groups, binaries, forced, unique
        result, self.paired = _compacted(result, paired)
        return result

    # ---- building pairs

    def _binary(self, m: Match) -> Pair:
        k, p = m.kalshi.market, m.poly.market
        worlds = tuple(
            World(k.contracts[i].side, (k.contracts[i], p.contracts[j])) for i, j in m.mapping
        )
        tradable = not m.flags and m.confidence >= self.min_confidence
        return Pair(
            pair_id=pair_id_for(c for w in worlds for c in w.contracts),
            kind=PairKind.BINARY,
            event=k.extra.get("event_title") or k.title,
            worlds=worlds,
            confidence=m.confidence,
            tradable=tradable,
            exhaustive=True,
            flags=m.flags,
            evidence=m.evidence + (", inverted" if m.inverted else ""),
            category=_category(m.kalshi),
            series=tuple(dict.fromkeys(s for s in (k.series, p.series) if s)),
            live=k.live or p.live,
            resolve_time=_latest(k.resolve_time, p.resolve_time),
        )

    def _group(self, component: list[Match]) -> Pair | None:
        members = {id(f): f for m in component for f in (m.kalshi, m.poly)}
        facts = sorted(members.values(), key=lambda f: (f.market.venue, f.market.market_id))
        if len(facts) <= 2 or any(f.kind is not Kind.WINNER for f in facts):
            return None
        universes = {f.universe for f in facts if f.universe is not None}
        if len(universes) != 1:
            return None
        universe = universes.pop()
        flags = list(dict.fromkeys(x for m in component for x in m.flags))
        worlds: list[World] = []
        for atom in sorted(universe, key=lambda a: (a == DRAW, a)):
            paying = tuple(
                c
                for f in facts
                for c, pay in zip(f.market.contracts, f.payouts, strict=False)
                if isinstance(pay, Outcomes)
                and pay.canonical(universe) == Outcomes(frozenset({atom}))
            )
            if paying:
                worlds.append(World(self._label(atom), paying))
            else:
                flags.append("tie_possible" if atom == DRAW else "uncovered_outcome")
        venues = {c.venue for w in worlds for c in w.contracts}
        if len(worlds) < 2 or len(venues) < 2:
            return None
        exhaustive = len(worlds) == len(universe)
        confidence = min(m.confidence for m in component)
        first = facts[0]
        # The Kalshi event's title names the event the same way in every pair built on
        # it (binary or group), which is what the risk manager's per-event checks key on.
        kalshi_titles = [
            f.market.extra.get("event_title", "") for f in facts if f.market.venue is Venue.KALSHI
        ]
        titles = [t for t in kalshi_titles if t] or [
            f.market.extra.get("event_title", "") or f.market.title for f in facts
        ]
        event = min(titles, key=lambda t: (len(t), t))
        return Pair(
            pair_id=pair_id_for(c for w in worlds for c in w.contracts),
            kind=PairKind.GROUP,
            event=event,
            worlds=tuple(worlds),
            confidence=confidence,
            tradable=exhaustive and not flags and confidence >= self.min_confidence,
            exhaustive=exhaustive,
            flags=tuple(flags),
            evidence=f"group of {len(facts)} markets, worlds "
            + "|".join(w.label for w in worlds)
            + f"; {component[0].basis}",
            category=_category(first),
            series=tuple(dict.fromkeys(f.market.series for f in facts if f.market.series)),
            live=any(f.market.live for f in facts),
            resolve_time=_latest(*(f.market.resolve_time for f in facts)),
        )

    def _label(self, atom: str) -> str:
        if atom == DRAW:
            return "draw"
        return self.aliases.names.get(atom, atom.removeprefix("p:"))

    def _forced(self, by_key: dict[tuple[Venue, str], Market]) -> list[Pair]:
        pairs: list[Pair] = []
        for forced in self.overrides.forced:
            pair = _forced_pair(forced, by_key)
            if pair is None:
                log.info("override skipped: market not listed", extra={"event": forced.event})
            else:
                pairs.append(pair)
        return pairs


def _forced_pair(forced: Forced, by_key: dict[tuple[Venue, str], Market]) -> Pair | None:
    worlds: list[World] = []
    for w in forced.worlds:
        contracts: list[Contract] = []
        for ref in w.contracts:
            market = by_key.get((ref.venue, ref.market_id))
            if market is None:
                return None
            try:
                contracts.append(market.contract(ref.side))
            except KeyError:
                log.warning("override names an unknown side", extra={"side": ref.side})
                return None
        worlds.append(World(w.label, tuple(contracts)))
    listed = [by_key[k] for k in sorted(forced.market_keys)]
    is_binary = len(listed) == 2 and len({m.venue for m in listed}) == 2
    return Pair(
        pair_id=pair_id_for(c for w in worlds for c in w.contracts),
        kind=PairKind.BINARY if is_binary else PairKind.GROUP,
        event=forced.event,
        worlds=tuple(worlds),
        confidence=1.0,
        tradable=forced.exhaustive,
        exhaustive=forced.exhaustive,
        flags=("override",),
        evidence=f"forced by overrides file{': ' + forced.note if forced.note else ''}",
        series=tuple(dict.fromkeys(m.series for m in listed if m.series)),
        live=any(m.live for m in listed),
        resolve_time=_latest(*(m.resolve_time for m in listed)),
    )


_PAIR_EXTRA = ("event_title",)  # the only wire hint a pair is built from


def _slim(m: Market) -> Market:
    extra = {k: m.extra[k] for k in _PAIR_EXTRA if k in m.extra}
    return replace(m, extra=extra, fee=None, tick_size=CENT, min_order_size=ONE)


def _compacted(
    pairs: list[Pair], paired: dict[tuple[Venue, str], Market]
) -> tuple[list[Pair], dict[tuple[Venue, str], Market]]:
    """Fresh copies of what the caller keeps. The objects of the listing's unpaired
    markets were interleaved with these in memory: the survivors are serialized, the
    rest (and the text caches) freed, and only then rebuilt, so that they land together
    and the allocator can give the listing's memory back."""
    blob = pickle.dumps((pairs, paired), protocol=pickle.HIGHEST_PROTOCOL)
    pairs.clear()
    paired.clear()
    clear_text_caches()
    gc.collect()
    fresh: tuple[list[Pair], dict[tuple[Venue, str], Market]] = pickle.loads(blob)
    return fresh


def with_sibling_sides(facts: list[Facts]) -> list[Facts]:
    """A Kalshi game market that names one side only ("Will Boston win?", its event
    title missing) learns the other from its event's sibling markets: a Kalshi game
    event is one game, so the two teams its markets name are the game's two sides."""
    events: dict[str, list[int]] = {}
    for n, f in enumerate(facts):
        if f.kind is Kind.WINNER and f.market.event_id and f.market.venue is Venue.KALSHI:
            events.setdefault(f.market.event_id, []).append(n)
    out = list(facts)
    for members in events.values():
        sides = frozenset(e for n in members for e in facts[n].participants) - {DRAW}
        leagues = {facts[n].league for n in members}
        if len(sides) != 2 or len(leagues) != 1:
            continue
        for n in members:
            f = facts[n]
            if len(f.participants) < 2:
                keys = tuple(f"{f.kind.value}:{e}" for e in sorted(sides))
                out[n] = replace(f, participants=sides, keys=keys)
    return out


def _keys(m: Match) -> frozenset[str]:
    k, p = m.kalshi.market, m.poly.market
    return frozenset(key for i, j in m.mapping for key in (k.contracts[i].key, p.contracts[j].key))


def _covered(m: Match, in_group: dict[str, int]) -> bool:
    """Every contract of the match is already in one group: the group says it all."""
    owners = {in_group.get(key, -1) for key in _keys(m)}
    return len(owners) == 1 and -1 not in owners


def _identity(f: Facts) -> object:
    """What a counterpart is: one claim listed twice on a venue is one counterpart."""
    return same_claim_key(f.claim) if f.claim is not None else f.market.market_id


def _flag_ambiguous(matches: list[Match]) -> list[Match]:
    """A market whose claim matches two different claims on the other venue: trust
    neither. A proposition match already flagged (shown for review) crowds nobody."""
    seen: dict[tuple[str, str], set[object]] = {}

    def slots(m: Match) -> tuple[tuple[str, str], tuple[str, str]]:
        k_yes = m.kalshi.market.contracts[m.mapping[0][0]].side
        return ("k", m.kalshi.market.market_id), (
            f"p{m.mapping[0][1]}{k_yes}",
            m.poly.market.market_id,
        )

    for m in matches:
        if not m.full or (m.kalshi.kind is Kind.PROPOSITION and m.flags):
            continue
        k_slot, p_slot = slots(m)
        seen.setdefault(k_slot, set()).add(_identity(m.poly))
        seen.setdefault(p_slot, set()).add(_identity(m.kalshi))
    out: list[Match] = []
    for m in matches:
        k_slot, p_slot = slots(m)
        crowded = len(seen.get(k_slot, ())) > 1 or len(seen.get(p_slot, ())) > 1
        if m.full and crowded and "ambiguous" not in m.flags:
            m = replace(m, flags=(*m.flags, "ambiguous"))
        out.append(m)
    return out


def _components(matches: list[Match]) -> list[list[Match]]:
    """Winner matches joined by shared markets: the markets of one game."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    winners = [m for m in matches if m.kalshi.kind is Kind.WINNER]
    for m in winners:
        k, p = m.kalshi.market, m.poly.market
        join("k" + k.market_id, "p" + p.market_id)
        # One event per game on both venues: its team and draw markets belong together.
        if k.event_id:
            join("k" + k.market_id, "ke" + k.event_id)
        if p.event_id:
            join("p" + p.market_id, "pe" + p.event_id)
    groups: dict[str, list[Match]] = {}
    for m in winners:
        groups.setdefault(find("k" + m.kalshi.market.market_id), []).append(m)
    return [g for g in groups.values() if len(g) > 1]


def _category(f: Facts) -> str:
    return f"{f.category}/{f.league}" if f.league else f.category


def _latest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None
