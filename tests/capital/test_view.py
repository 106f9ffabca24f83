"""One view of capital per venue and per Kalshi shard, in /balance and `status`, and the
once-a-day advice of what to move where."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from predarb import reports
from predarb.capital.advice import advise_once
from predarb.capital.view import capital_view
from predarb.domain import Venue
from predarb.notify import messages
from predarb.store import Store
from predarb.store.redemptions import RedemptionStatus
from tests.capital.evm import Market
from tests.capital.helpers import NOW, Alerts, open_store, record_buys

D = Decimal
NEED = D(3)  # max bet 2 + balance floor 1
MARKET = Market("0x" + "11" * 32, (101, 102), False)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path)
    yield s
    await s.close()


async def _balances(store: Store, **values: str) -> None:
    for name, value in values.items():
        await store.set_state(reports.BALANCE_PREFIX + name, value, NOW)


async def _settled_poly_win(store: Store, ex_id: str) -> None:
    await record_buys(store, ex_id, MARKET, [(0, 5)])
    lines = [(h, D(1), False) for h in await store.holdings(ex_id)]
    await store.record_settlement(ex_id, lines, "won: polymarket Yes", NOW)


async def test_free_in_positions_to_redeem_and_need_per_venue(store: Store) -> None:
    await _balances(store, kalshi="40", polymarket="1.50")
    await record_buys(store, "open", Market("0x" + "22" * 32, (201, 202), False), [(0, 4)])
    await _settled_poly_win(store, "won")

    view = await capital_view(store, needed=NEED)

    assert view.lines() == [
        "kalshi: free $40.00, in positions $0.00, next trades need $3.00",
        "polymarket: free $1.50, in positions $2.00, to redeem $5.00, next trades need $3.00",
    ]
    assert view.advice() == []  # the $5 on its way back covers Polymarket's next trade


async def test_a_confirmed_redemption_is_no_longer_waiting(store: Store) -> None:
    await _settled_poly_win(store, "won")
    tokens = [str(t) for t in MARKET.tokens]
    await store.create_redemption(
        redemption_id="r1",
        kind="redeem",
        condition_id=MARKET.condition_id,
        neg_risk=False,
        route="eoa",
        wallet="0xw",
        tokens=tokens,
        amount_units=0,
        expected=D(5),
        nonce=3,
        tx_hash="0xh",
        signed="0xs",
        now=NOW,
    )
    from predarb.capital.view import waiting_to_redeem

    assert await waiting_to_redeem(store) == D(5)
    await store.update_redemption("r1", RedemptionStatus.CONFIRMED, NOW, received=D(5))
    assert await waiting_to_redeem(store) == 0


async def test_a_short_venue_is_told_what_to_move_once_a_day(store: Store) -> None:
    await _balances(store, kalshi="0.40", polymarket="55")
    alerts = Alerts()

    first = await advise_once(store, needed=NEED, notify=alerts, now=NOW)
    again = await advise_once(store, needed=NEED, notify=alerts, now=NOW + timedelta(hours=3))
    tomorrow = await advise_once(store, needed=NEED, notify=alerts, now=NOW + timedelta(days=1))

    assert first == [
        "move $2.60 from polymarket (spare $52.00) to kalshi (free $0.40, next trades need"
        " $3.00): withdraw and deposit"
    ]
    assert again == [] and tomorrow == first
    assert [a.plain for a in alerts.sent] == ["CAPITAL: " + first[0]] * 2


async def test_kalshi_shards_each_fund_their_own_trades(store: Store) -> None:
    await _balances(store, kalshi="40.20", polymarket="2")
    # the row the balance job writes beside the total, from the same read
    await store.set_state(reports.SHARD_BALANCE_PREFIX + "kalshi", "0=40,2=0.20", NOW)

    view = await capital_view(store, needed=NEED)

    assert [a.name for a in view.accounts] == ["kalshi/0", "kalshi/2", "polymarket"]
    assert view.advice() == [
        "move $2.80 from kalshi/0 (spare $37.00) to kalshi/2 (free $0.20, next trades need"
        " $3.00): an intra-exchange shard transfer",
        "move $1.00 from kalshi/0 (spare $37.00) to polymarket (free $2.00, next trades need"
        " $3.00): withdraw and deposit",
    ]


async def test_balance_and_status_show_the_view(store: Store) -> None:
    await _balances(store, kalshi="0.40", polymarket="55")
    report = await reports.status(store, NOW, needed=NEED)
    balance = messages.balance_text(report)
    status = messages.status_text(report, NOW)
    assert "kalshi: free $0.40, in positions $0.00, next trades need $3.00 SHORT" in balance
    assert "move $2.60 from polymarket" in balance
    assert "MOVE</b> move $2.60 from polymarket" in status
    assert report.balances == {Venue.KALSHI: D("0.40"), Venue.POLYMARKET: D(55)}


async def test_money_in_positions_counts_only_the_databases_own_mode(store: Store) -> None:
    """A file from before modes stopped sharing one: paper buys beside the live ones are
    no money of the live account."""
    await _balances(store, polymarket="10")
    await record_buys(store, "live", Market("0x" + "33" * 32, (301, 302), False), [(0, 4)])
    await record_buys(
        store, "paper", Market("0x" + "44" * 32, (401, 402), False), [(0, 40)], mode="paper"
    )
    await store.set_state(reports.MODE, "live", NOW)

    view = await capital_view(store, needed=NEED)

    assert view.held == {Venue.POLYMARKET: D(2)}  # 4 x 0.50, not the paper 40 x 0.50
