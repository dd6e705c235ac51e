"""Every integer column holds what the code can produce (64-bit), and an arena created by
the old 32-bit PostgreSQL schema is widened by `setup()` without losing a row."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from mytrader.adapters.store import ArenaStore, CycleRecord, Snapshot, Usage
from mytrader.adapters.store.schema import _TABLE_DDL, _TYPES, TABLES, bigint_columns
from mytrader.app.storage import open_store
from mytrader.domain.models import MAX_QUANTITY, OrderResult
from tests.helpers import make_settings

BIG = 5_000_000_000  # over 2**31: `integer out of range` in a 32-bit PostgreSQL column


def _big_cycle(cycle: int) -> CycleRecord:
    order = OrderResult(
        client_order_id=f"wide-{cycle}",
        account="grok",
        symbol="AAPL",
        side="buy",
        qty=BIG,
        status="refused",
        reason="insufficient cash",
    )
    snap = Snapshot(
        account="grok",
        cycle=cycle,
        as_of="2024-03-04",
        cash=Decimal("1"),
        positions_value=Decimal("0"),
        equity=Decimal("1"),
        realized_pnl=Decimal("0"),
        fees=Decimal("0"),
        trades=BIG,
        wins=BIG,
        losses=0,
        starting_cash=Decimal("1"),
        positions={"AAPL": BIG},
    )
    usage = Usage(agent="grok", model="m", calls=BIG, tokens_in=BIG, tokens_out=BIG)
    return CycleRecord(
        arena="wide",
        cycle=cycle,
        as_of="2024-03-04",
        trades=[order],
        snapshots=[snap],
        usage=[usage],
    )


def test_64_bit_values_are_recorded(store: ArenaStore) -> None:
    store.record_cycle(_big_cycle(BIG))
    assert store.last_cycle("wide") == BIG
    (row,) = store.trades("wide")
    assert row.qty == BIG and row.cycle == BIG
    assert store.usage("wide")["grok"].tokens_in == BIG
    assert BIG > MAX_QUANTITY  # the parser's cap is far inside what the columns hold


def _old_ddl() -> list[str]:
    """The tables as the old schema created them: INTEGER for counts, cycles, quantities."""
    old = {**_TYPES["postgres"], "int": "INTEGER"}
    return [t.format(**old).strip() for t in _TABLE_DDL]


@pytest.mark.postgres
def test_old_32_bit_postgres_arena_is_widened_on_setup(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        for statement in _old_ddl():
            conn.execute(statement)
        conn.execute("INSERT INTO cycles (arena, cycle, as_of) VALUES ('old', 7, '2024-01-02')")
        with pytest.raises(psycopg.errors.NumericValueOutOfRange):  # the bug, as it was
            conn.execute("INSERT INTO cycles (arena, cycle, as_of) VALUES ('old', %s, 'x')", (BIG,))
    settings = make_settings(database_url=postgres_url)
    for _ in range(2):  # idempotent: the second setup finds nothing left to widen
        with open_store(settings) as store:
            store.setup()
    with psycopg.connect(postgres_url) as conn:
        types = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, data_type"
                " FROM information_schema.columns WHERE table_schema = current_schema()"
            ).fetchall()
        )
    for table, columns in bigint_columns().items():
        for column in columns:
            assert types[f"{table}.{column}"] == "bigint", (table, column)
    with open_store(settings) as store:
        assert store.last_cycle("old") == 7  # the user's rows survived
        store.record_cycle(_big_cycle(BIG))
        assert store.trades("wide")[0].qty == BIG
