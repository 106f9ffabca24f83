"""The recording file: gzip-compressed JSON lines, append-only, rotated by size.

Every line is one thing a venue sent, with ``t``, its receive time (integer
nanoseconds since the epoch, UTC), and ``k``, its kind:

- ``start``: the first line of every part (``version``, ``part``);
- ``markets``: a venue's listing, as the change since its previous one (``set``: the
  markets new or changed, in full; ``gone``: the ids no longer listed);
- ``book``: a contract's whole book (``c`` the contract, ``bids``/``asks`` best first);
- ``delta``: the levels of a contract's book that changed since its last line (``c`` its
  key; a size of ``"0"`` removes a level);
- ``fresh``: books read again unchanged (``c`` their keys, ``ts`` their new time);
- ``drop``: books that can no longer be trusted (a stream gap REST could not repair);
- ``live``: a venue's stream connected and in sequence (``on``), or not;
- ``res``: a market's final result.

When a part reaches ``max_part_bytes`` (compressed) the writer starts the next one,
``FILE.1``, ``FILE.2``... and restates the state there (listings, books, live flags), so
every part can be read on its own; ``read_recording(FILE)`` reads them all in order. The
writer flushes a complete compressed block at least every ``flush_interval_s``: a process
killed mid-recording loses at most that much, and the reader stops cleanly at a torn end.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from predarb.domain import Contract, Market, OrderBook, Resolution, Venue
from predarb.errors import UsageProblem
from predarb.rehearsal import codec

log = logging.getLogger(__name__)

VERSION = 1
DEFAULT_PART_BYTES = 256 * 1024 * 1024
FLUSH_INTERVAL_S = 1.0


class RecordingError(UsageProblem):
    """The file is not a recording this version can read."""


def part_paths(first: Path) -> Iterator[Path]:
    """``first`` and the parts that follow it, as long as they exist."""
    yield first
    n = 1
    while (path := first.with_name(f"{first.name}.{n}")).exists():
        yield path
        n += 1


class RecordingWriter:
    """Appends lines to ``path`` (and its following parts). Not thread-safe: one loop."""

    def __init__(
        self,
        path: Path,
        *,
        max_part_bytes: int = DEFAULT_PART_BYTES,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        wall_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_part_bytes <= 0:
            raise ValueError("max_part_bytes must be positive")
        self.path = path
        self.max_part_bytes = max_part_bytes
        self.flush_interval_s = flush_interval_s
        self.wall_ns = wall_ns
        self._monotonic = monotonic
        self.part = 0
        self.lines = 0
        self._raw: IO[bytes] | None = None
        self._gz: gzip.GzipFile | None = None
        self._flushed = monotonic()
        # What a new part restates.
        self._markets: dict[Venue, dict[str, Market]] = {}
        self._books: dict[Contract, OrderBook] = {}
        self._live: dict[Venue, bool] = {}
        self._open_part()

    # -- what the recorder writes ------------------------------------------------

    def markets(self, venue: Venue, listed: Sequence[Market], t: int | None = None) -> None:
        first = venue not in self._markets
        known = self._markets.setdefault(venue, {})
        now = {m.market_id: m for m in listed}
        changed = [m for m in listed if known.get(m.market_id) != m]
        gone = [mid for mid in known if mid not in now]
        if changed or gone or first:
            self._markets[venue] = now
            self._write(
                {
                    "t": self._t(t),
                    "k": "markets",
                    "venue": venue.value,
                    "set": [codec.market_to_json(m) for m in changed],
                    "gone": gone,
                }
            )

    def books(self, books: Sequence[OrderBook], t: int | None = None) -> None:
        stamp = self._t(t)
        fresh: dict[int, list[str]] = {}  # book time -> contracts only seen again
        for book in books:
            old = self._books.get(book.contract)
            self._books[book.contract] = book
            if old is None or (old.tick_size, old.min_order_size) != (
                book.tick_size,
                book.min_order_size,
            ):
                line = {"t": stamp, "k": "book", "c": codec.contract_to_json(book.contract)}
                line.update(codec.book_to_json(book))
                self._write(line)
                continue
            bids = codec.level_changes(old.bids, book.bids)
            asks = codec.level_changes(old.asks, book.asks)
            if not bids and not asks:
                if old.ts != book.ts:
                    fresh.setdefault(codec.ns_of(book.ts), []).append(book.contract.key)
                continue
            self._write(
                {
                    "t": stamp,
                    "k": "delta",
                    "c": book.contract.key,
                    "bids": bids,
                    "asks": asks,
                    "ts": codec.ns_of(book.ts),
                }
            )
        for ts, keys in fresh.items():
            self._write({"t": stamp, "k": "fresh", "c": keys, "ts": ts})

    def drop(self, contracts: Sequence[Contract], reason: str, t: int | None = None) -> None:
        gone = [c for c in contracts if self._books.pop(c, None) is not None]
        if gone:
            self._write(
                {"t": self._t(t), "k": "drop", "c": [c.key for c in gone], "reason": reason}
            )

    def live(self, venue: Venue, on: bool, t: int | None = None) -> None:
        if self._live.get(venue) != on:
            self._live[venue] = on
            self._write({"t": self._t(t), "k": "live", "venue": venue.value, "on": on})

    def resolution(self, venue: Venue, resolution: Resolution, t: int | None = None) -> None:
        line = {"t": self._t(t), "k": "res"}
        line.update(codec.resolution_to_json(venue, resolution))
        self._write(line)

    def close(self) -> None:
        if self._gz is not None:
            self._gz.close()
            self._gz = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    # -- parts -----------------------------------------------------------------------

    def _t(self, t: int | None) -> int:
        return self.wall_ns() if t is None else t

    def _part_path(self) -> Path:
        return self.path if self.part == 0 else self.path.with_name(f"{self.path.name}.{self.part}")

    def _open_part(self) -> None:
        path = self._part_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._raw = path.open("xb")  # a recording is never appended to nor overwritten
        except FileExistsError:
            raise RecordingError(f"{path} exists: record into a new file") from None
        # mtime 0 and no file name: the same lines make the same bytes.
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._emit({"t": self.wall_ns(), "k": "start", "version": VERSION, "part": self.part})

    def _rotate(self) -> None:
        self.close()
        self.part += 1
        self._open_part()
        t = self.wall_ns()
        for venue, markets in self._markets.items():
            self._emit(
                {
                    "t": t,
                    "k": "markets",
                    "venue": venue.value,
                    "set": [codec.market_to_json(m) for m in markets.values()],
                    "gone": [],
                }
            )
        for book in self._books.values():
            line = {"t": t, "k": "book", "c": codec.contract_to_json(book.contract)}
            line.update(codec.book_to_json(book))
            self._emit(line)
        for venue, on in self._live.items():
            self._emit({"t": t, "k": "live", "venue": venue.value, "on": on})

    def _write(self, line: Mapping[str, Any]) -> None:
        assert self._raw is not None
        if self._raw.tell() >= self.max_part_bytes:
            self._rotate()
        self._emit(line)

    def _emit(self, line: Mapping[str, Any]) -> None:
        assert self._gz is not None
        self._gz.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")
        self.lines += 1
        if self._monotonic() - self._flushed >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """A complete compressed block on disk: what was written so far can be read."""
        if self._gz is not None:
            self._gz.flush(zlib.Z_SYNC_FLUSH)
            self._flushed = self._monotonic()


# -- reading -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listing:
    t: int
    venue: Venue
    markets: tuple[Market, ...]  # the whole listing after this change
    changed: bool  # False when a part restated what was already known


@dataclass(frozen=True, slots=True)
class BookUpdate:
    t: int
    book: OrderBook


@dataclass(frozen=True, slots=True)
class BooksSeen:
    """Books read again unchanged (a REST poll): only their time moved."""

    t: int
    books: tuple[OrderBook, ...]


@dataclass(frozen=True, slots=True)
class BooksDropped:
    t: int
    contracts: tuple[Contract, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class StreamLive:
    t: int
    venue: Venue
    on: bool


@dataclass(frozen=True, slots=True)
class Resolved:
    t: int
    venue: Venue
    resolution: Resolution


Item = Listing | BookUpdate | BooksSeen | BooksDropped | StreamLive | Resolved


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The complete lines of one part; a torn end (a recorder killed) ends it quietly."""
    try:
        with gzip.open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    log.warning("recording %s ends mid-line; the rest is ignored", path)
                    return
                yield n, line
    except (EOFError, zlib.error) as exc:
        log.warning("recording %s ends early (%s); the rest is ignored", path, exc)
    except gzip.BadGzipFile as exc:
        raise RecordingError(f"{path}: not a recording ({exc})") from None


