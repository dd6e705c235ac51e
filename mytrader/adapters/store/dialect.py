"""The dialect layer, instead of an ORM: every query is written once with `?`
placeholders, and the two backends differ only in their placeholder and how money is
bound (Decimal for PostgreSQL's NUMERIC, str for SQLite's TEXT)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mytrader.adapters.store.schema import DialectName
from mytrader.domain.text import for_storage

Row = dict[str, Any]


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


class Tx:
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
