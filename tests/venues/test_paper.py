"""Paper trading: simulated fills against a source venue's books."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from predarb.arbitrage.fees import (
    kalshi_schedule,
    polymarket_schedule,
    polymarket_us_schedule,
    taker_fee,
)
from predarb.domain import (
    ONE,
    Action,
    Contract,
    Level,
    Market,
    OrderBook,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Resolution,
    TimeInForce,
    Venue,
    VenuePosition,
)
from predarb.venues.base import VenueClient
from predarb.venues.paper import FOK_KILLED, PaperLedger, PaperVenue
from predarb.venues.sim import SimVenue, SimWorld

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TICKER = "KXNBAGAME-26NOV22LALBOS-LAL"
YES = Contract(Venue.KALSHI, TICKER, "yes")
NO = Contract(Venue.KALSHI, TICKER, "no")
MARKET = Market(
    Venue.KALSHI, TICKER, "KXNBAGAME-26NOV22LALBOS", "Lakers", (YES, NO), fee=kalshi_schedule()
)


def levels(*rows: tuple[str, int]) -> tuple[Level, ...]:
    return tuple(Level(Decimal(p), Decimal(s)) for p, s in rows)


def mirrored(side: tuple[Level, ...]) -> tuple[Level, ...]:
    return tuple(Level(ONE - lv.price, lv.size) for lv in side)


class StaticSource(VenueClient):
    """A source venue whose one market's YES book the test sets; NO mirrors it."""

    venue = Venue.KALSHI

    def __init__(self, bids: tuple[Level, ...], asks: tuple[Level, ...]) -> None:
        self.bids, self.asks = bids, asks
        self.book_reads = 0

    async def list_markets(self) -> list[Market]:
        return [MARKET]

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        self.book_reads += 1
        books = {
            YES: OrderBook(YES, self.bids, self.asks, T0),
            NO: OrderBook(NO, mirrored(self.asks), mirrored(self.bids), T0),
        }
        return {c: books[c] for c in contracts if c in books}

    async def place_order(self, order: OrderRequest) -> OrderResult:
        raise AssertionError("paper must never send an order to its source")

    async def get_order(self, client_order_id: str, venue_order_id: str = "") -> OrderResult:
        raise AssertionError("paper must never ask its source about orders")

    async def cancel_order(self, venue_order_id: str) -> None:
        raise AssertionError("paper must never cancel at its source")

    async def get_balance(self) -> Decimal:
        raise AssertionError("paper keeps its own balance")

    async def get_positions(self) -> list[VenuePosition]:
        raise AssertionError("paper keeps its own positions")

    async def get_resolution(self, market_id: str) -> Resolution | None:
        return Resolution(market_id, {"yes": ONE, "no": Decimal(0)})


class FakeTime:
    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


