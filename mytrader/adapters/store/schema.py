"""The arena's tables, as DDL for SQLite (stdlib sqlite3) and PostgreSQL (psycopg 3).

One template per table, filled with the dialect's types, so both backends keep the same
columns. Money is NUMERIC in PostgreSQL and TEXT in SQLite: SQLite's NUMERIC affinity
would turn `Decimal("0.1")` into a float, and the store reads TEXT back as Decimal.

Every integer column is 64-bit ({int} and {bigint} alike): quantities are bounded by
MAX_QUANTITY where a model's answer is parsed, but counts, cycles and fills add up, and a
32-bit column that overflows fails the record step for good. SQLite's INTEGER is 64-bit
already; a PostgreSQL database created with 32-bit columns is widened on `setup()`
(`widen_statements`).
"""

from __future__ import annotations

from typing import Literal, get_args

from mytrader.domain.models import OrderStatus, Side
from mytrader.domain.records import LogKind

DialectName = Literal["sqlite", "postgres"]

# Table names, in the order `reset` and the test fixtures clear them.
TABLES: tuple[str, ...] = (
    "cycles",
    "trades",
    "agent_logs",
    "portfolio_snapshots",
    "llm_usage",
    "sim_orders",
    "cycle_failures",
    "heartbeats",
)

_TYPES: dict[DialectName, dict[str, str]] = {
    "sqlite": {
        "money": "TEXT",
        "int": "INTEGER",  # SQLite's INTEGER holds 64 bits
        "bigint": "INTEGER",
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "now": "TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
    },
    "postgres": {
        "money": "NUMERIC",
        "int": "BIGINT",  # 64-bit: see the module docstring
        "bigint": "BIGINT",
        "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "now": "TIMESTAMPTZ NOT NULL DEFAULT now()",
    },
}


def _one_of(values: tuple[str, ...]) -> str:
    """`'a', 'b'` for a CHECK (x IN (...)), taken from the models' Literals so they can't drift."""
    return ", ".join(f"'{v}'" for v in values)


_STATUSES = _one_of(get_args(OrderStatus))
_SIDES = _one_of(get_args(Side))
_KINDS = _one_of(get_args(LogKind))

# Every recorded cycle, even one with no trades: `last_cycle` reads it.
_CYCLES = """
CREATE TABLE IF NOT EXISTS cycles (
    arena TEXT NOT NULL,
    cycle {int} NOT NULL,
    as_of TEXT NOT NULL,
    benchmark_symbol TEXT,
    benchmark_close {money},
    recorded_at {now},
    PRIMARY KEY (arena, cycle)
)"""

_TRADES = f"""
CREATE TABLE IF NOT EXISTS trades (
    id {{id}},
    arena TEXT NOT NULL,
    cycle {{int}} NOT NULL,
    as_of TEXT NOT NULL,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ({_SIDES})),
    qty {{int}} NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({_STATUSES})),
    reason TEXT NOT NULL DEFAULT '',
    type TEXT NOT NULL DEFAULT 'market',
    order_class TEXT NOT NULL DEFAULT 'simple',
    purpose TEXT NOT NULL DEFAULT 'decision',
    limit_price {{money}},
    stop_price {{money}},
    booked_cycle {{int}},
    client_order_id TEXT NOT NULL UNIQUE,
    broker_order_id TEXT,
    filled_qty {{int}} NOT NULL DEFAULT 0,
    filled_avg_price {{money}},
    filled_at TEXT,
    fee {{money}} NOT NULL,
    realized_pnl {{money}},
    created_at {{now}}
)"""

# `seq` numbers the entries of one (agent, kind) within a cycle, so re-recording the
# cycle hits the unique key instead of adding copies.
_AGENT_LOGS = f"""
CREATE TABLE IF NOT EXISTS agent_logs (
    id {{id}},
    arena TEXT NOT NULL,
    cycle {{int}} NOT NULL,
    agent TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ({_KINDS})),
    seq {{int}} NOT NULL,
    content TEXT NOT NULL,
    created_at {{now}},
    UNIQUE (arena, cycle, agent, kind, seq)
)"""

_SNAPSHOTS = """
CREATE TABLE IF NOT EXISTS portfolio_snapshots (
    arena TEXT NOT NULL,
    cycle {int} NOT NULL,
    as_of TEXT NOT NULL,
    account TEXT NOT NULL,
    cash {money} NOT NULL,
    positions_value {money} NOT NULL,
    equity {money} NOT NULL,
    realized_pnl {money} NOT NULL,
    fees {money} NOT NULL,
    trades {int} NOT NULL,
    wins {int} NOT NULL,
    losses {int} NOT NULL,
    starting_cash {money} NOT NULL,
    positions TEXT NOT NULL,
    created_at {now},
    PRIMARY KEY (arena, cycle, account)
)"""

_USAGE = """
CREATE TABLE IF NOT EXISTS llm_usage (
    arena TEXT NOT NULL,
    cycle {int} NOT NULL,
    agent TEXT NOT NULL,
    model TEXT NOT NULL,
    calls {int} NOT NULL,
    tokens_in {int} NOT NULL,
    tokens_out {int} NOT NULL,
    cost_usd {money} NOT NULL,
    created_at {now},
    provider TEXT,
    unmetered {int} NOT NULL DEFAULT 0,
    PRIMARY KEY (arena, cycle, agent)
)"""

# The simulated exchange's order ledger: one row per client order id, ever.
_SIM_ORDERS = """
CREATE TABLE IF NOT EXISTS sim_orders (
    client_order_id TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    created_at {now}
)"""

