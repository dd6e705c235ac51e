"""The arena's database: SQLite (a file, the default) or PostgreSQL (DATABASE_URL).

A small dialect layer instead of an ORM: every query is written once with `?`
placeholders, and the two backends differ only in how they connect, their placeholder
and how money is bound (Decimal for NUMERIC, str for SQLite's TEXT).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from mytrader.adapters.store.errors import StoreError, mapped, store_error
from mytrader.adapters.store.schema import (
    TABLES,
    TRADE_STATUSES,
    WIDEN_QUERY,
    DialectName,
    added_columns,
    ddl,
    widen_statements,
)
from mytrader.domain.models import OPEN_STATUSES, OrderRequest, OrderResult, OrderStatus
from mytrader.domain.records import (
    CycleRecord,
    Heartbeat,
    HeartbeatOutcome,
    LogKind,
    LogRow,
    Snapshot,
    TradeRow,
    Usage,
)
from mytrader.domain.text import for_storage, scrub_secrets
from mytrader.ports.ledger import SimOrder

if TYPE_CHECKING:
    from mytrader.config import Settings

# Any constant works: it only serializes concurrent `setup()` calls on one database,
# since concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL.
_SETUP_LOCK_KEY = 0x6D7974726164  # "mytrad"
# PostgreSQL NOTIFY channel of every recorded cycle; payload `<arena>:<cycle>`.
CYCLE_CHANNEL = "mytrader_cycles"
ARENA_FILE = "arena.sqlite"  # under MYTRADER_HOME


# --- secrets -------------------------------------------------------------------------


def mask_url(url: str) -> str:
    """The URL with its password (in the user info or `?password=`) replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    params = [
        "password=***" if p.lower().startswith("password=") else p
        for p in parts.query.split("&")
        if p
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(params), parts.fragment))


