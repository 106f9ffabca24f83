"""The SQLite schema, as an ordered list of migrations.

Money is stored as INTEGER micro-dollars (``*_micros``) so SQL sums are exact;
prices and contract counts are decimal TEXT. ``events`` is append-only (triggers
refuse UPDATE and DELETE). A new migration is appended, never edited.
"""

from __future__ import annotations

APP_ID = "predarb"

MIGRATIONS: list[str] = [
    # 1: the whole first schema
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE bot_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE pairs (
        pair_id TEXT PRIMARY KEY,
        event TEXT NOT NULL,
        kind TEXT NOT NULL,
        tradable INTEGER NOT NULL,
        confidence REAL NOT NULL,
        data TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE executions (
        id TEXT PRIMARY KEY,
        pair_id TEXT NOT NULL,
        event TEXT NOT NULL,
        kind TEXT NOT NULL,
        mode TEXT NOT NULL,
        status TEXT NOT NULL,
        contracts TEXT NOT NULL,
        expected_cost_micros INTEGER NOT NULL,
        expected_fees_micros INTEGER NOT NULL,
        expected_profit_micros INTEGER NOT NULL,
        roi_pct TEXT NOT NULL,
        quote_ts TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT,
        unhedged_ms INTEGER,
        settled_at TEXT,
        payout_micros INTEGER,
        realized_pnl_micros INTEGER,
        resolution TEXT,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX executions_created ON executions(created_at);
    CREATE INDEX executions_status ON executions(status);
    CREATE INDEX executions_event ON executions(event);
    CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions(id),
        role TEXT NOT NULL,
        leg_index INTEGER NOT NULL,
        venue TEXT NOT NULL,
        market_id TEXT NOT NULL,
        side TEXT NOT NULL,
        token_id TEXT NOT NULL DEFAULT '',
        world TEXT NOT NULL DEFAULT '',
        action TEXT NOT NULL,
        tif TEXT NOT NULL,
        price TEXT NOT NULL,
        contracts TEXT NOT NULL,
        status TEXT NOT NULL,
        venue_order_id TEXT NOT NULL DEFAULT '',
        filled TEXT NOT NULL DEFAULT '0',
        avg_price TEXT NOT NULL DEFAULT '0',
        fee_micros INTEGER NOT NULL DEFAULT 0,
        error_code TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        sent_at TEXT,
        answered_at TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX orders_execution ON orders(execution_id);
    CREATE TABLE fills (
        venue TEXT NOT NULL,
        fill_id TEXT NOT NULL,
        client_order_id TEXT NOT NULL REFERENCES orders(client_order_id),
        execution_id TEXT NOT NULL REFERENCES executions(id),
        market_id TEXT NOT NULL,
        side TEXT NOT NULL,
        token_id TEXT NOT NULL DEFAULT '',
        action TEXT NOT NULL,
        price TEXT NOT NULL,
        contracts TEXT NOT NULL,
        cost_micros INTEGER NOT NULL,
        fee_micros INTEGER NOT NULL,
        final INTEGER NOT NULL DEFAULT 1,
        ts TEXT NOT NULL,
        PRIMARY KEY (venue, fill_id)
    );
    CREATE INDEX fills_execution ON fills(execution_id);
    CREATE TABLE settlements (
        execution_id TEXT NOT NULL REFERENCES executions(id),
        venue TEXT NOT NULL,
        market_id TEXT NOT NULL,
        side TEXT NOT NULL,
        contracts TEXT NOT NULL,
        payout_micros INTEGER NOT NULL,
        void INTEGER NOT NULL DEFAULT 0,
        settled_at TEXT NOT NULL,
        PRIMARY KEY (execution_id, venue, market_id, side)
    );
    CREATE TABLE rejections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        pair_id TEXT NOT NULL,
        event TEXT NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        execution_id TEXT NOT NULL DEFAULT '',
        pair_id TEXT NOT NULL DEFAULT '',
        payload TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events is append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events is append-only'); END;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        urgent INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        sent_at TEXT
    );
    CREATE INDEX outbox_unsent ON outbox(sent_at);
    CREATE TABLE pair_blocks (
        pair_id TEXT PRIMARY KEY,
        until TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    """,
    # 2: on-chain redemptions and merges of Polymarket positions, written ahead like orders
    """
    CREATE TABLE redemptions (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        condition_id TEXT NOT NULL,
        neg_risk INTEGER NOT NULL,
        route TEXT NOT NULL,
        wallet TEXT NOT NULL,
        tokens TEXT NOT NULL,
        amount_units INTEGER NOT NULL,
        expected_micros INTEGER NOT NULL,
        status TEXT NOT NULL,
        nonce INTEGER,
        tx_hash TEXT NOT NULL DEFAULT '',
        signed TEXT NOT NULL DEFAULT '',
        relayer_id TEXT NOT NULL DEFAULT '',
        block_number INTEGER,
        gas_used INTEGER,
        gas_cost_wei TEXT NOT NULL DEFAULT '0',
        received_micros INTEGER,
        error TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        sent_at TEXT,
        confirmed_at TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX redemptions_condition ON redemptions(condition_id, kind);
    -- One transaction in flight per condition and kind, whatever crashes in between.
    CREATE UNIQUE INDEX redemptions_in_flight ON redemptions(condition_id, kind)
        WHERE status IN ('signed', 'sent', 'mined');
    """,
    # 3: each venue's balance over time, for /chart (one row per venue every few minutes)
    """
    CREATE TABLE balance_history (
        venue TEXT NOT NULL,
        ts TEXT NOT NULL,
        balance_micros INTEGER NOT NULL,
        PRIMARY KEY (venue, ts)
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
