"""LangGraph checkpoints: PostgresSaver when DATABASE_URL is set, else SqliteSaver.

A long arena writes a checkpoint per superstep, so the runner prunes its thread down to
the latest checkpoint (per namespace) now and then; the state a run resumes from is kept.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from psycopg import Connection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from mytrader.adapters.store.connection import StoreConfig, bounded, check_postgres
from mytrader.adapters.store.errors import StoreError, mapped
from mytrader.adapters.store.url import mask_url, scrub

CHECKPOINTS_FILE = "checkpoints.sqlite"


@contextmanager
def open_checkpointer(config: StoreConfig) -> Iterator[BaseCheckpointSaver[str]]:
    """A ready (set up) checkpointer for the configured backend, closed on exit."""
    if config.database_url:
        with _postgres_saver(config.database_url, config.timeout_s) as saver:
            yield saver
    else:
        with _sqlite_saver(config.home.expanduser()) as saver:
            yield saver


def checkpoints_location(config: StoreConfig) -> str:
    """Where the checkpoints live, safe to print: the file, or the masked URL."""
    url = config.database_url
    return mask_url(url) if url else str(config.home.expanduser() / CHECKPOINTS_FILE)


@contextmanager
def _postgres_saver(url: str, timeout: float = 10.0) -> Iterator[PostgresSaver]:
    check_postgres(url, timeout)  # fails now, with the reason and a masked URL
    pool: ConnectionPool[Connection[DictRow]] = ConnectionPool(
        url,
        connection_class=Connection[DictRow],
        min_size=1,
        max_size=8,
        open=True,
        check=ConnectionPool.check_connection,
        # What PostgresSaver needs: autocommit (it manages its own transactions),
        # dict rows, and no server-side prepared statements (safe behind pgbouncer).
        kwargs={
            "autocommit": True,
            "row_factory": dict_row,
            "prepare_threshold": None,
            **bounded(timeout),
        },
        timeout=timeout,  # waiting for a connection, e.g. while the server is gone
        name="mytrader-checkpoints",
    )
    try:
        saver = PostgresSaver(pool)
        try:
            saver.setup()
        except (psycopg.Error, PoolTimeout) as exc:
            detail = scrub(str(exc), url)
            raise StoreError(f"checkpoint setup failed on {mask_url(url)}: {detail}") from None
        yield saver
    finally:
        pool.close()


@contextmanager
def _sqlite_saver(home: Path) -> Iterator[SqliteSaver]:
    path = home / CHECKPOINTS_FILE
    with mapped(str(path)):  # a damaged file, a folder, a permission: StoreError
        home.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: LangGraph saves from worker threads; the saver locks.
        conn = sqlite3.connect(path, check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        with mapped(str(path)):
            saver.setup()
        yield saver
    finally:
        conn.close()


def delete_thread(saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
    """Forget a thread entirely (every checkpoint, write and blob)."""
    saver.delete_thread(thread_id)


def prune_thread(saver: BaseCheckpointSaver[Any], thread_id: str) -> bool:
    """Keep only the latest checkpoint of each namespace of a thread (and its writes).

    The thread's state and the next run are unchanged; its history (time travel) is
    gone. Returns False when the saver can't prune (e.g. InMemorySaver): pruning only
    saves space, so that is not an error.
    """
    if isinstance(saver, PostgresSaver):
        saver.prune([thread_id], strategy="keep_latest")
    elif isinstance(saver, SqliteSaver):
        _prune_sqlite(saver, thread_id)
    else:
        try:
            saver.prune([thread_id], strategy="keep_latest")
        except NotImplementedError:
            return False
    return True


# --- SqliteSaver: no prune of its own ---------------------------------------------------
#
# Its tables: checkpoints(thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id,
# type, checkpoint, metadata) with the full channel values inline, and writes(thread_id,
# checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, value). So the
# latest checkpoint alone restores the state, and a checkpoint's pending writes are the
# rows of `writes` with its id. This mirrors PostgresSaver.prune(strategy="keep_latest").


def _prune_sqlite(saver: SqliteSaver, thread_id: str) -> None:
    with saver.lock:  # the saver's own lock: no put can interleave
        saver.setup()
        conn = saver.conn
        conn.execute("BEGIN IMMEDIATE")  # one snapshot, and a write lock up front
        try:
            _refuse_delta(conn, thread_id)
            heads = _heads(conn, thread_id)
            for ns in _finished_subgraph_calls(conn, thread_id, heads):
                _delete_namespace(conn, thread_id, ns)
                del heads[ns]
            for ns, head in heads.items():
                _keep_only(conn, thread_id, ns, head)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _refuse_delta(conn: sqlite3.Connection, thread_id: str) -> None:
    """A DeltaChannel rebuilds its value from older checkpoints: pruning would lose it."""
    row = conn.execute(
        "SELECT 1 FROM checkpoints WHERE thread_id = ? AND ("
        " json_type(CAST(metadata AS TEXT), '$.counters_since_delta_snapshot') IS NOT NULL"
        " OR json_type(CAST(metadata AS TEXT), '$.delta_writes_versioned') IS NOT NULL)"
        " LIMIT 1",
        (thread_id,),
    ).fetchone()
    if row is not None:
        raise NotImplementedError(
            f"keep_latest can't prune threads that use a DeltaChannel: {thread_id}"
        )


def _heads(conn: sqlite3.Connection, thread_id: str) -> dict[str, str]:
    """The latest checkpoint id of each namespace (ids sort by time)."""
    rows = conn.execute(
        "SELECT checkpoint_ns, MAX(checkpoint_id) FROM checkpoints"
        " WHERE thread_id = ? GROUP BY checkpoint_ns",
        (thread_id,),
    ).fetchall()
    return {ns: head for ns, head in rows}


def _finished_subgraph_calls(
    conn: sqlite3.Connection, thread_id: str, heads: dict[str, str]
) -> list[str]:
    """Namespaces of subgraph calls ("node:task_id") started from an older root checkpoint.

    Each call has its own namespace, so keeping "the latest of each" would keep one per
    call forever; like PostgresSaver, a call goes with the root checkpoint it started
    from, once that one is saved. (A `checkpointer=True` subgraph has no ":" and stays.)
    """
    calls = []
    for ns, head in heads.items():
        if ":" not in ns:
            continue
        root = _root_of(conn, thread_id, ns, head)
        if root is not None and root != heads.get("") and _saved(conn, thread_id, root):
            calls.append(ns)
    return calls


def _root_of(conn: sqlite3.Connection, thread_id: str, ns: str, checkpoint_id: str) -> str | None:
    row = conn.execute(
        "SELECT metadata FROM checkpoints"
        " WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
        (thread_id, ns, checkpoint_id),
    ).fetchone()
    metadata = json.loads(row[0]) if row and row[0] is not None else {}
    root = (metadata.get("parents") or {}).get("")
    return str(root) if root else None


def _saved(conn: sqlite3.Connection, thread_id: str, root: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM checkpoints"
        " WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id = ?",
        (thread_id, root),
    ).fetchone()
    return row is not None


def _delete_namespace(conn: sqlite3.Connection, thread_id: str, ns: str) -> None:
    for table in ("writes", "checkpoints"):
        conn.execute(
            f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_ns = ?", (thread_id, ns)
        )


def _keep_only(conn: sqlite3.Connection, thread_id: str, ns: str, head: str) -> None:
    key = (thread_id, ns, head)
    # Writes go by the checkpoints deleted, not "all but the head's": a run can save a
    # step's writes before the checkpoint they belong to.
    conn.execute(
        "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id IN"
        " (SELECT checkpoint_id FROM checkpoints"
        "  WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id <> ?)",
        (thread_id, ns, *key),
    )
    conn.execute(
        "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id <> ?",
        key,
    )
    # Its parent is gone: say so, as PostgresSaver does, rather than point at nothing.
    conn.execute(
        "UPDATE checkpoints SET parent_checkpoint_id = NULL"
        " WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
        key,
    )
