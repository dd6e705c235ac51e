"""Where the arena's tables live and how to reach them: `StoreConfig` (the database URL,
or a home folder for SQLite files), one backend per database, and `Tables`, what every
table group of the store stands on.

SQLite (a file, the default) or PostgreSQL (a URL): the backends differ only in how they
connect; the queries are the same (see `dialect`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from mytrader.adapters.store.dialect import POSTGRES, SQLITE, Dialect, Tx
from mytrader.adapters.store.errors import StoreError, mapped, store_error
from mytrader.adapters.store.schema import DialectName
from mytrader.adapters.store.url import mask_url, scrub

ARENA_FILE = "arena.sqlite"  # under the home folder


@dataclass(frozen=True)
class StoreConfig:
    """Where the arena's data lives: PostgreSQL at `database_url` when given, else SQLite
    files under `home`; `timeout_s` bounds every wait on the database."""

    home: Path
    database_url: str | None = None
    timeout_s: float = 10.0

    @property
    def arena_file(self) -> Path:
        return self.home.expanduser() / ARENA_FILE


class Backend(Protocol):
    dialect: Dialect
    location: str  # safe to print: a path, or the URL with its password masked

    def transaction(self, write: bool = True) -> AbstractContextManager[Tx]: ...

    def close(self) -> None: ...


class SqliteBackend:
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
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                # IMMEDIATE takes the write lock up front, so a writer never fails midway
                # on SQLITE_BUSY because another process started writing first.
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield Tx(cur, self.dialect)
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


class PostgresBackend:
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
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        try:
            with (
                self._pool.connection() as conn,
                conn.transaction(),
                conn.cursor() as cur,
            ):
                yield Tx(cur, self.dialect)
        except (psycopg.Error, PoolTimeout) as exc:
            raise store_error(exc, self.location, self._url) from exc

    def close(self) -> None:
        self._pool.close()


def open_backend(config: StoreConfig) -> Backend:
    """PostgreSQL when the config has a URL, else `<home>/arena.sqlite` (home created)."""
    if config.database_url:
        return PostgresBackend(config.database_url, config.timeout_s)
    path = config.arena_file
    with mapped(str(path)):  # home a file, or not writable
        path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteBackend(path)


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


class Tables:
    """One backend and its transactions: the base of the store's table groups, of the
    `ArenaStore` façade and of the dashboard's `ArenaReader` (both opened the same way:
    `open`, `sqlite`, `postgres`)."""

    _db: Backend

    def __init__(self, backend: Backend) -> None:
        self._db = backend

    @classmethod
    def open(cls, config: StoreConfig) -> Self:
        """PostgreSQL when the config has a URL, else `<home>/arena.sqlite`."""
        return cls(open_backend(config))

    @classmethod
    def sqlite(cls, path: Path) -> Self:
        return cls(SqliteBackend(Path(path).expanduser()))

    @classmethod
    def postgres(cls, url: str, *, timeout: float = 10.0) -> Self:
        return cls(PostgresBackend(url, timeout))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dialect}: {self.location})"

    @property
    def dialect(self) -> DialectName:
        return self._db.dialect.name

    @property
    def location(self) -> str:
        """Where the data lives, safe to print (the password is masked)."""
        return self._db.location

    def _tx(self, write: bool = True) -> AbstractContextManager[Tx]:
        return self._db.transaction(write)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
