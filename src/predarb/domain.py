"""Value types shared by every box of the flow.

No I/O here. Money, prices and contract counts are ``Decimal``; a contract pays one
dollar. Venue wire formats never reach these types: each venue adapter converts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")


class Venue(StrEnum):
    KALSHI = "kalshi"
    POLYMARKET = "polymarket"  # international: Polygon CLOB, blocks US persons
    POLYMARKET_US = "polymarket_us"  # the CFTC-regulated exchange for US residents

    @property
    def is_polymarket(self) -> bool:
        """Either Polymarket: the venue the matcher pairs against Kalshi."""
        return self is not Venue.KALSHI


class MarketStatus(StrEnum):
    OPEN = "open"  # accepting orders
    PAUSED = "paused"  # listed, not accepting orders for now
    CLOSED = "closed"  # past close, result not final
    SETTLED = "settled"  # final result known


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"


class TimeInForce(StrEnum):
    FOK = "fill_or_kill"
    IOC = "immediate_or_cancel"
    GTC = "good_till_canceled"


class OrderStatus(StrEnum):
    PENDING = "pending"  # written, not yet acknowledged by the venue
    OPEN = "open"  # resting (never for FOK/IOC once answered)
    FILLED = "filled"
    PARTIAL = "partial"  # partly filled, the rest cancelled (IOC)
    CANCELED = "canceled"  # nothing filled: killed, cancelled or expired
    REJECTED = "rejected"  # the venue refused it
    UNKNOWN = "unknown"  # the reply was lost; resolve by lookup, never by resending
    # Accepted, its matching held back by the venue (Polymarket's sports taker delay):
    # it becomes filled or killed within seconds, so it is neither hedged nor resent.
    DELAYED = "delayed"

    @property
    def final(self) -> bool:
        return self in {
            OrderStatus.FILLED,
            OrderStatus.PARTIAL,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
        }


class ArbKind(StrEnum):
    YES_NO = "yes_no"
    CROSS_TEAM = "cross_team"
    N_WAY = "n_way"
    SAME_VENUE = "same_venue"


class PairKind(StrEnum):
    BINARY = "binary"  # one market on each venue
    GROUP = "group"  # several markets on at least one venue (teams, 3-way)


class ExecutionStatus(StrEnum):
    PENDING = "pending"  # written ahead, orders not yet all answered
    SUCCESS = "success"  # every leg filled in full (final: COMPLETED)
    PARTIAL = "partial"  # some legs filled, not all: exposure
    FAILED = "failed"  # nothing filled
    HEDGED = "hedged"  # partial, then completed at a worse price
    UNWOUND = "unwound"  # partial, then the filled legs sold back
    EXPOSED = "exposed"  # still holding an unhedged leg: a human is needed

    @property
    def final(self) -> bool:
        return self not in {ExecutionStatus.PENDING, ExecutionStatus.PARTIAL}


@dataclass(frozen=True, slots=True)
class Contract:
    """One buyable claim paying $1 in some world.

    Kalshi: ``market_id`` is the ticker and ``side`` is ``"yes"`` or ``"no"``.
    Polymarket: ``market_id`` is the Gamma market id, ``side`` the outcome label
    (``"Yes"``, ``"Lakers"``) and ``token_id`` the CLOB token id.
    """

    venue: Venue
    market_id: str
    side: str
    token_id: str = ""

    @property
    def key(self) -> str:
        return f"{self.venue.value}:{self.market_id}:{self.token_id or self.side}"


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A venue's taker/maker fee parameters for one market.

    Kalshi: ``rate`` is 0.07 × the series multiplier; rounded up to $0.0001 per fill.
    Polymarket: ``rate`` is the market's taker rate; rounded to 5 dp.
    ``fee = C × rate × (p × (1 − p)) ** exponent``.
    """

    venue: Venue
    rate: Decimal
    exponent: int = 1
    maker_rate: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class FeeChange:
    """A fee that takes effect at ``at`` (a venue's published schedule); ``fee`` None
    means fees unknown from then on, so the market is not traded after ``at``."""

    at: datetime
    fee: FeeSchedule | None


