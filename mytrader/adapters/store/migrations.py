"""Creating the arena's tables and bringing older ones up to this version (the writer,
on open), and telling a reader what the tables lack (the dashboard never migrates)."""

from __future__ import annotations

from mytrader.adapters.store.dialect import Tx
from mytrader.adapters.store.schema import (
    ADDED_COLUMNS,
    TRADE_STATUSES,
    WIDEN_QUERY,
    added_columns,
    ddl,
    widen_statements,
)

# Any constant works: it only serializes concurrent `setup()` calls on one database,
# since concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL.
SETUP_LOCK_KEY = 0x6D7974726164  # "mytrad"

# The live stream reads the orders booked in a range of cycles; created after the
# migrations, which add the column to older databases.
_BOOKED_INDEX = "CREATE INDEX IF NOT EXISTS trades_arena_booked ON trades (arena, booked_cycle)"

# The tables the dashboard reads.
READ_TABLES = ("cycles", "trades", "agent_logs", "portfolio_snapshots", "llm_usage")


def setup(tx: Tx) -> None:
    """Create the tables and indexes if missing, and migrate older ones; idempotent."""
    postgres = tx.dialect.name == "postgres"
    if postgres:
        tx.run("SELECT pg_advisory_xact_lock(?)", (SETUP_LOCK_KEY,))
    for statement in ddl(tx.dialect.name):
        tx.run(statement)
    _migrate(tx)
    tx.run(_BOOKED_INDEX)
    if postgres:  # arenas created with 32-bit columns
        found = [(r["table_name"], r["column_name"]) for r in tx.rows(WIDEN_QUERY)]
        for statement in widen_statements(found):
            tx.run(statement)


def schema_gaps(tx: Tx, tables: tuple[str, ...] = READ_TABLES) -> tuple[list[str], list[str]]:
    """(missing tables, missing `table.column`s) of `tables` against this version."""
    missing: list[str] = []
    older: list[str] = []
    for table in tables:
        present = columns(tx, table)
        if not present:
            missing.append(table)
            continue
        older += [f"{t}.{c}" for t, c, _ in ADDED_COLUMNS if t == table and c not in present]
    return missing, older


def columns(tx: Tx, table: str) -> set[str]:
    """The table's column names (none: no such table)."""
    if tx.dialect.name == "sqlite":
        return {r["name"] for r in tx.rows(f"PRAGMA table_info({table})")}
    rows = tx.rows(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    )
    return {r["column_name"] for r in rows}


def _migrate(tx: Tx) -> None:
    """Bring a database made by an older version up to the current tables: add the new
    columns, and widen the trades status CHECK to today's statuses."""
    dialect = tx.dialect.name
    for table, column, spec in added_columns(dialect):
        if column not in columns(tx, table):
            tx.run(f"ALTER TABLE {table} ADD COLUMN {column} {spec}")
    if dialect == "postgres":
        rows = tx.rows(
            "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint"
            " WHERE conrelid = 'trades'::regclass AND conname = 'trades_status_check'"
        )
        if rows and "'pending'" not in rows[0]["def"]:
            tx.run("ALTER TABLE trades DROP CONSTRAINT trades_status_check")
            tx.run(
                "ALTER TABLE trades ADD CONSTRAINT trades_status_check"
                f" CHECK (status IN ({TRADE_STATUSES}))"
            )
        return
    rows = tx.rows("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'trades'")
    if rows and "'pending'" not in rows[0]["sql"]:
        # SQLite cannot alter a CHECK: rebuild the table with the current definition.
        names = ", ".join(sorted(columns(tx, "trades")))
        tx.run("ALTER TABLE trades RENAME TO trades_before_migration")
        for statement in ddl(dialect):
            tx.run(statement)
        tx.run(f"INSERT INTO trades ({names}) SELECT {names} FROM trades_before_migration")
        tx.run("DROP TABLE trades_before_migration")
        for statement in ddl(dialect):  # the indexes went with the old table
            tx.run(statement)
