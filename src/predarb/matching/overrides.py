"""The hand-written overrides file (``PREDARB_MATCH_OVERRIDES``, TOML).

Overrides win over automatic matching: a forced pair is tradable with the mapping the
user wrote, and a forbidden market or pair is never paired. Example::

    [[force]]                      # a binary pair
    kalshi = "KXNBAGAME-26NOV22LALBOS-LAL"
    polymarket = "512345"
    yes = "Lakers"                 # the Polymarket outcome paying when Kalshi YES pays
    no = "Celtics"
    note = "rules read by hand"

    [[force_group]]                # any worlds; contracts are venue:market:side
    event = "Arsenal vs Chelsea"
    exhaustive = true
    worlds = [
      { label = "Arsenal", contracts = ["kalshi:KXEPLGAME-26NOV22ARSCHE-ARS:yes",
                                        "polymarket:600001:Yes"] },
      { label = "draw", contracts = ["kalshi:KXEPLGAME-26NOV22ARSCHE-TIE:yes"] },
      { label = "Chelsea", contracts = ["kalshi:KXEPLGAME-26NOV22ARSCHE-CHE:yes"] },
    ]

    [[forbid]]                     # kalshi, polymarket, or both
    kalshi = "KXBTCD-26NOV3017-T100000"

``[[force]]`` and ``[[forbid]]`` name the international Polymarket's market by default;
``venue = "polymarket_us"`` makes ``polymarket`` a Polymarket US market slug (whose
sides are its outcome labels, e.g. the teams, or ``long``/``short``)::

    [[force]]
    venue = "polymarket_us"
    kalshi = "KXNBAGAME-26NOV22LALBOS-LAL"
    polymarket = "aec-nba-lal-bos-2026-11-22"
    yes = "Lakers"
    no = "Celtics"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from predarb.domain import Pair, Venue


class OverridesError(ValueError):
    """The overrides file cannot be read; the message says where."""


@dataclass(frozen=True, slots=True)
class ContractRef:
    venue: Venue
    market_id: str
    side: str  # Kalshi "yes"/"no"; Polymarket outcome label or token id


@dataclass(frozen=True, slots=True)
class ForcedWorld:
    label: str
    contracts: tuple[ContractRef, ...]


@dataclass(frozen=True, slots=True)
class Forced:
    event: str
    worlds: tuple[ForcedWorld, ...]
    exhaustive: bool = True
    note: str = ""

    @property
    def market_keys(self) -> frozenset[tuple[Venue, str]]:
        return frozenset((c.venue, c.market_id) for w in self.worlds for c in w.contracts)


@dataclass(frozen=True, slots=True)
class Forbid:
    kalshi: str = ""
    polymarket: str = ""
    venue: Venue = Venue.POLYMARKET  # whose market ``polymarket`` names

    def hits(self, pair: Pair) -> bool:
        k_hit = not self.kalshi or self.kalshi in pair.markets(Venue.KALSHI)
        p_hit = not self.polymarket or self.polymarket in pair.markets(self.venue)
        return k_hit and p_hit


@dataclass(frozen=True, slots=True)
class Overrides:
    forced: tuple[Forced, ...] = ()
    forbidden: tuple[Forbid, ...] = ()

    def forbids(self, pair: Pair) -> bool:
        return any(f.hits(pair) for f in self.forbidden)

    @classmethod
    def load(cls, path: Path) -> Overrides:
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise OverridesError(f"{path}: {exc}") from exc
        return cls.parse(raw, str(path))

    @classmethod
    def parse(cls, raw: Mapping[str, object], where: str = "overrides") -> Overrides:
        forced: list[Forced] = []
        for n, item in enumerate(_tables(raw, "force", where)):
            k, p = _text(item, "kalshi", where, n), _text(item, "polymarket", where, n)
            yes, no = _text(item, "yes", where, n), _text(item, "no", where, n)
            venue = _polymarket(item, where, "force", n)
            worlds: tuple[ForcedWorld, ...] = (
                ForcedWorld("yes", (ContractRef(Venue.KALSHI, k, "yes"),
                                    ContractRef(venue, p, yes))),
                ForcedWorld("no", (ContractRef(Venue.KALSHI, k, "no"),
                                   ContractRef(venue, p, no))),
            )  # fmt: skip
            note = str(item.get("note", ""))
            forced.append(Forced(str(item.get("event", k)), worlds, True, note))
        for n, item in enumerate(_tables(raw, "force_group", where)):
            worlds_raw = item.get("worlds")
            if not isinstance(worlds_raw, list) or len(worlds_raw) < 2:
                raise OverridesError(f"{where}: force_group #{n + 1} needs two or more worlds")
            group_worlds = tuple(_world(w, where, n) for w in worlds_raw)
            forced.append(
                Forced(
                    str(item.get("event", group_worlds[0].label)),
                    group_worlds,
                    bool(item.get("exhaustive", False)),
                    str(item.get("note", "")),
                )
            )
        forbidden: list[Forbid] = []
        for n, item in enumerate(_tables(raw, "forbid", where)):
            venue = _polymarket(item, where, "forbid", n)
            f = Forbid(str(item.get("kalshi", "")), str(item.get("polymarket", "")), venue)
            if not f.kalshi and not f.polymarket:
                raise OverridesError(f"{where}: forbid #{n + 1} names no market")
            forbidden.append(f)
        return cls(tuple(forced), tuple(forbidden))


def _tables(raw: Mapping[str, object], key: str, where: str) -> list[Mapping[str, object]]:
    items = raw.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise OverridesError(f"{where}: [[{key}]] must be an array of tables")
    return items


def _polymarket(item: Mapping[str, object], where: str, table: str, n: int) -> Venue:
    """Which Polymarket an entry's ``polymarket`` names (``venue``; international
    when not given)."""
    name = item.get("venue", Venue.POLYMARKET.value)
    polymarkets = [v.value for v in Venue if v.is_polymarket]
    if name not in polymarkets:
        raise OverridesError(
            f"{where}: {table} #{n + 1} has venue {name!r}; want one of {', '.join(polymarkets)}"
        )
    return Venue(str(name))


def _text(item: Mapping[str, object], key: str, where: str, n: int) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise OverridesError(f"{where}: entry #{n + 1} needs a non-empty {key!r}")
    return value.strip()


def _world(raw: object, where: str, n: int) -> ForcedWorld:
    if not isinstance(raw, dict) or not isinstance(raw.get("contracts"), list):
        raise OverridesError(f"{where}: force_group #{n + 1} has a world without contracts")
    refs: list[ContractRef] = []
    for text in raw["contracts"]:
        venue, _, rest = str(text).partition(":")
        market, _, side = rest.rpartition(":")
        if venue not in {v.value for v in Venue} or not market or not side:
            raise OverridesError(f"{where}: bad contract {text!r} (want venue:market:side)")
        refs.append(ContractRef(Venue(venue), market, side))
    return ForcedWorld(str(raw.get("label", "")), tuple(refs))
