"""What every dashboard read stands on: one read transaction per thread (`session`),
rows as plain JSON-able values, and the schema check.

The reader never creates or migrates a table (the writer, `ArenaStore`, does when it
opens them). Tables that are missing (nothing recorded yet) or older than this version
(not yet opened by this version's writer) are a `SchemaNotReady` on a read, naming what
is missing and the way on; the check runs again on the next read until the tables are
current, so a dashboard started before the first run works once they are there.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from mytrader.adapters.store.connection import Backend, Tables
from mytrader.adapters.store.dialect import Row, Tx
from mytrader.adapters.store.errors import StoreError
from mytrader.adapters.store.migrations import schema_gaps

log = logging.getLogger(__name__)


class SchemaNotReady(StoreError):
    """The arena's tables are missing, or older than this version: the reader does not
    create or upgrade them."""


def plain(row: Row) -> dict[str, Any]:
    """A row as JSON-able values: money as its exact decimal string, times as ISO text."""
    out = dict(row)
    for key, value in row.items():
        kind = type(value)  # exact types: this runs for every value of every row
        if kind is Decimal:
            out[key] = str(value)
        elif kind is datetime or kind is date:
            out[key] = value.isoformat()
    if type(out.get("positions")) is str:
        out["positions"] = json.loads(out["positions"])
    return out


class ReadSession(Tables):
    """Reads only, in one snapshot per thread's session."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self._session = threading.local()
        self._ready = False  # the tables were found current once: they stay so

    def schema_problem(self) -> str | None:
        """What keeps the tables from being read (missing, or older), or None."""
        with self._tx(write=False) as tx:
            return self._problem(tx)

    def _problem(self, tx: Tx) -> str | None:
        if self._ready:
            return None
        missing, older = schema_gaps(tx)
        if missing:
            return (
                f"no arena tables at {self.location} yet (missing: {', '.join(missing)}):"
                " `mytrader run` or `mytrader backtest` creates them; the dashboard only reads"
            )
        if older:
            return (
                f"the arena tables at {self.location} are older than this version (no"
                f" {', '.join(older)}): any `mytrader` command that opens them, such as"
                " `mytrader leaderboard`, upgrades them; the dashboard only reads"
            )
        self._ready = True
        return None

    def _checked(self, tx: Tx) -> Tx:
        problem = self._problem(tx)
        if problem is not None:
            log.warning("%s", problem)
            raise SchemaNotReady(problem)
        return tx

    def _rows(self, query: str, params: list[object] | tuple[object, ...] = ()) -> list[Row]:
        tx = getattr(self._session, "tx", None)
        if tx is not None:
            return list(tx.rows(query, params))
        with self._tx(write=False) as tx:
            return self._checked(tx).rows(query, params)

    @contextmanager
    def session(self) -> Iterator[None]:
        """Every read of this thread inside it in one read transaction: one snapshot of
        the tables, and one connection instead of one per query (round trips add up on
        PostgreSQL)."""
        if getattr(self._session, "tx", None) is not None:
            yield
            return
        with self._tx(write=False) as tx:
            self._session.tx = self._checked(tx)
            try:
                yield
            finally:
                self._session.tx = None

    def _distinct(self, table: str, column: str, arena: str) -> list[str]:
        """The distinct values of an indexed (arena, column, ...) prefix by skip-scan: one
        index seek per value instead of a scan of the arena's rows."""
        rows = self._rows(
            f"WITH RECURSIVE d(v) AS (SELECT MIN({column}) FROM {table} WHERE arena = ?"
            f" UNION ALL SELECT (SELECT MIN({column}) FROM {table}"
            f" WHERE arena = ? AND {column} > d.v) FROM d WHERE d.v IS NOT NULL)"
            " SELECT v FROM d WHERE v IS NOT NULL",
            (arena, arena),
        )
        return [r["v"] for r in rows]

    def _last(self, arena: str) -> tuple[int, str] | None:
        """The arena's last cycle and when it was recorded: a change of either means new
        (or re-recorded, or reset) rows."""
        rows = self._rows(
            "SELECT cycle, recorded_at FROM cycles WHERE arena = ? ORDER BY cycle DESC LIMIT 1",
            (arena,),
        )
        return (int(rows[0]["cycle"]), str(rows[0]["recorded_at"])) if rows else None