def url_passwords(url: str) -> set[str]:
    """The passwords a database URL holds (user info, `?password=`), also percent-decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    found = {parts.password or ""}
    found |= {
        p.split("=", 1)[1] for p in parts.query.split("&") if p.lower().startswith("password=")
    }
    found |= {unquote(p) for p in found}
    return {p for p in found if p}


def scrub(text: str, url: str) -> str:
    """`text` (e.g. a driver's error) with the URL masked and its password removed."""
    return scrub_secrets(text.replace(url, mask_url(url)), url_passwords(url))


# --- the dialect layer ---------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    name: DialectName
    placeholder: str

    def sql(self, query: str) -> str:
        """Queries are written with `?`; PostgreSQL (psycopg) wants `%s`."""
        return query if self.placeholder == "?" else query.replace("?", self.placeholder)

    def bind(self, value: object) -> object:
        """Bind money exactly: NUMERIC takes a Decimal, SQLite's TEXT column its string."""
        if isinstance(value, Decimal) and self.name == "sqlite":
            return str(value)
        if isinstance(value, str):
            # Outside text (a model's answer, a broker's error) is kept without escape
            # sequences or control characters, for every reader of the table; that also
            # keeps NUL, which PostgreSQL text cannot hold, from failing the record step.
            return for_storage(value)
        return value


SQLITE = Dialect("sqlite", "?")
POSTGRES = Dialect("postgres", "%s")

Row = dict[str, Any]


class _Tx:
    """The cursor of one transaction, speaking `?` on both backends."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cur = cursor
        self.dialect = dialect

    def run(self, query: str, params: Sequence[object] = ()) -> int:
        if params:
            self._cur.execute(self.dialect.sql(query), tuple(map(self.dialect.bind, params)))
        else:  # no params: psycopg then leaves a `%` in the text alone
            self._cur.execute(query)
        return int(self._cur.rowcount)

    def run_many(self, query: str, rows: Iterable[Sequence[object]]) -> None:
        batch = [tuple(map(self.dialect.bind, r)) for r in rows]
        if batch:
            self._cur.executemany(self.dialect.sql(query), batch)

    def rows(self, query: str, params: Sequence[object] = ()) -> list[Row]:
        self._cur.execute(self.dialect.sql(query), tuple(params))
        return [dict(r) for r in self._cur.fetchall()]


class _Backend(Protocol):
    dialect: Dialect
    location: str  # safe to print: a path, or the URL with its password masked

    def transaction(self, write: bool = True) -> AbstractContextManager[_Tx]: ...

    def close(self) -> None: ...


class _SqliteBackend:
    """One connection shared by all threads, serialized by a lock (sqlite3 is not
    thread-safe per connection); WAL lets other processes read while the arena writes."""

    def __init__(self, path: Path) -> None:
        self.dialect = SQLITE
        self.location = str(path)
        with mapped(self.location):  # a damaged file, a folder, a permission: StoreError
            # isolation_level=None: no implicit transactions, `transaction()` issues BEGIN.
            self._conn = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[_Tx]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                # IMMEDIATE takes the write lock up front, so a writer never fails midway
                # on SQLITE_BUSY because another process started writing first.
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield _Tx(cur, self.dialect)
                except BaseException:
                    if self._conn.in_transaction:  # some errors already rolled it back
                        cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                raise store_error(exc, self.location) from exc
            finally:
                cur.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _PostgresBackend:
    def __init__(self, url: str, timeout: float) -> None:
        self.dialect = POSTGRES
        self.location = mask_url(url)
        self._url = url
        check_postgres(url, timeout)
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=4,
            open=True,
            check=ConnectionPool.check_connection,
            kwargs={"autocommit": False, "row_factory": dict_row, **bounded(timeout)},
            timeout=timeout,  # waiting for a connection, e.g. while the server is gone
            name="mytrader-store",
        )
        try:
            self._pool.wait(timeout=timeout)
        except PoolTimeout:
            raise StoreError(
                f"PostgreSQL at {self.location}: no connection in {timeout}s"
            ) from None

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[_Tx]:
        try:
            with (
                self._pool.connection() as conn,
                conn.transaction(),
                conn.cursor() as cur,
            ):
                yield _Tx(cur, self.dialect)
        except (psycopg.Error, PoolTimeout) as exc:
            raise store_error(exc, self.location, self._url) from exc

    def close(self) -> None:
        self._pool.close()


def check_postgres(url: str, timeout: float = 10.0) -> None:
    """Connect once, so a wrong URL fails now with the server's reason (the pool would
    only retry in the background and time out)."""
    try:
        with psycopg.connect(url, **bounded(timeout)):
            pass
    except psycopg.Error as exc:
        detail = scrub(str(exc), url)
        # `from None`: the driver's own message may echo the connection string.
        raise StoreError(f"cannot connect to PostgreSQL at {mask_url(url)}: {detail}") from None


def bounded(timeout: float) -> dict[str, Any]:
    """libpq connection settings that bound every wait by `timeout` seconds: connecting,
    one statement (server side), and data the server no longer acknowledges (a network
    that went away), so a lost database fails a call instead of hanging it."""
    ms = max(1, round(timeout * 1000))
    return {
        "connect_timeout": max(2, round(timeout)),  # libpq's smallest (1 means 2)
        "options": f"-c statement_timeout={ms}",
        "tcp_user_timeout": ms,
        "keepalives": 1,
        "keepalives_idle": max(1, round(timeout)),
        "keepalives_interval": 1,
        "keepalives_count": 3,
    }


# --- the store -----------------------------------------------------------------------

_TRADE_COLUMNS = (
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
_LOG_COLUMNS = ("arena", "cycle", "agent", "kind", "seq", "content")
_SNAPSHOT_COLUMNS = (
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
_USAGE_COLUMNS = (
    "arena",
    "cycle",
    "agent",
    "model",
    "calls",
    "tokens_in",
    "tokens_out",
    "cost_usd",
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
_UPSERT_TRADE = _upsert("trades", _TRADE_COLUMNS, ("client_order_id",))
_UPSERT_LOG = _upsert("agent_logs", _LOG_COLUMNS, ("arena", "cycle", "agent", "kind", "seq"))
_UPSERT_SNAPSHOT = _upsert("portfolio_snapshots", _SNAPSHOT_COLUMNS, ("arena", "cycle", "account"))
_UPSERT_USAGE = _upsert("llm_usage", _USAGE_COLUMNS, ("arena", "cycle", "agent"))


def _where(
    arena: str, *, since_cycle: int | None = None, **filters: object
) -> tuple[str, list[object]]:
    """`WHERE arena = ? AND k = ? ...` for the filters that are not None."""
    clauses: list[str] = ["arena = ?"]
    params: list[object] = [arena]
    for column, value in filters.items():
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if since_cycle is not None:
        clauses.append("cycle >= ?")
        params.append(since_cycle)
    return " WHERE " + " AND ".join(clauses), params


def _snapshot(row: Row) -> Snapshot:
    row["positions"] = json.loads(row["positions"])
    return Snapshot.model_validate(row)


class ArenaStore:
    """Every table of the arena, on SQLite or PostgreSQL. Safe to share between threads."""

    def __init__(self, backend: _Backend) -> None:
        self._db = backend
        self.setup()

    # construction

    @classmethod
    def sqlite(cls, path: Path) -> ArenaStore:
        return cls(_SqliteBackend(Path(path).expanduser()))

    @classmethod
    def postgres(cls, url: str, *, timeout: float = 10.0) -> ArenaStore:
        return cls(_PostgresBackend(url, timeout))

    @classmethod
    def from_settings(cls, settings: Settings) -> ArenaStore:
        """PostgreSQL when DATABASE_URL is set, else `<MYTRADER_HOME>/arena.sqlite`."""
        url = settings.postgres_url
        if url:
            return cls.postgres(url, timeout=settings.database_timeout_s)
        path = settings.mytrader_home.expanduser() / ARENA_FILE
        with mapped(str(path)):  # MYTRADER_HOME a file, or not writable
            path.parent.mkdir(parents=True, exist_ok=True)
        return cls.sqlite(path)

    @property
    def dialect(self) -> DialectName:
        return self._db.dialect.name

    @property
    def location(self) -> str:
        """Where the data lives, safe to print (the password is masked)."""
        return self._db.location

    def __repr__(self) -> str:
        return f"ArenaStore({self.dialect}: {self.location})"

    def setup(self) -> None:
        """Create the tables and indexes if missing; safe to call any number of times."""
        with self._tx() as tx:
            if self.dialect == "postgres":
                tx.run("SELECT pg_advisory_xact_lock(?)", (_SETUP_LOCK_KEY,))
            for statement in ddl(self.dialect):
                tx.run(statement)
            _migrate(tx)
            if self.dialect == "postgres":  # arenas created with 32-bit columns
                found = [(r["table_name"], r["column_name"]) for r in tx.rows(WIDEN_QUERY)]
                for statement in widen_statements(found):
                    tx.run(statement)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ArenaStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _tx(self, write: bool = True) -> AbstractContextManager[_Tx]:
        return self._db.transaction(write)

    # writing

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
            yield self._bind(_TRADE_COLUMNS, t.model_dump() | cycle | {"booked_cycle": None})
        # Orders of earlier cycles, booked or ended in this one: their row keeps its
        # placement cycle and gains the cycle that booked it.
        for s in rec.settled:
            placed = {"arena": rec.arena, "cycle": s.cycle, "as_of": s.as_of}
            values = s.order.model_dump() | placed | {"booked_cycle": rec.cycle}
            yield self._bind(_TRADE_COLUMNS, values)

    def _snapshot_params(self, rec: CycleRecord) -> Iterator[tuple[object, ...]]:
        for s in rec.snapshots:
            values = s.model_dump() | {"arena": rec.arena}
            values["positions"] = json.dumps(s.positions, sort_keys=True)
            yield self._bind(_SNAPSHOT_COLUMNS, values)

    def _usage_params(self, rec: CycleRecord) -> Iterator[tuple[object, ...]]:
        cycle = {"arena": rec.arena, "cycle": rec.cycle}
        for u in rec.usage:
            yield self._bind(_USAGE_COLUMNS, u.model_dump() | cycle)

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

    # --- failed cycles (mytrader repair) ---

    def record_failure(self, arena: str, cycle: int, node: str, error: str) -> int:
        """Count one more failure of `cycle` (at `node`); returns how many so far."""
        with self._tx() as tx:
            rows = tx.rows(
                "SELECT count FROM cycle_failures WHERE arena = ? AND cycle = ?", (arena, cycle)
            )
            count = int(rows[0]["count"]) + 1 if rows else 1
            tx.run("DELETE FROM cycle_failures WHERE arena = ? AND cycle = ?", (arena, cycle))
            tx.run(
                "INSERT INTO cycle_failures (arena, cycle, node, error, count)"
                " VALUES (?, ?, ?, ?, ?)",
                (arena, cycle, node, error, count),
            )
        return count

    def failure(self, arena: str, cycle: int) -> dict[str, Any] | None:
        """The failure record of `cycle` (node, error, count, repaired, unrecorded)."""
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT arena, cycle, node, error, count, repaired, unrecorded"
                " FROM cycle_failures WHERE arena = ? AND cycle = ?",
                (arena, cycle),
            )
        return rows[0] if rows else None

    def mark_repaired(self, arena: str, cycle: int, how: str, unrecorded: str | None) -> None:
        with self._tx() as tx:
            tx.run(
                "UPDATE cycle_failures SET repaired = ?, unrecorded = ?"
                " WHERE arena = ? AND cycle = ?",
                (how, unrecorded, arena, cycle),
            )

    # reading

    def trades(
        self,
        arena: str,
        account: str | None = None,
        status: OrderStatus | None = None,
        since_cycle: int | None = None,
    ) -> list[TradeRow]:
        where, params = _where(arena, account=account, status=status, since_cycle=since_cycle)
        query = f"SELECT {', '.join(_TRADE_COLUMNS)} FROM trades{where} ORDER BY cycle, id"
        with self._tx(write=False) as tx:
            return [TradeRow.model_validate(r) for r in tx.rows(query, params)]

    def open_trades(self, arena: str) -> dict[str, str]:
        """client order id -> status of every row the table calls open (pending or
        partially filled): after a cycle, exactly the broker's open orders."""
        where = ", ".join(f"'{s}'" for s in sorted(OPEN_STATUSES))
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT client_order_id, status FROM trades"
                f" WHERE arena = ? AND status IN ({where})",
                (arena,),
            )
        return {r["client_order_id"]: r["status"] for r in rows}

    def correct_trade(self, arena: str, order: OrderResult, reason: str, cycle: int) -> None:
        """Rewrite one row left open for an order the broker closed: the broker's status
        and fills, why, and the cycle that saw it (its fee and realized P&L stay)."""
        bind = self._db.dialect.bind
        with self._tx() as tx:
            tx.run(
                "UPDATE trades SET status = ?, reason = ?, filled_qty = ?,"
                " filled_avg_price = ?, filled_at = ?, booked_cycle = ?"
                " WHERE arena = ? AND client_order_id = ?",
                (
                    order.status,
                    reason,
                    order.filled_qty,
                    bind(order.filled_avg_price),
                    order.filled_at,
                    cycle,
                    arena,
                    order.client_order_id,
                ),
            )

    def trade_statuses(self, arena: str, client_order_ids: Iterable[str]) -> dict[str, str]:
        """client order id -> its row's status, for those of `client_order_ids` recorded."""
        wanted = sorted(set(client_order_ids))
        out: dict[str, str] = {}
        with self._tx(write=False) as tx:
            for start in range(0, len(wanted), 500):  # bounded statement size
                part = wanted[start : start + 500]
                rows = tx.rows(
                    "SELECT client_order_id, status FROM trades WHERE arena = ?"
                    f" AND client_order_id IN ({', '.join('?' * len(part))})",
                    (arena, *part),
                )
                out |= {r["client_order_id"]: r["status"] for r in rows}
        return out

    def agent_logs(
        self,
        arena: str,
        agent: str | None = None,
        kind: LogKind | None = None,
        since_cycle: int | None = None,
    ) -> list[LogRow]:
        where, params = _where(arena, agent=agent, kind=kind, since_cycle=since_cycle)
        query = (
            f"SELECT arena, cycle, agent, kind, content FROM agent_logs{where} ORDER BY cycle, id"
        )
        with self._tx(write=False) as tx:
            return [LogRow.model_validate(r) for r in tx.rows(query, params)]

    def snapshots(self, arena: str, account: str | None = None) -> list[Snapshot]:
        where, params = _where(arena, account=account)
        query = (
            f"SELECT {', '.join(_SNAPSHOT_COLUMNS)} FROM portfolio_snapshots{where}"
            " ORDER BY cycle, account"
        )
        with self._tx(write=False) as tx:
            return [_snapshot(r) for r in tx.rows(query, params)]

    def latest_snapshots(self, arena: str) -> list[Snapshot]:
        """Each account's snapshot at the last cycle it has one, by account name."""
        columns = ", ".join(f"s.{c}" for c in _SNAPSHOT_COLUMNS)
        query = (
            f"SELECT {columns} FROM portfolio_snapshots s"
            " JOIN (SELECT account, MAX(cycle) AS cycle FROM portfolio_snapshots"
            "       WHERE arena = ? GROUP BY account) m"
            " ON s.account = m.account AND s.cycle = m.cycle"
            " WHERE s.arena = ? ORDER BY s.account"
        )
        with self._tx(write=False) as tx:
            return [_snapshot(r) for r in tx.rows(query, (arena, arena))]

    def usage(self, arena: str) -> dict[str, Usage]:
        """Each agent's totals over all cycles, with the model of its last cycle.

        Summed here, not in SQL: SUM over SQLite's TEXT money would go through floats.
        """
        query = f"SELECT {', '.join(_USAGE_COLUMNS)} FROM llm_usage WHERE arena = ? ORDER BY cycle"
        totals: dict[str, Usage] = {}
        with self._tx(write=False) as tx:
            rows = tx.rows(query, (arena,))
        for r in rows:
            total = totals.setdefault(r["agent"], Usage(agent=r["agent"], model=r["model"]))
            total.model = r["model"]
            total.calls += r["calls"]
            total.tokens_in += r["tokens_in"]
            total.tokens_out += r["tokens_out"]
            total.cost_usd += Decimal(r["cost_usd"])
        return dict(sorted(totals.items()))

    def last_cycle(self, arena: str) -> int | None:
        with self._tx(write=False) as tx:
            rows = tx.rows("SELECT MAX(cycle) AS last FROM cycles WHERE arena = ?", (arena,))
        last = rows[0]["last"] if rows else None
        return None if last is None else int(last)

    def benchmark_closes(self, arena: str) -> list[tuple[str, Decimal]]:
        """(as_of, close) of the benchmark symbol at every cycle that has one, in order."""
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT as_of, benchmark_close FROM cycles"
                " WHERE arena = ? AND benchmark_close IS NOT NULL ORDER BY cycle",
                (arena,),
            )
        return [(r["as_of"], Decimal(str(r["benchmark_close"]))) for r in rows]

    def arena_ids(self, prefix: str = "") -> list[str]:
        """Every arena with a recorded cycle whose id starts with `prefix` (backtest runs)."""
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT DISTINCT arena FROM cycles WHERE substr(arena, 1, length(?)) = ?"
                " ORDER BY arena",
                (prefix, prefix),
            )
        return [r["arena"] for r in rows]

    # --- heartbeats (unattended runs) ---

    def beat_start(
        self, arena: str, cycle: int, started_at: str, interval_s: int | None, pid: int
    ) -> int:
        """A cycle attempt starts: its row, outcome 'running' until `beat_end`."""
        with self._tx() as tx:
            rows = tx.rows(
                "INSERT INTO heartbeats (arena, cycle, started_at, outcome, interval_s, pid)"
                " VALUES (?, ?, ?, 'running', ?, ?) RETURNING id",
                (arena, cycle, started_at, interval_s, pid),
            )
        return int(rows[0]["id"])

    def beat_end(
        self,
        beat_id: int,
        *,
        cycle: int,
        ended_at: str,
        duration_ms: int,
        outcome: HeartbeatOutcome,
        message: str = "",
    ) -> None:
        with self._tx() as tx:
            tx.run(
                "UPDATE heartbeats SET cycle = ?, ended_at = ?, duration_ms = ?, outcome = ?,"
                " message = ? WHERE id = ?",
                (cycle, ended_at, duration_ms, outcome, message, beat_id),
            )

    def beat_next(self, arena: str, next_at: str | None) -> None:
        """The scheduler's plan for the next cycle, on the arena's latest heartbeat."""
        with self._tx() as tx:
            tx.run(
                "UPDATE heartbeats SET next_at = ? WHERE id ="
                " (SELECT MAX(id) FROM heartbeats WHERE arena = ?)",
                (next_at, arena),
            )

    def heartbeats(self, arena: str, limit: int = 1) -> list[Heartbeat]:
        """The arena's latest heartbeats, newest first."""
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT * FROM heartbeats WHERE arena = ? ORDER BY id DESC LIMIT ?",
                (arena, limit),
            )
        return [Heartbeat.model_validate(r) for r in rows]

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

    # the simulated exchange's order ledger

    def ledger_get(self, client_order_id: str) -> SimOrder | None:
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT result FROM sim_orders WHERE client_order_id = ?", (client_order_id,)
            )
        return _sim_order(rows[0]["result"]) if rows else None

    def ledger_put(self, order: SimOrder) -> bool:
        """Store an order once: False (and no change) when its id is already there.

        One INSERT ... ON CONFLICT DO NOTHING, so two racing puts can't both win.
        """
        with self._tx() as tx:
            inserted = tx.run(
                "INSERT INTO sim_orders (client_order_id, result) VALUES (?, ?)"
                " ON CONFLICT (client_order_id) DO NOTHING",
                (order.request.client_order_id, order.model_dump_json()),
            )
        return inserted == 1

    def ledger_update(self, order: SimOrder) -> None:
        with self._tx() as tx:
            tx.run(
                "UPDATE sim_orders SET result = ? WHERE client_order_id = ?",
                (order.model_dump_json(), order.request.client_order_id),
            )

    def ledger_find(self, prefix: str) -> list[SimOrder]:
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT result FROM sim_orders WHERE substr(client_order_id, 1, length(?)) = ?"
                " ORDER BY client_order_id",
                (prefix, prefix),
            )
        return [_sim_order(r["result"]) for r in rows]


