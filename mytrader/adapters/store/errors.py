"""The one place where a database's own errors become the store's: `StoreError`.

A damaged, unreadable or missing file, a folder in place of a file, a permission, a
PostgreSQL server that went away: each becomes a StoreError whose message names the file
(or the URL, password masked) and the way on, so every command that opens the tables or
the checkpoints ends with that message and exit status 3, never a driver's traceback.
`DatabaseLost` is the subclass for "the server can't be reached": a caller stops talking
to that database instead of waiting out the timeout again for every call.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg_pool import PoolTimeout

from mytrader.adapters.store.url import mask_url, scrub


class StoreError(RuntimeError):
    """The database could not be opened or a statement failed. Never holds a password."""


class DatabaseLost(StoreError):
    """The database server is unreachable (connection refused, reset or timed out)."""


# What a driver or the file system raises on a database that is not usable.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    sqlite3.Error,
    psycopg.Error,
    PoolTimeout,
    OSError,  # IsADirectoryError, PermissionError, FileExistsError (a file as MYTRADER_HOME)
)
_DAMAGED = ("not a database", "malformed", "file is encrypted", "disk image")
_WAY_ON = (
    "restore it from a backup, or move it away and run `mytrader reset --yes` to start "
    "the arena over (README: Damaged or lost databases)"
)


# SQLSTATEs of a server that went away: connection exceptions, and a shutdown.
_GONE_STATES = ("57P01", "57P02", "57P03")


def is_lost(exc: BaseException) -> bool:
    """Whether `exc` says the database server can't be reached (not a refused statement:
    a statement timeout or a lock conflict is an OperationalError too, with its state)."""
    if isinstance(exc, DatabaseLost | PoolTimeout):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in _GONE_STATES
    return isinstance(exc, psycopg.InterfaceError) and "closed" in str(exc)


def store_error(exc: BaseException, where: str, url: str | None = None) -> StoreError:
    """The StoreError for `exc`, raised while using the database at `where` (a path, or
    `url` for PostgreSQL: shown masked, its password removed from the driver's text)."""
    if isinstance(exc, StoreError):
        return exc
    if url:
        return _postgres_error(exc, url)
    return StoreError(_file_problem(exc, Path(where)))


def _postgres_error(exc: BaseException, url: str) -> StoreError:
    detail = scrub(str(exc).strip(), url) or type(exc).__name__
    if is_lost(exc):
        return DatabaseLost(f"PostgreSQL at {mask_url(url)} is unreachable: {detail}")
    return StoreError(f"PostgreSQL error on {mask_url(url)}: {detail}")


def _file_problem(exc: BaseException, path: Path) -> str:
    text = str(exc).strip() or type(exc).__name__
    if path.is_dir():
        return f"{path} is a folder, not a database file: {_WAY_ON}"
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        return f"{parent} is a file, not a folder: MYTRADER_HOME must be a folder ({text})"
    if isinstance(exc, sqlite3.DatabaseError) and any(w in text.lower() for w in _DAMAGED):
        return f"{path} is damaged or not a SQLite database ({text}): {_WAY_ON}"
    if _denied(exc, path):
        return f"{path} cannot be opened: permission denied ({text})"
    return f"SQLite error on {path}: {text}"


def _denied(exc: BaseException, path: Path) -> bool:
    if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EACCES:
        return True
    if "readonly" in str(exc) or "unable to open" in str(exc):
        target = path if path.exists() else path.parent
        return target.exists() and not os.access(target, os.R_OK | os.W_OK)
    return False


@contextmanager
def mapped(where: str, url: str | None = None) -> Iterator[None]:
    """Run the block; a database error inside it leaves as a StoreError (see module)."""
    try:
        yield
    except DATABASE_ERRORS as exc:
        # `from None`: a driver's own message may echo the connection string.
        raise store_error(exc, where, url) from None
