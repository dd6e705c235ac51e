"""News for the agents' `get_news` tool, bounded by the decision's now (`as_of`).

A source returns only items published at or before `as_of`. Offline the default is no
news at all; `FileNews` replays a JSON-lines file (one item per line), so a backtest can
show agents the headlines they would have seen. The Alpaca news adapter lives with the
Alpaca broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError, field_validator


class NewsError(ValueError):
    """The news file cannot be used (missing, or a line that is not a valid item)."""


class NewsItem(BaseModel):
    id: str
    headline: str
    summary: str = ""
    source: str = ""
    symbols: list[str] = []
    created_at: str  # ISO date or timestamp of publication
    url: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: Any) -> Any:
        # Alpaca's news ids are integers; one type keeps sorting and JSON simple.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("symbols")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [s.strip().upper() for s in v if s.strip()]

    @field_validator("created_at")
    @classmethod
    def _iso(cls, v: str) -> str:
        parse_moment(v)  # raises ValueError with the offending text
        return v


@runtime_checkable
class NewsSource(Protocol):
    def news(self, symbols: list[str], as_of: str, limit: int) -> list[NewsItem]:
        """Items about any of `symbols` (all items if empty) published at or before
        `as_of`, newest first, at most `limit`."""
        ...


class NoNews:
    """The offline default: there is never any news."""

    def news(self, symbols: list[str], as_of: str, limit: int) -> list[NewsItem]:
        return []


def parse_moment(text: str) -> datetime:
    """An ISO date or timestamp as an aware datetime (a date is its midnight, naive is UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"not an ISO date or timestamp: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _is_date(text: str) -> bool:
    return len(text) == 10  # "YYYY-MM-DD": anything longer carries a time


def published_by(created_at: str, as_of: str) -> bool:
    """Whether an item created at `created_at` could have been read at `as_of`."""
    if _is_date(as_of):
        # A daily decision sees the whole session's news: compare the dates as written.
        return date.fromisoformat(created_at[:10]) <= date.fromisoformat(as_of)
    if _is_date(created_at):
        # A date-only item may have come out late that day: only earlier days are safe.
        return date.fromisoformat(created_at) < parse_moment(as_of).date()
    return parse_moment(created_at) <= parse_moment(as_of)


def select_news(
    items: Iterable[NewsItem], symbols: list[str], as_of: str, limit: int
) -> list[NewsItem]:
    """The filter every source applies: symbols, no look-ahead, newest first, limit."""
    if limit <= 0:
        return []
    wanted = {s.upper() for s in symbols}
    kept = [
        item
        for item in items
        if (not wanted or wanted.intersection(item.symbols))
        and published_by(item.created_at, as_of)
    ]
    # Newest first; the id breaks ties so equal timestamps always come out the same.
    kept.sort(key=lambda item: (parse_moment(item.created_at), item.id), reverse=True)
    return kept[:limit]


class FileNews:
    """News replayed from a JSON-lines file; read and validated once, when built."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.items = _read_items(self.path)

    def news(self, symbols: list[str], as_of: str, limit: int) -> list[NewsItem]:
        return select_news(self.items, symbols, as_of, limit)


def _read_items(path: Path) -> list[NewsItem]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise NewsError(f"cannot read news file {path}: {exc}") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if line.strip():  # blank lines are allowed (a trailing newline, spacing)
            items.append(_parse_line(path, number, line))
    return items


def _parse_line(path: Path, number: int, line: str) -> NewsItem:
    try:
        return NewsItem.model_validate_json(line)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'line'}: {err['msg']}"
            for err in exc.errors()
        )
        raise NewsError(f"{path} line {number}: not a valid news item ({problems})") from None