def paper(source: VenueClient, balance: str = "100", **kw: object) -> PaperVenue:
    time = FakeTime()
    return PaperVenue(
        source,
        balance=Decimal(balance),
        clock=time.clock,
        sleep=time.sleep,
        latency_s=kw.pop("latency_s", 0.0),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def buy(
    n: str, price: str, tif: TimeInForce = TimeInForce.FOK, coid: str = "", c: Contract = YES
) -> OrderRequest:
    return OrderRequest(
        coid or f"buy-{n}-{price}-{tif}", c, Action.BUY, Decimal(price), Decimal(n), tif
    )


def sell(n: str, price: str, coid: str = "") -> OrderRequest:
    return OrderRequest(
        coid or f"sell-{n}-{price}", YES, Action.SELL, Decimal(price), Decimal(n), TimeInForce.IOC
    )


BOOK = StaticSource(levels(("0.38", 10), ("0.37", 20)), levels(("0.40", 10), ("0.42", 10)))


def fresh() -> StaticSource:
    return StaticSource(BOOK.bids, BOOK.asks)


async def test_fok_fills_in_full_walking_the_book_with_fees() -> None:
    venue = paper(fresh())
    res = await venue.place_order(buy("15", "0.42"))
    assert res.status is OrderStatus.FILLED and res.filled == 15
    assert [(f.price, f.contracts) for f in res.fills] == [
        (Decimal("0.40"), Decimal(10)),
        (Decimal("0.42"), Decimal(5)),
    ]
    fees = taker_fee(MARKET.fee, Decimal(10), Decimal("0.40")) + taker_fee(
        MARKET.fee, Decimal(5), Decimal("0.42")
    )
    assert res.fee == fees == Decimal("0.1680") + Decimal("0.0853")
    assert res.avg_price == (Decimal("4.00") + Decimal("2.10")) / 15
    assert await venue.get_balance() == Decimal(100) - Decimal("6.10") - fees
    [pos] = await venue.get_positions()
    assert pos.contract == YES and pos.contracts == 15 and pos.cost == Decimal("6.10")
    assert await venue.get_fills(res.client_order_id) == list(res.fills)


async def test_fok_is_killed_when_the_book_is_short() -> None:
    venue = paper(fresh())
    res = await venue.place_order(buy("25", "0.42"))
    assert res.status is OrderStatus.CANCELED and res.error_code == FOK_KILLED
    assert res.filled == 0 and await venue.get_balance() == 100
    assert await venue.get_positions() == []


async def test_ioc_fills_partially() -> None:
    venue = paper(fresh())
    res = await venue.place_order(buy("25", "0.42", TimeInForce.IOC))
    assert res.status is OrderStatus.PARTIAL and res.filled == 20
    nothing = await venue.place_order(buy("5", "0.39", TimeInForce.IOC))
    assert nothing.status is OrderStatus.CANCELED and nothing.filled == 0


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(st.integers(1, 99), min_size=1, max_size=6, unique=True),
    sizes=st.lists(st.integers(1, 50), min_size=6, max_size=6),
    limit=st.integers(1, 99),
    want=st.integers(1, 120),
    is_buy=st.booleans(),
)
def test_never_fills_past_the_limit(
    prices: list[int], sizes: list[int], limit: int, want: int, is_buy: bool
) -> None:
    asks = tuple(
        Level(Decimal(p) / 100, Decimal(s))
        for p, s in zip(sorted(prices), sizes[: len(prices)], strict=True)
    )
    bids = tuple(Level(ONE - lv.price, lv.size) for lv in asks)  # sorted high to low
    venue = paper(StaticSource(bids, asks), balance="10000")
    price = str(Decimal(limit) / 100)
    if not is_buy:
        venue.ledger._positions[YES] = VenuePosition(YES, Decimal(1000))  # held from before
    order = buy(str(want), price, TimeInForce.IOC) if is_buy else sell(str(want), price)
    res = asyncio.run(venue.place_order(order))
    side = asks if is_buy else bids
    offered = sum(
        (
            lv.size
            for lv in side
            if (lv.price <= order.price if is_buy else lv.price >= order.price)
        ),
        Decimal(0),
    )
    assert res.filled == min(offered, order.contracts)
    for f in res.fills:
        assert f.price <= order.price if is_buy else f.price >= order.price


async def test_client_order_id_is_idempotent_even_concurrently() -> None:
    source = fresh()
    venue = paper(source, latency_s=0.05)
    first, second = await asyncio.gather(
        venue.place_order(buy("5", "0.40", coid="same")),
        venue.place_order(buy("5", "0.40", coid="same")),
    )
    assert first == second and first.status is OrderStatus.FILLED
    assert await venue.place_order(buy("5", "0.40", coid="same")) == first
    assert source.book_reads == 1
    [pos] = await venue.get_positions()
    assert pos.contracts == 5
    assert await venue.get_order("same") == first
    assert await venue.get_order("never-sent") is None


async def test_latency_is_honoured_and_the_book_reread_after_it() -> None:
    source = fresh()
    time = FakeTime()

    async def sleep_while_the_book_moves(seconds: float) -> None:
        await time.sleep(seconds)
        source.asks = levels(("0.45", 50))

    venue = PaperVenue(
        source,
        balance=Decimal(100),
        latency_s=0.25,
        clock=time.clock,
        sleep=sleep_while_the_book_moves,
    )
    res = await venue.place_order(buy("5", "0.42"))
    assert time.sleeps == [0.25]
    assert res.status is OrderStatus.CANCELED and res.error_code == FOK_KILLED


async def test_real_sleep_latency() -> None:
    venue = PaperVenue(fresh(), balance=Decimal(100), latency_s=0.02)
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert (await venue.place_order(buy("1", "0.40"))).status is OrderStatus.FILLED
    assert loop.time() - start >= 0.019


async def test_consumed_liquidity_is_remembered_for_a_while() -> None:
    time = FakeTime()
    venue = PaperVenue(
        fresh(),
        balance=Decimal(100),
        latency_s=0,
        clock=time.clock,
        sleep=time.sleep,
        consumed_ttl_s=5,
    )
    assert (await venue.place_order(buy("8", "0.40", coid="a"))).filled == 8
    second = await venue.place_order(buy("8", "0.40", coid="b"))
    assert second.status is OrderStatus.CANCELED  # only 2 left at 0.40
    book = await venue.get_order_book(YES)
    assert book is not None and book.asks[0] == Level(Decimal("0.40"), Decimal(2))
    # Buying YES at 0.40 took the same offer as a NO bid at 0.60.
    no_book = await venue.get_order_book(NO)
    assert no_book is not None and no_book.bids[0] == Level(Decimal("0.60"), Decimal(2))
    time.now += timedelta(seconds=6)
    assert (await venue.place_order(buy("8", "0.40", coid="c"))).filled == 8


