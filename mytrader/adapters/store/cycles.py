"""The rows of a cycle (the cycle, its orders, the agents' logs, the books, the models'
usage): written together in one transaction, idempotently, and read back."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from mytrader.adapters.store.connection import Tables
from mytrader.adapters.store.dialect import Row
from mytrader.adapters.store.filters import where
from mytrader.adapters.store.schema import TABLES
from mytrader.domain.records import CycleRecord, EvidenceRows, LogKind, LogRow, Snapshot

# PostgreSQL NOTIFY channel of every recorded cycle; payload `<arena>:<cycle>`.
CYCLE_CHANNEL = "mytrader_cycles"

TRADE_COLUMNS = (
    "arena",
    "cycle",
    "as_of",
    "account",
    "symbol",
    "side",
    "qty",
    "status",
    "reason",
    "type",
    "order_class",
    "purpose",
    "limit_price",
    "stop_price",
    "booked_cycle",
    "client_order_id",
    "broker_order_id",
    "filled_qty",
    "filled_avg_price",
    "filled_at",
    "fee",
    "realized_pnl",
)
LOG_COLUMNS = ("arena", "cycle", "agent", "kind", "seq", "content")
SNAPSHOT_COLUMNS = (
    "arena",
    "cycle",
    "as_of",
    "account",
    "cash",
    "positions_value",
    "equity",
    "realized_pnl",
    "fees",
    "trades",
    "wins",
    "losses",
    "starting_cash",
    "positions",
)
USAGE_COLUMNS = (
    "arena",
    "cycle",
    "agent",
    "model",
    "calls",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "provider",
    "unmetered",
)


def _upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """INSERT ... ON CONFLICT (key) DO UPDATE: re-recording a cycle overwrites, never adds."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


_UPSERT_CYCLE = _upsert(
    "cycles",
    ("arena", "cycle", "as_of", "benchmark_symbol", "benchmark_close"),
    ("arena", "cycle"),
)
_UPSERT_TRADE = _upsert("trades", TRADE_COLUMNS, ("client_order_id",))
_UPSERT_LOG = _upsert("agent_logs", LOG_COLUMNS, ("arena", "cycle", "agent", "kind", "seq"))
_UPSERT_SNAPSHOT = _upsert("portfolio_snapshots", SNAPSHOT_COLUMNS, ("arena", "cycle", "account"))
_UPSERT_USAGE = _upsert("llm_usage", USAGE_COLUMNS, ("arena", "cycle", "agent"))


def snapshot(row: Row) -> Snapshot:
    row["positions"] = json.loads(row["positions"])
    return Snapshot.model_validate(row)


BENCHMARK_CLOSES = (
    "SELECT as_of, benchmark_close FROM cycles"
    " WHERE arena = ? AND benchmark_close IS NOT NULL ORDER BY cycle"
)


def snapshots_query(arena: str, account: str | None = None) -> tuple[str, list[object]]:
    """Every snapshot of the arena (or of one account), by cycle then account."""
    clause, params = where(arena, account=account)
    query = (
        f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM portfolio_snapshots{clause}"
        " ORDER BY cycle, account"
    )
    return query, params


def benchmark_close(row: Row) -> tuple[str, Decimal]:
    return row["as_of"], Decimal(str(row["benchmark_close"]))


