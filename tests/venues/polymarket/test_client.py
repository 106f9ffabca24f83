"""PolymarketVenue against the fake Gamma + CLOB over loopback HTTP."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from predarb.domain import (
    Action,
    Contract,
    MarketStatus,
    OrderRequest,
    OrderStatus,
    TimeInForce,
    Venue,
)
from predarb.venues.base import (
    AuthError,
    NotFound,
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from predarb.venues.polymarket import PolymarketVenue
from predarb.venues.polymarket.errors import PolymarketOrderStateUnknown
from tests.fakes.polymarket_server import FakePolymarket
from tests.venues.polymarket.conftest import ADDRESS, KEY, Env


def buy(
    env: Env, coid: str, price: str, qty: str, tif: TimeInForce = TimeInForce.FOK
) -> OrderRequest:
    contract = Contract(Venue.POLYMARKET, env.market.market_id, "Yes", env.yes)
    return OrderRequest(coid, contract, Action.BUY, D(price), D(qty), tif)


async def test_discovery_pages_by_keyset_and_keeps_open(fake: FakePolymarket) -> None:
    """A keyset listing of three pages: 5 events, 2 a page, each next page asked for
    with the cursor the last one gave; no next_cursor ends it."""
    for i in range(5):
        fake.add_market(str(600 + i), tags=("sports",), accepting=i != 4)
    venue = PolymarketVenue(fake.clob_url, fake.gamma_url, page_size=2)
    markets = await venue.list_markets()
    await venue.close()
    assert sorted(m.market_id for m in markets) == ["600", "601", "602", "603"]
    assert all(m.category == "Sports" and m.status is MarketStatus.OPEN for m in markets)
    assert fake.requests.count(("GET", "/events/keyset")) == 3
    assert ("GET", "/events") not in fake.requests


async def test_discovery_falls_back_to_offset_paging(fake: FakePolymarket) -> None:
    for i in range(5):
        fake.add_market(str(600 + i))
    fake.keyset_enabled, fake.page_size = False, 2
    venue = PolymarketVenue(fake.clob_url, fake.gamma_url, page_size=2)
    markets = await venue.list_markets()
    await venue.close()
    assert sorted(m.market_id for m in markets) == [str(600 + i) for i in range(5)]
    assert fake.requests.count(("GET", "/events")) == 3


async def test_books_best_first_and_paper_mode(env: Env) -> None:
    paper = PolymarketVenue(env.fake.clob_url, env.fake.gamma_url)
    (market,) = await paper.list_markets()
    books = await paper.get_order_books(market.contracts)
    yes = books[market.contract("Yes")]
    assert [lv.price for lv in yes.asks] == [D("0.45"), D("0.46"), D("0.5")]
    assert [lv.price for lv in yes.bids] == [D("0.4"), D("0.39")]
    assert (yes.tick_size, yes.min_order_size) == (D("0.01"), D(5))
    with pytest.raises(AuthError, match="POLY_PRIVATE_KEY"):
        await paper.place_order(buy(env, "p1", "0.46", "10"))
    with pytest.raises(AuthError):
        await paper.get_balance()
    await paper.close()


async def test_fok_fill_pending_then_confirmed(env: Env) -> None:
    result = await env.venue.place_order(buy(env, "c1", "0.45", "10"))
    assert result.status is OrderStatus.FILLED
    assert (result.filled, result.avg_price) == (D(10), D("0.45"))
    assert result.venue_order_id in env.fake.orders
    assert env.fake.wallet(ADDRESS).balance == D(100) - D("4.5") - D("0.099")
    order = await env.venue.get_order("c1")
    assert order is not None and order.status is OrderStatus.FILLED
    assert [(f.price, f.contracts, f.final) for f in order.fills] == [(D("0.45"), D(10), False)]
    assert sum(f.fee for f in order.fills) == D("0.099")
    env.fake.settle_trades("CONFIRMED")
    fills = await env.venue.get_fills("c1")
    assert all(f.final and f.client_order_id == "c1" for f in fills) and len(fills) == 1
    assert await env.venue.get_balance() == D("95.401")
    (pos,) = await env.venue.get_positions()
    assert (pos.contract.token_id, pos.contracts, pos.cost) == (env.yes, D(10), D("4.5"))


async def test_a_buy_walking_two_better_levels_gets_surplus_shares(env: Env) -> None:
    # A FOK BUY of 30 at 0.50 spends 15 pUSD: 10 @ 0.45 and 20 @ 0.46 cost 13.70, and
    # the last 1.30 buys 2.6 @ 0.50: 32.6 shares, 2.6 more than asked (not "unknown").
    result = await env.venue.place_order(buy(env, "s1", "0.50", "30"))
    assert (result.status, result.filled) == (OrderStatus.FILLED, D("32.6"))
    assert result.avg_price == (D(15) / D("32.6")).quantize(D("0.000001"))
    order = await env.venue.get_order("s1")
    assert order is not None and order.status is OrderStatus.FILLED
    assert [(f.price, f.contracts) for f in order.fills] == [
        (D("0.45"), D(10)),
        (D("0.46"), D(20)),
        (D("0.5"), D("2.6")),
    ]
    fees = D("0.099") + D("0.19872") + D("0.026")
    assert env.fake.wallet(ADDRESS).balance == D(100) - D(15) - fees
    assert env.fake.wallet(ADDRESS).positions[env.yes] == D("32.6")


async def test_a_fok_at_0955_on_a_0001_tick_is_never_sent_with_an_odd_count(
    fake: FakePolymarket, env: Env
) -> None:
    fine = fake.add_market("502", tick="0.001", fee_rate="0")
    token = fine.tokens["Yes"]
    fake.set_book(token, asks=[("0.955", "100")])
    contract = Contract(Venue.POLYMARKET, "502", "Yes", token)
    odd = OrderRequest("f1", contract, Action.BUY, D("0.955"), D(7), TimeInForce.FOK)
    with pytest.raises(OrderRejected) as refused:
        await env.venue.prepare(odd)
    assert refused.value.code == "amount_precision"
    result = await env.venue.place_order(odd)
    assert (result.status, result.error_code) == (OrderStatus.REJECTED, "amount_precision")
    assert ("POST", "/order") not in fake.requests  # 7 × 0.955 = 6.685: never sent
    even = OrderRequest("f2", contract, Action.BUY, D("0.955"), D(6), TimeInForce.FOK)
    done = await env.venue.place_order(even)
    assert (done.status, done.filled, done.avg_price) == (OrderStatus.FILLED, D(6), D("0.955"))


async def test_failed_trade_is_a_failed_leg(env: Env) -> None:
    result = await env.venue.place_order(buy(env, "c2", "0.45", "10"))
    assert result.status is OrderStatus.FILLED
    env.fake.settle_trades("FAILED")
    order = await env.venue.get_order("c2", result.venue_order_id)
    assert order is not None
    assert (order.status, order.filled, order.error_code) == (
        OrderStatus.REJECTED,
        D(0),
        "trade_failed",
    )
    assert await env.venue.get_fills("c2") == []
    assert await env.venue.get_balance() == D(100)


async def test_fok_kill_is_canceled_not_an_exception(env: Env) -> None:
    result = await env.venue.place_order(buy(env, "c3", "0.46", "31"))
    assert (result.status, result.error_code) == (OrderStatus.CANCELED, "fok_killed")
    assert result.filled == 0 and env.fake.orders == {}


async def test_fak_partial_and_no_match(env: Env) -> None:
    partial = await env.venue.place_order(buy(env, "c4", "0.45", "15", TimeInForce.IOC))
    assert (partial.status, partial.filled, partial.avg_price) == (
        OrderStatus.PARTIAL,
        D(10),
        D("0.45"),
    )
    none = await env.venue.place_order(buy(env, "c5", "0.44", "15", TimeInForce.IOC))
    assert (none.status, none.error_code) == (OrderStatus.CANCELED, "fak_no_match")


async def test_refusals_become_rejected(env: Env) -> None:
    small = await env.venue.place_order(buy(env, "r1", "0.46", "4.99"))
    assert (small.status, small.error_code) == (OrderStatus.REJECTED, "below_min_size")
    off_grid = await env.venue.place_order(buy(env, "r2", "0.455", "10"))
    assert (off_grid.status, off_grid.error_code) == (OrderStatus.REJECTED, "invalid_order")
    poor = await env.venue.place_order(buy(env, "r3", "0.50", "300"))
    assert (poor.status, poor.error_code) == (OrderStatus.REJECTED, "insufficient_balance")
    assert ("POST", "/order") in env.fake.requests  # the venue, not us, refused r3
    assert env.fake.requests.count(("POST", "/order")) == 1


async def test_neg_risk_order_signed_for_its_exchange(fake: FakePolymarket) -> None:
    m = fake.add_market("777", neg_risk=True, tick="0.001")
    fake.set_book(m.tokens["Yes"], asks=[("0.123", "50")])
    venue = PolymarketVenue(
        fake.clob_url,
        fake.gamma_url,
        private_key=KEY,
        api_creds=fake.register_wallet(ADDRESS, balance="50"),
    )
    await venue.list_markets()
    c = Contract(Venue.POLYMARKET, "777", "Yes", m.tokens["Yes"])
    result = await venue.place_order(OrderRequest("n1", c, Action.BUY, D("0.123"), D("10")))
    await venue.close()
    assert result.status is OrderStatus.FILLED and fake.signer_failures == 0


async def test_token_info_looked_up_when_unknown(env: Env) -> None:
    """No list_markets first: tick/neg-risk/min size come from /clob-markets."""
    result = await env.venue.place_order(buy(env, "t1", "0.45", "5"))
    assert result.status is OrderStatus.FILLED
    assert ("GET", f"/clob-markets/{env.market.condition_id}") in env.fake.requests


@pytest.mark.parametrize("status", [425, 500, 503])
async def test_unclear_order_reply_raises_state_unknown(env: Env, status: int) -> None:
    env.fake.fail_next("POST", "/order", status)
    with pytest.raises(PolymarketOrderStateUnknown) as info:
        await env.venue.place_order(buy(env, "u1", "0.45", "5"))
    assert info.value.venue_order_id.startswith("0x")
    assert env.fake.requests.count(("POST", "/order")) == 1  # never resent
    assert await env.venue.get_order("u1") is None  # it never arrived


async def test_dropped_reply_then_lookup_by_hash(env: Env) -> None:
    env.fake.drop_next("POST", "/order")
    with pytest.raises(OrderStateUnknown) as info:
        await env.venue.place_order(buy(env, "d1", "0.45", "5"))
    assert isinstance(info.value, PolymarketOrderStateUnknown)
    assert env.fake.requests.count(("POST", "/order")) == 1
    found = await env.venue.get_order("d1")
    assert found is not None and found.status is OrderStatus.FILLED and found.filled == 5
    assert found.venue_order_id == info.value.venue_order_id


async def test_an_order_without_a_known_hash_is_unknowable_not_absent(env: Env) -> None:
    # A restarted process that never learnt the hash must not conclude "never arrived".
    with pytest.raises(VenueError) as info:
        await env.venue.get_order("never-seen-client-id")
    assert info.value.code == "order_hash_unknown"
    assert not any(path.startswith("/data/order") for _, path in env.fake.requests)


async def test_malformed_order_reply_is_unknown(env: Env) -> None:
    env.fake.malformed_next(
        "POST", "/order", '{"success":true,"status":"matched","makingAmount":"NaN"}'
    )
    with pytest.raises(PolymarketOrderStateUnknown):
        await env.venue.place_order(buy(env, "m1", "0.45", "5"))


async def test_reads_retry_429_and_5xx(env: Env) -> None:
    env.fake.fail_next("GET", "/balance-allowance", 429, headers={"Retry-After": "0"})
    env.fake.fail_next("GET", "/balance-allowance", 502)
    assert await env.venue.get_balance() == D(100)
    for _ in range(4):
        env.fake.fail_next("GET", "/balance-allowance", 429)
    with pytest.raises(RateLimited):
        await env.venue.get_balance()


async def test_order_429_is_not_resent(env: Env) -> None:
    env.fake.fail_next("POST", "/order", 429)
    with pytest.raises(RateLimited):
        await env.venue.place_order(buy(env, "q1", "0.45", "5"))
    assert env.fake.requests.count(("POST", "/order")) == 1


async def test_bad_credentials_401(env: Env) -> None:
    key, _, passphrase = env.creds
    bad = PolymarketVenue(
        env.fake.clob_url, env.fake.gamma_url, private_key=KEY, api_creds=(key, "AAAA", passphrase)
    )
    with pytest.raises(AuthError) as info:
        await bad.get_balance()
    await bad.close()
    assert info.value.status == 401 and "AAAA" not in str(info.value)


async def test_derive_credentials_at_start(env: Env) -> None:
    venue = PolymarketVenue(env.fake.clob_url, env.fake.gamma_url, private_key=KEY)
    assert not venue.can_trade
    await venue.connect()
    assert venue.can_trade and await venue.get_balance() == D(100)
    await venue.close()


async def test_resting_order_cancel_and_open_orders(env: Env) -> None:
    result = await env.venue.place_order(buy(env, "g1", "0.30", "10", TimeInForce.GTC))
    assert result.status is OrderStatus.OPEN
    env.fake.page_size = 1
    await env.venue.place_order(buy(env, "g2", "0.31", "10", TimeInForce.GTC))
    opened = await env.venue.open_orders()
    assert {o.client_order_id for o in opened} == {"g1", "g2"}
    await env.venue.cancel_order(result.venue_order_id)
    await env.venue.cancel_order(result.venue_order_id)  # already gone: not an error
    assert [o.client_order_id for o in await env.venue.open_orders()] == ["g2"]


async def test_resolution(env: Env) -> None:
    assert await env.venue.get_resolution("501") is None
    env.fake.resolve_market("501", "No")
    res = await env.venue.get_resolution("501")
    assert res is not None and res.payouts["No"] == 1 and res.payouts[env.yes] == 0
    env.fake.resolve_market("501", None)
    half = await env.venue.get_resolution("501")
    assert half is not None and half.payouts["Yes"] == half.payouts["No"] == D("0.5")
    with pytest.raises(NotFound):
        await env.venue.get_resolution("999")


async def test_gamma_5xx_exhausts_retries(env: Env) -> None:
    for _ in range(4):
        env.fake.fail_next("GET", "/events/keyset", 503)
    with pytest.raises(VenueUnavailable):
        await env.venue.list_markets()
    assert env.fake.requests.count(("GET", "/events/keyset")) == 4


async def test_a_protocol_v2_market_trades_its_position_ids_on_exchange_v3(
    fake: FakePolymarket, env: Env
) -> None:
    """A ``version: "v2"`` market: its position ids (not its CTF token ids, though it
    carries both) are the contracts; orders are signed for ExchangeV3 (domain "3") and
    its balance is read as CONDITIONAL-V2."""
    v3 = fake.add_market("900", version="v2", fee_rate="0")
    position = v3.tokens["Yes"]
    fake.set_book(position, asks=[("0.40", "50")])
    market = await env.venue.get_market("900")
    yes = market.contract("Yes")
    assert yes.token_id == position != json.loads(v3.raw["clobTokenIds"])[0]
    order = OrderRequest("v3-1", yes, Action.BUY, D("0.40"), D(10), TimeInForce.FOK)
    result = await env.venue.place_order(order)
    assert (result.status, result.filled) == (OrderStatus.FILLED, D(10))
    assert fake.signer_failures == 0
    positions = await env.venue.get_positions()
    assert [(p.contract.token_id, p.contracts) for p in positions] == [(position, D(10))]


async def test_version_read_at_start_and_again_on_a_mismatch(env: Env) -> None:
    """The CLOB moves to version 3 after we read 2: the order signed for V2 is refused
    with order_version_mismatch, /version is read again and the order signed anew."""
    await env.venue.connect()
    assert env.fake.requests.count(("GET", "/version")) == 1
    env.fake.version = 3
    result = await env.venue.place_order(buy(env, "vm-1", "0.45", "10"))
    assert (result.status, result.filled) == (OrderStatus.FILLED, D(10))
    assert env.fake.requests.count(("GET", "/version")) == 2
    assert env.fake.requests.count(("POST", "/order")) == 2


def _v2_order(fake: FakePolymarket, market_id: str, coid: str) -> OrderRequest:
    v2 = fake.add_market(market_id, version="v2", fee_rate="0")
    fake.set_book(v2.tokens["Yes"], asks=[("0.40", "50")])
    contract = Contract(Venue.POLYMARKET, market_id, "Yes", v2.tokens["Yes"])
    return OrderRequest(coid, contract, Action.BUY, D("0.40"), D(10), TimeInForce.FOK)


async def test_a_v2_market_known_only_from_the_clob_is_signed_for_exchange_v3(
    fake: FakePolymarket, env: Env
) -> None:
    """Before any Gamma discovery (start-up recovery after a failed rematch) the token's
    info comes from /clob-markets, which has no protocol field: the position id itself
    says V2, so the order is signed for ExchangeV3 at once, never refused as a version
    mismatch."""
    order = _v2_order(fake, "901", "v3-clob")
    result = await env.venue.place_order(order)
    assert (result.status, result.filled, result.error_code) == (OrderStatus.FILLED, D(10), "")
    assert ("GET", f"/clob-markets/{fake.token_market[order.contract.token_id]}") in fake.requests
    assert not any(p.startswith(("/markets/9", "/events")) for _, p in fake.requests)  # no Gamma
    assert fake.requests.count(("POST", "/order")) == 1 and fake.signer_failures == 0


async def test_a_v2_market_known_only_from_its_book_is_signed_for_exchange_v3(
    fake: FakePolymarket, env: Env
) -> None:
    order = _v2_order(fake, "902", "v3-book")
    books = await env.venue.get_order_books([order.contract])
    assert books[order.contract].asks[0].price == D("0.40")
    result = await env.venue.place_order(order)
    assert (result.status, result.filled, result.error_code) == (OrderStatus.FILLED, D(10), "")
    assert fake.requests.count(("POST", "/order")) == 1 and fake.signer_failures == 0


async def test_balances_are_refreshed_and_read_on_each_tokens_ledger(
    fake: FakePolymarket, env: Env
) -> None:
    """A V2 position's balance lives in CONDITIONAL-V2 (the fake answers 0 for it under
    CONDITIONAL), a CTF token's in CONDITIONAL; both with and without Gamma discovery."""
    order = _v2_order(fake, "903", "v3-bal")
    position = order.contract.token_id
    assert (await env.venue.place_order(order)).filled == D(10)
    fresh = PolymarketVenue(fake.clob_url, fake.gamma_url, private_key=KEY, api_creds=env.creds)
    try:
        await fresh.refresh_balances([position, env.yes])
        (pos,) = await fresh.get_positions()  # a venue that never saw Gamma
        assert (pos.contract.token_id, pos.contracts) == (position, D(10))
    finally:
        await fresh.close()
    await env.venue.get_market("903")
    await env.venue.refresh_balances([position])
    ledgers = [(q.get("token_id"), q["asset_type"]) for q in fake.balance_updates]
    assert ledgers == [
        (None, "COLLATERAL"),
        (position, "CONDITIONAL-V2"),
        (env.yes, "CONDITIONAL"),
        (None, "COLLATERAL"),
        (position, "CONDITIONAL-V2"),
    ]