def read_recording(first: Path) -> Iterator[Item]:
    """What ``first`` and its following parts hold, in the order it was received, with
    deltas applied: every ``BookUpdate`` carries the contract's whole book."""
    if not first.is_file():
        raise RecordingError(f"{first}: no such file")
    markets: dict[Venue, dict[str, Market]] = {}
    contracts: dict[str, Contract] = {}
    books: dict[Contract, OrderBook] = {}
    for path in part_paths(first):
        for n, raw in _lines(path):
            try:
                line = json.loads(raw)
                item = _decode(line, markets, contracts, books)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise RecordingError(f"{path}:{n}: unreadable line ({exc})") from None
            if item is not None:
                yield item


def _decode(
    line: dict[str, Any],
    markets: dict[Venue, dict[str, Market]],
    contracts: dict[str, Contract],
    books: dict[Contract, OrderBook],
) -> Item | None:
    t = int(line["t"])
    kind = line["k"]
    if kind == "start":
        if line["version"] != VERSION:
            raise ValueError(f"version {line['version']}, this predarb reads {VERSION}")
        return None
    if kind == "markets":
        venue = Venue(line["venue"])
        known = markets.setdefault(venue, {})
        before = dict(known)
        for raw in line["set"]:
            m = codec.market_from_json(raw)
            known[m.market_id] = m
            for c in m.contracts:
                contracts[c.key] = c
        for mid in line["gone"]:
            known.pop(mid, None)
        return Listing(t, venue, tuple(known.values()), known != before or not before)
    if kind == "book":
        c = codec.contract_from_json(line["c"])
        contracts[c.key] = c
        book = codec.book_from_json(c, line)
        books[c] = book
        return BookUpdate(t, book)
    if kind == "delta":
        c = contracts[line["c"]]
        old = books[c]
        book = OrderBook(
            c,
            codec.apply_changes(old.bids, line["bids"], descending=True),
            codec.apply_changes(old.asks, line["asks"], descending=False),
            codec.time_of(line["ts"]),
            old.tick_size,
            old.min_order_size,
        )
        books[c] = book
        return BookUpdate(t, book)
    if kind == "fresh":
        ts = codec.time_of(line["ts"])
        again = []
        for key in line["c"]:
            c = contracts[key]
            books[c] = dataclasses.replace(books[c], ts=ts)
            again.append(books[c])
        return BooksSeen(t, tuple(again))
    if kind == "drop":
        gone = tuple(contracts[k] for k in line["c"])
        for c in gone:
            books.pop(c, None)
        return BooksDropped(t, gone, str(line["reason"]))
    if kind == "live":
        return StreamLive(t, Venue(line["venue"]), bool(line["on"]))
    if kind == "res":
        venue, resolution = codec.resolution_from_json(line)
        return Resolved(t, venue, resolution)
    raise ValueError(f"unknown kind {kind!r}")
