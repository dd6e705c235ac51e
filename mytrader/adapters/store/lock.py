"""One process at a time per arena.

Two `mytrader run` on the same arena would step the same cycle twice and race on its
orders. A run holds this lock while it works: a file lock next to the SQLite files, or a
PostgreSQL session advisory lock. The OS or the server releases it when the process dies,
so a crashed run never leaves the arena locked.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg

from mytrader.adapters.store.connection import StoreConfig, bounded
from mytrader.adapters.store.errors import StoreError, mapped
from mytrader.adapters.store.url import mask_url, scrub


class ArenaBusy(RuntimeError):
    """Another process is running this arena."""


def lock_key(arena: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    digest = hashlib.sha256(f"mytrader-arena:{arena}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def arena_lock(config: StoreConfig, arena: str) -> Iterator[None]:
    """Hold the arena for this process (ArenaBusy when another one holds it)."""
    if config.database_url:
        with _postgres_lock(config.database_url, arena, config.timeout_s):
            yield
    else:
        with _file_lock(config.home.expanduser(), arena):
            yield


@contextmanager
def _postgres_lock(url: str, arena: str, timeout: float) -> Iterator[None]:
    try:
        conn = psycopg.connect(url, autocommit=True, **bounded(timeout))
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL at {mask_url(url)}: {scrub(str(exc), url)}") from None
    with conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(arena),)).fetchone()
        if not row or not row[0]:
            raise ArenaBusy(f"arena '{arena}' is being run by another process ({mask_url(url)})")
        try:
            yield
        finally:
            # Released before the session closes: the server ends a closed session a moment
            # later, and a run started in that moment found the arena busy.
            with suppress(psycopg.Error):  # a lost server: closing releases it anyway
                conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(arena),))


@contextmanager
def _file_lock(home: Path, arena: str) -> Iterator[None]:
    path = home / f"{arena}.lock"
    with mapped(str(path)):  # the home a file, or not writable: StoreError
        home.mkdir(parents=True, exist_ok=True)
        handle = path.open("w")
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArenaBusy(f"arena '{arena}' is being run by another process ({path})") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