@dataclass(frozen=True, slots=True)
class Market:
    venue: Venue
    market_id: str
    event_id: str
    title: str
    contracts: tuple[Contract, ...]  # Kalshi: (yes, no); Polymarket: one per outcome token
    status: MarketStatus = MarketStatus.OPEN
    close_time: datetime | None = None  # when trading stops
    resolve_time: datetime | None = None  # when the fact is expected to be known
    category: str = ""
    series: str = ""  # Kalshi series ticker; Polymarket event slug or series
    subtitle: str = ""  # Kalshi yes_sub_title, Polymarket groupItemTitle
    rules: str = ""  # resolution text, for the matcher and a human check
    tick_size: Decimal = CENT
    min_order_size: Decimal = ONE  # contracts (shares)
    fee: FeeSchedule | None = None  # None: fees unknown, so the market is never traded
    neg_risk: bool = False
    live: bool = False  # in play
    extra: Mapping[str, str] = field(default_factory=dict)
    exchange_index: int = 0  # Kalshi exchange shard: collateral is held per shard
    fee_changes: tuple[FeeChange, ...] = ()  # scheduled, oldest first
    slug: str = ""  # the market's own slug where the venue has one (Polymarket US)

    def fee_at(self, now: datetime) -> FeeSchedule | None:
        """The fee in force at ``now``: the last scheduled change already due, else
        ``fee``."""
        current = self.fee
        for change in self.fee_changes:
            if change.at > now:
                break
            current = change.fee
        return current

    def contract(self, side: str) -> Contract:
        for c in self.contracts:
            if c.side.lower() == side.lower() or (c.token_id and c.token_id == side):
                return c
        raise KeyError(f"{self.market_id} has no side {side!r}")


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    size: Decimal  # contracts available at this price


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Depth for one contract. ``asks`` are what we can buy, ``bids`` what we can sell
    into; both best first. ``ts`` is when the venue (or our adapter) saw it."""

    contract: Contract
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts: datetime
    tick_size: Decimal = CENT
    min_order_size: Decimal = ONE

    @property
    def best_ask(self) -> Level | None:
        return self.asks[0] if self.asks else None

    @property
    def best_bid(self) -> Level | None:
        return self.bids[0] if self.bids else None


@dataclass(frozen=True, slots=True)
class World:
    """One mutually exclusive outcome of an event, and every contract that pays $1
    exactly in it (on either venue)."""

    label: str
    contracts: tuple[Contract, ...]


@dataclass(frozen=True, slots=True)
class Pair:
    """Markets on the two venues that settle on the same fact.

    ``worlds`` is the outcome mapping: the worlds are mutually exclusive, and, when
    ``exhaustive``, one of them always happens. A leg set that buys one contract per
    world therefore pays $1 per contract whatever happens.
    """

    pair_id: str
    kind: PairKind
    event: str
    worlds: tuple[World, ...]
    confidence: float
    tradable: bool
    exhaustive: bool = True
    flags: tuple[str, ...] = ()
    evidence: str = ""
    category: str = ""
    series: tuple[str, ...] = ()
    live: bool = False
    resolve_time: datetime | None = None

    @property
    def contracts(self) -> tuple[Contract, ...]:
        return tuple(c for w in self.worlds for c in w.contracts)

    def markets(self, venue: Venue) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for c in self.contracts:
            if c.venue is venue:
                seen.setdefault(c.market_id, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Leg:
    """One order of an opportunity: buy ``contracts`` of ``contract`` at up to ``price``."""

    contract: Contract
    world: str
    price: Decimal  # the limit: the worst level the calculator walked to
    contracts: Decimal
    cost: Decimal  # sum over the walked levels of price × size
    fee: Decimal
    tick_size: Decimal = CENT
    min_order_size: Decimal = ONE
    # Polymarket: shares beyond ``contracts`` that the money buys on the levels cheaper
    # than the limit (a market BUY spends ``contracts × price``); not part of the cover.
    surplus: Decimal = ZERO

    @property
    def avg_price(self) -> Decimal:
        return self.cost / self.contracts if self.contracts else ZERO


@dataclass(frozen=True, slots=True)
class Opportunity:
    pair_id: str
    kind: ArbKind
    event: str
    legs: tuple[Leg, ...]
    contracts: Decimal  # equal on every leg
    cost: Decimal  # all legs, before fees
    fees: Decimal
    payout: Decimal  # guaranteed: contracts × $1
    profit: Decimal  # payout − cost − fees
    roi_pct: Decimal  # profit / (cost + fees) × 100
    quote_ts: datetime  # the oldest book the legs were priced from
    confidence: float = 1.0
    executable: bool = True
    tradable: bool = True
    reason: str = ""
    live: bool = False
    series: tuple[str, ...] = ()
    category: str = ""

    @property
    def venues(self) -> tuple[Venue, ...]:
        return tuple(dict.fromkeys(leg.contract.venue for leg in self.legs))


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    contract: Contract
    action: Action
    price: Decimal  # limit price of the contract bought or sold
    contracts: Decimal
    tif: TimeInForce = TimeInForce.FOK


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    client_order_id: str
    contract: Contract
    action: Action
    price: Decimal
    contracts: Decimal
    fee: Decimal
    ts: datetime
    final: bool = True  # Polymarket: False until the trade is confirmed on chain


@dataclass(frozen=True, slots=True)
class OrderResult:
    client_order_id: str
    status: OrderStatus
    venue_order_id: str = ""
    filled: Decimal = ZERO
    avg_price: Decimal = ZERO
    fee: Decimal = ZERO
    fills: tuple[Fill, ...] = ()
    error_code: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class VenuePosition:
    contract: Contract
    contracts: Decimal  # positive: held
    cost: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Resolution:
    """A market's final result. ``payouts`` maps each contract side to its payout per
    contract ($1 or $0; a 50/50 pays 0.5; a void refunds and is marked ``void``)."""

    market_id: str
    payouts: Mapping[str, Decimal]
    void: bool = False
    settled_at: datetime | None = None

    def payout(self, contract: Contract) -> Decimal:
        for key in (contract.token_id, contract.side, contract.side.lower()):
            if key and key in self.payouts:
                return self.payouts[key]
        raise KeyError(f"no payout for {contract.key}")