# A cycle that failed, with the node and the (secret-free) error, and how many times in a
# row: the next run says so instead of failing silently the same way (`mytrader repair`).
# `unrecorded` holds, as JSON, the rows a repair could not write, so no trade is lost.
_FAILURES = """
CREATE TABLE IF NOT EXISTS cycle_failures (
    arena TEXT NOT NULL,
    cycle {int} NOT NULL,
    node TEXT NOT NULL,
    error TEXT NOT NULL,
    count {int} NOT NULL,
    repaired TEXT,
    unrecorded TEXT,
    updated_at {now},
    PRIMARY KEY (arena, cycle)
)"""

# --- heartbeats (unattended runs) ---
# One row per cycle attempt: a resumed cycle gets a second row, so an interrupted one
# stays visible (outcome 'running' with no end). Times are ISO-8601 UTC text on both
# backends; `next_at` is when the scheduler plans the next cycle (NULL: one-shot run).
HEARTBEATS_DDL = """
CREATE TABLE IF NOT EXISTS heartbeats (
    id {id},
    arena TEXT NOT NULL,
    cycle {bigint} NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    duration_ms {bigint},
    outcome TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'exhausted', 'failed')),
    message TEXT NOT NULL DEFAULT '',
    interval_s {bigint},
    next_at TEXT,
    pid {bigint}
)"""
HEARTBEATS_INDEX = "CREATE INDEX IF NOT EXISTS heartbeats_arena ON heartbeats (arena, id)"

# The primary and unique keys above already serve "by arena" and "by arena, cycle";
# these serve the per-account and per-agent filters.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS trades_arena_cycle ON trades (arena, cycle, id)",
    "CREATE INDEX IF NOT EXISTS trades_arena_account ON trades (arena, account, cycle)",
    # The open orders (reconcile, status): a handful of rows in an arena of thousands.
    "CREATE INDEX IF NOT EXISTS trades_arena_status ON trades (arena, status)",
    "CREATE INDEX IF NOT EXISTS agent_logs_arena_agent ON agent_logs (arena, agent, kind, cycle)",
    "CREATE INDEX IF NOT EXISTS snapshots_arena_account"
    " ON portfolio_snapshots (arena, account, cycle)",
)


# Columns added since the first release: (table, column, type template). `setup()` adds
# the missing ones to a database created by an older version.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cycles", "benchmark_symbol", "TEXT"),
    ("cycles", "benchmark_close", "{money}"),
    ("trades", "type", "TEXT NOT NULL DEFAULT 'market'"),
    ("trades", "order_class", "TEXT NOT NULL DEFAULT 'simple'"),
    ("trades", "purpose", "TEXT NOT NULL DEFAULT 'decision'"),
    ("trades", "limit_price", "{money}"),
    ("trades", "stop_price", "{money}"),
    ("trades", "booked_cycle", "{int}"),
    # per-persona providers (issue 18): where the model ran; calls that reported no usage
    ("llm_usage", "provider", "TEXT"),
    ("llm_usage", "unmetered", "{int} NOT NULL DEFAULT 0"),
)
# The statuses a trades row may have now: an older CHECK without one of them is replaced.
TRADE_STATUSES = _STATUSES


def added_columns(dialect: DialectName) -> list[tuple[str, str, str]]:
    types = _TYPES[dialect]
    return [(t, c, spec.format(**types)) for t, c, spec in ADDED_COLUMNS]


_TABLE_DDL = (_CYCLES, _TRADES, _AGENT_LOGS, _SNAPSHOTS, _USAGE, _SIM_ORDERS, _FAILURES)


def ddl(dialect: DialectName) -> list[str]:
    """The statements that create every table and index; each is idempotent."""
    types = _TYPES[dialect]
    return (
        [t.format(**types).strip() for t in _TABLE_DDL]
        + list(_INDEXES)
        + [HEARTBEATS_DDL.format(**types).strip(), HEARTBEATS_INDEX]
    )


def bigint_columns() -> dict[str, tuple[str, ...]]:
    """Table -> its 64-bit integer columns, read from the DDL templates (so a new column
    is migrated without being listed twice)."""
    out: dict[str, tuple[str, ...]] = {}
    for template in _TABLE_DDL:
        lines = template.strip().splitlines()
        table = lines[0].split()[-2]
        ints = ("{int}", "{{int}}", "{bigint}", "{{bigint}}")
        cols = tuple(
            words[0]
            for words in (line.split() for line in lines[1:])
            if len(words) > 1 and words[1].rstrip(",") in ints
        )
        if cols:
            out[table] = cols
    return out


# Widens the 32-bit columns of a database created by an older schema (PostgreSQL only).
# Idempotent: it alters only the columns information_schema still reports as integer.
WIDEN_QUERY = (
    "SELECT table_name, column_name FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND data_type = 'integer'"
)


def widen_statements(found: list[tuple[str, str]]) -> list[str]:
    """`ALTER TABLE ... TYPE BIGINT` for each (table, column) of ours still 32-bit."""
    wanted = bigint_columns()
    by_table: dict[str, list[str]] = {}
    for table, column in found:
        if column in wanted.get(table, ()):
            by_table.setdefault(table, []).append(column)
    return [
        f"ALTER TABLE {table} " + ", ".join(f"ALTER COLUMN {c} TYPE BIGINT" for c in sorted(cols))
        for table, cols in sorted(by_table.items())
    ]