async def test_balance_and_positions_follow_buys_and_sells() -> None:
    venue = paper(fresh())
    bought = await venue.place_order(buy("10", "0.40"))
    sold = await venue.place_order(sell("4", "0.38"))
    assert sold.status is OrderStatus.FILLED and sold.avg_price == Decimal("0.38")
    [pos] = await venue.get_positions()
    assert pos.contracts == 6 and pos.cost == Decimal("2.40")
    expected = Decimal(100) - Decimal("4.00") - bought.fee + Decimal("1.52") - sold.fee
    assert await venue.get_balance() == expected
    await venue.place_order(sell("6", "0.37"))
    assert await venue.get_positions() == []


US_SLUG = "nba-lal-bos-2026-11-22"
US_LONG = Contract(Venue.POLYMARKET_US, US_SLUG, "Lakers", "long")
US_SHORT = Contract(Venue.POLYMARKET_US, US_SLUG, "Celtics", "short")


class USSource(StaticSource):
    """A Polymarket US market (fee coefficient 0.003) with the same books."""

    venue = Venue.POLYMARKET_US

    async def list_markets(self) -> list[Market]:
        fee = polymarket_us_schedule(Decimal("0.003"))
        return [
            Market(Venue.POLYMARKET_US, US_SLUG, US_SLUG, "LAL-BOS", (US_LONG, US_SHORT), fee=fee)
        ]

    async def get_order_books(self, contracts: Sequence[Contract]) -> dict[Contract, OrderBook]:
        books = {
            US_LONG: OrderBook(US_LONG, self.bids, self.asks, T0),
            US_SHORT: OrderBook(US_SHORT, mirrored(self.asks), mirrored(self.bids), T0),
        }
        return {c: books[c] for c in contracts if c in books}


async def test_a_polymarket_us_sale_pays_the_fee_on_the_complement() -> None:
    """docs.polymarket.us/faqs/fees: a seller's fee notional is contracts × (1 − price),
    as the live adapter checks the exchange's commission (one rule, ``fees.fee_price``)."""
    venue = paper(USSource(levels(("0.90", 100)), levels(("0.40", 100))))
    bought = await venue.place_order(buy("100", "0.40", c=US_LONG))
    assert bought.fee == Decimal("0.12")  # 0.003 × 100 × 0.40
    sale = OrderRequest("s-us", US_LONG, Action.SELL, Decimal("0.90"), Decimal(100))
    sold = await venue.place_order(sale)
    assert sold.status is OrderStatus.FILLED
    assert sold.fee == Decimal("0.03")  # 0.003 × 100 × (1 − 0.90); × 0.90 would be 0.27
    assert [f.fee for f in sold.fills] == [Decimal("0.03")]
    assert await venue.get_balance() == Decimal(100) - 40 - Decimal("0.12") + 90 - Decimal("0.03")


async def test_refusals() -> None:
    venue = paper(fresh(), balance="3")
    poor = await venue.place_order(buy("10", "0.40"))
    assert poor.status is OrderStatus.REJECTED and poor.error_code == "insufficient_balance"
    short = await venue.place_order(sell("1", "0.30"))
    assert short.error_code == "insufficient_position"
    off_grid = await venue.place_order(buy("1", "0.405"))
    assert off_grid.status is OrderStatus.REJECTED and off_grid.error_code == "invalid_price"
    gtc = await venue.place_order(buy("1", "0.40", TimeInForce.GTC))
    assert gtc.error_code == "unsupported_time_in_force"
    ghost = Contract(Venue.KALSHI, "KXNOPE-1", "yes")
    assert (await venue.place_order(buy("1", "0.40", c=ghost))).error_code == "market_not_found"
    assert await venue.get_balance() == 3


async def test_fail_rate_kills_fills_as_if_the_book_moved() -> None:
    venue = paper(fresh(), fail_rate=1.0, rng=random.Random(1))
    res = await venue.place_order(buy("1", "0.40"))
    assert res.status is OrderStatus.CANCELED and res.error_code == FOK_KILLED
    some = paper(fresh(), balance="1000", fail_rate=0.5, rng=random.Random(2))
    results = [await some.place_order(buy("1", "0.42", coid=str(i))) for i in range(20)]
    statuses = {r.status for r in results}
    assert statuses == {OrderStatus.FILLED, OrderStatus.CANCELED}