def _columns(tx: _Tx, table: str) -> set[str]:
    if tx.dialect.name == "sqlite":
        return {r["name"] for r in tx.rows(f"PRAGMA table_info({table})")}
    rows = tx.rows(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    )
    return {r["column_name"] for r in rows}


def _migrate(tx: _Tx) -> None:
    """Bring a database made by an older version up to the current tables: add the new
    columns, and widen the trades status CHECK to today's statuses."""
    dialect = tx.dialect.name
    for table, column, spec in added_columns(dialect):
        if column not in _columns(tx, table):
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
        columns = ", ".join(sorted(_columns(tx, "trades")))
        tx.run("ALTER TABLE trades RENAME TO trades_before_migration")
        for statement in ddl(dialect):
            tx.run(statement)
        tx.run(f"INSERT INTO trades ({columns}) SELECT {columns} FROM trades_before_migration")
        tx.run("DROP TABLE trades_before_migration")
        for statement in ddl(dialect):  # the indexes went with the old table
            tx.run(statement)


def _sim_order(text: str) -> SimOrder:
    """A ledger row; rows of older versions held the order's final result only."""
    data = json.loads(text)
    if "request" in data:
        return SimOrder.model_validate(data)
    final = OrderResult.model_validate(data)
    request = OrderRequest(
        client_order_id=final.client_order_id,
        account=final.account,
        symbol=final.symbol,
        side=final.side,
        qty=max(final.qty, 1),
        as_of=final.filled_at or "",
    )
    return SimOrder(request=request, broker_order_id=final.broker_order_id or "", final=final)


def _log_params(rec: CycleRecord) -> Iterator[tuple[object, ...]]:
    """Number each (agent, kind)'s entries in order: the seq of the unique key."""
    seen: dict[tuple[str, str], int] = {}
    for entry in rec.logs:
        seq = seen.get((entry.agent, entry.kind), 0)
        seen[(entry.agent, entry.kind)] = seq + 1
        yield (rec.arena, rec.cycle, entry.agent, entry.kind, seq, entry.content)


class StoreLedger:
    """The simulated exchange's `OrderLedger` (get/put), kept in the arena's database."""

    def __init__(self, store: ArenaStore) -> None:
        self._store = store

    def get(self, client_order_id: str) -> SimOrder | None:
        return self._store.ledger_get(client_order_id)

    def put(self, order: SimOrder) -> bool:
        return self._store.ledger_put(order)

    def update(self, order: SimOrder) -> None:
        self._store.ledger_update(order)

    def find(self, prefix: str) -> list[SimOrder]:
        return self._store.ledger_find(prefix)