class CycleTables(Tables):
    """Recording cycles, forgetting an arena, and reading its cycles, logs and books."""

    def record_cycle(self, rec: CycleRecord) -> None:
        """Write every row of one cycle in one transaction: all of them or none.

        Idempotent: each row has a natural key and is upserted, so recording the same
        cycle again (a retried node) leaves one copy, holding the latest values.
        """
        self.record_cycles([rec])

    def record_cycles(self, recs: Sequence[CycleRecord]) -> None:
        """Several cycles in one transaction (a backtest writes its days in batches)."""
        for rec in recs:
            for snap in rec.snapshots:
                if snap.cycle != rec.cycle:
                    raise ValueError(
                        f"snapshot of {snap.account} is for cycle {snap.cycle}, not {rec.cycle}"
                    )
        with self._tx() as tx:
            for rec in recs:
                bench = rec.benchmark
                tx.run(
                    _UPSERT_CYCLE,
                    (
                        rec.arena,
                        rec.cycle,
                        rec.as_of,
                        bench.symbol if bench else None,
                        self._db.dialect.bind(bench.price) if bench else None,
                    ),
                )
                tx.run_many(_UPSERT_TRADE, self._trade_params(rec))
                tx.run_many(_UPSERT_LOG, _log_params(rec))
                tx.run_many(_UPSERT_SNAPSHOT, self._snapshot_params(rec))
                tx.run_many(_UPSERT_USAGE, self._usage_params(rec))
                if self.dialect == "postgres":  # delivered on commit: the dashboard's live feed
                    tx.run("SELECT pg_notify(?, ?)", (CYCLE_CHANNEL, f"{rec.arena}:{rec.cycle}"))

    def _bind(self, columns: Sequence[str], values: dict[str, Any]) -> tuple[object, ...]:
        return tuple(self._db.dialect.bind(values[c]) for c in columns)

    def _trade_params(self, rec: CycleRecord) -> Iterator[tuple[object, ...]]:
        cycle = {"arena": rec.arena, "cycle": rec.cycle, "as_of": rec.as_of}
        for t in rec.trades:
            yield self._bind(TRADE_COLUMNS, t.model_dump() | cycle | {"booked_cycle": None})
        # Orders of earlier cycles, booked or ended in this one: their row keeps its
        # placement cycle and gains the cycle that booked it.
        for s in rec.settled:
            placed = {"arena": rec.arena, "cycle": s.cycle, "as_of": s.as_of}
            values = s.order.model_dump() | placed | {"booked_cycle": rec.cycle}
            yield self._bind(TRADE_COLUMNS, values)

    def _snapshot_params(self, rec: CycleRecord) -> Iterator[tuple[object, ...]]:
        for s in rec.snapshots:
            values = s.model_dump() | {"arena": rec.arena}
            values["positions"] = json.dumps(s.positions, sort_keys=True)
            yield self._bind(SNAPSHOT_COLUMNS, values)

    def _usage_params(self, rec: CycleRecord) -> Iterator[tuple[object, ...]]:
        cycle = {"arena": rec.arena, "cycle": rec.cycle}
        for u in rec.usage:
            yield self._bind(USAGE_COLUMNS, u.model_dump() | cycle)

    def reset(self, arena: str, order_prefix: str | None = None) -> None:
        """Forget an arena: its rows everywhere, and its simulated orders (those whose
        client order id starts with `order_prefix`, by default `<arena>-`)."""
        prefix = order_prefix or f"{arena}-"
        with self._tx() as tx:
            for table in TABLES:
                if table != "sim_orders":
                    tx.run(f"DELETE FROM {table} WHERE arena = ?", (arena,))
            tx.run(
                "DELETE FROM sim_orders WHERE substr(client_order_id, 1, length(?)) = ?",
                (prefix, prefix),
            )

    # reading

    def agent_logs(
        self,
        arena: str,
        agent: str | None = None,
        kind: LogKind | None = None,
        since_cycle: int | None = None,
    ) -> list[LogRow]:
        clause, params = where(arena, agent=agent, kind=kind, since_cycle=since_cycle)
        query = (
            f"SELECT arena, cycle, agent, kind, content FROM agent_logs{clause} ORDER BY cycle, id"
        )
        with self._tx(write=False) as tx:
            return [LogRow.model_validate(r) for r in tx.rows(query, params)]

    def snapshots(self, arena: str, account: str | None = None) -> list[Snapshot]:
        query, params = snapshots_query(arena, account)
        with self._tx(write=False) as tx:
            return [snapshot(r) for r in tx.rows(query, params)]

    def latest_snapshots(self, arena: str) -> list[Snapshot]:
        """Each account's snapshot at the last cycle it has one, by account name."""
        columns = ", ".join(f"s.{c}" for c in SNAPSHOT_COLUMNS)
        query = (
            f"SELECT {columns} FROM portfolio_snapshots s"
            " JOIN (SELECT account, MAX(cycle) AS cycle FROM portfolio_snapshots"
            "       WHERE arena = ? GROUP BY account) m"
            " ON s.account = m.account AND s.cycle = m.cycle"
            " WHERE s.arena = ? ORDER BY s.account"
        )
        with self._tx(write=False) as tx:
            return [snapshot(r) for r in tx.rows(query, (arena, arena))]

    def last_cycle(self, arena: str) -> int | None:
        with self._tx(write=False) as tx:
            rows = tx.rows("SELECT MAX(cycle) AS last FROM cycles WHERE arena = ?", (arena,))
        last = rows[0]["last"] if rows else None
        return None if last is None else int(last)

    def last_recorded(self, arena: str) -> tuple[int, str, str] | None:
        """(cycle, as_of, recorded_at) of the arena's last recorded cycle, by any runner
        (the CLI or a LangGraph server)."""
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT cycle, as_of, recorded_at FROM cycles WHERE arena = ?"
                " ORDER BY cycle DESC LIMIT 1",
                (arena,),
            )
        if not rows:
            return None
        r = rows[0]
        return int(r["cycle"]), str(r["as_of"]), str(r["recorded_at"])

    def benchmark_closes(self, arena: str) -> list[tuple[str, Decimal]]:
        """(as_of, close) of the benchmark symbol at every cycle that has one, in order."""
        with self._tx(write=False) as tx:
            return [benchmark_close(r) for r in tx.rows(BENCHMARK_CLOSES, (arena,))]

    def evidence_rows(self, arena: str) -> EvidenceRows:
        """The LLM bill per cycle, the filled legs, the BUYs' decisions (`evidence`)."""
        from mytrader.adapters.store.evidence import evidence_rows

        with self._tx(write=False) as tx:
            return evidence_rows(lambda q, p: tx.rows(q, p), self.dialect, arena)

    def arena_ids(self, prefix: str = "") -> list[str]:
        """Every arena with a recorded cycle whose id starts with `prefix` (backtest runs)."""
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT DISTINCT arena FROM cycles WHERE substr(arena, 1, length(?)) = ?"
                " ORDER BY arena",
                (prefix, prefix),
            )
        return [r["arena"] for r in rows]


def _log_params(rec: CycleRecord) -> Iterator[tuple[object, ...]]:
    """Number each (agent, kind)'s entries in order: the seq of the unique key."""
    seen: dict[tuple[str, str], int] = {}
    for entry in rec.logs:
        seq = seen.get((entry.agent, entry.kind), 0)
        seen[(entry.agent, entry.kind)] = seq + 1
        yield (rec.arena, rec.cycle, entry.agent, entry.kind, seq, entry.content)