async def test_paper_over_the_simulator() -> None:
    world = SimWorld(3)
    source = SimVenue(world, Venue.POLYMARKET)
    venue = PaperVenue(source, balance=Decimal(50), latency_s=0)
    markets = await venue.list_markets()
    assert markets == world.markets(Venue.POLYMARKET)
    market = markets[0]
    token = market.contracts[0]
    book = await venue.get_order_book(token)
    assert book is not None and book == world.book(token)
    ask = book.asks[0]
    res = await venue.place_order(
        OrderRequest("p1", token, Action.BUY, ask.price, Decimal(5), TimeInForce.FOK)
    )
    assert res.status is OrderStatus.FILLED
    assert res.fee == taker_fee(polymarket_schedule(Decimal("0.05")), Decimal(5), ask.price)
    assert await source.get_balance() == 1000  # the source's own account is untouched
    world.resolve_now(world.events[0].key)
    assert await venue.get_resolution(market.market_id) == world.resolution(
        Venue.POLYMARKET, market.market_id
    )


async def test_a_restart_never_reuses_order_or_fill_ids() -> None:
    """A fill is stored by venue and fill id: a second run whose ids restarted from 1
    would have its fills taken for the first run's and dropped (positions missing, a
    false "every leg lost" at settlement)."""
    first, second = paper(fresh()), paper(fresh())  # the same account before and after
    a = await first.place_order(buy("5", "0.42", coid="run-1"))
    b = await second.place_order(buy("5", "0.42", coid="run-2"))
    assert a.venue_order_id != b.venue_order_id
    assert {f.fill_id for f in a.fills}.isdisjoint(f.fill_id for f in b.fills)


def test_a_polymarket_paper_buy_spends_its_money_and_gets_surplus_shares() -> None:
    """As on the CLOB (and the fake CLOB): a FOK BUY of 30 at 0.50 spends 15 pUSD, and
    the cheaper levels give 2.6 shares more than asked. A FOK whose money the levels up
    to its limit cannot absorb dies; a FAK takes what there is. Kalshi BUYs still fill
    the count."""
    poly = Contract(Venue.POLYMARKET, "9", "Yes", "tok")
    fee = polymarket_schedule(Decimal("0.04"))
    asks = levels(("0.45", 10), ("0.46", 20), ("0.50", 100))
    ledger = PaperLedger(Venue.POLYMARKET, Decimal(100), lambda: T0)
    result, taken = ledger.execute(buy("30", "0.50", c=poly), asks, fee)
    assert (result.status, result.filled) == (OrderStatus.FILLED, Decimal("32.6"))
    assert [(lv.price, lv.size) for lv in taken] == [
        (Decimal("0.45"), Decimal(10)),
        (Decimal("0.46"), Decimal(20)),
        (Decimal("0.50"), Decimal("2.6")),
    ]
    assert result.avg_price * result.filled == Decimal(15)
    fees = Decimal("0.099") + Decimal("0.19872") + Decimal("0.026")
    assert result.fee == fees and ledger.balance == Decimal(100) - 15 - fees
    (held,) = ledger.positions()
    assert (held.contracts, held.cost) == (Decimal("32.6"), Decimal(15))
    thin = levels(("0.45", 10))  # 4.50 of notional for 15 of money
    killed, _ = ledger.execute(buy("30", "0.50", coid="k", c=poly), thin, fee)
    assert (killed.status, killed.error_code) == (OrderStatus.CANCELED, FOK_KILLED)
    fak, _ = ledger.execute(buy("30", "0.50", TimeInForce.IOC, "f", poly), thin, fee)
    assert (fak.status, fak.filled) == (OrderStatus.PARTIAL, Decimal(10))
    kalshi = PaperLedger(Venue.KALSHI, Decimal(100), lambda: T0)
    counted, _ = kalshi.execute(buy("30", "0.50"), asks, kalshi_schedule())
    assert (counted.status, counted.filled) == (OrderStatus.FILLED, Decimal(30))


def test_a_polymarket_paper_buy_is_affordable_with_its_surplus_fees() -> None:
    """Surplus shares pay fees too, so the money a market BUY needs allows the fee of
    every share its money could buy (at most the rate on the money)."""
    poly = Contract(Venue.POLYMARKET, "9", "Yes", "tok")
    fee = polymarket_schedule(Decimal("0.04"))
    order = buy("10", "0.90", c=poly)  # 9 pUSD: at most 0.36 of fees
    assert PaperLedger(Venue.POLYMARKET, Decimal("9.35"), lambda: T0).affordable(order, fee)
    assert PaperLedger(Venue.POLYMARKET, Decimal("9.36"), lambda: T0).affordable(order, fee) is None
