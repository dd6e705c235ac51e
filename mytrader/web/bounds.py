"""How large an answer of the dashboard may be: texts cut with a marker, pages by bytes.

A model may answer 150,000 characters, and a page of 500 such rows would be megabytes.
Every text served in a list or a cycle is cut at TEXT_CHARS with a visible marker, and the
entry it belongs to then names where its full text is (`full`: one request away, e.g.
`/api/logs/{id}`); a page stops before PAGE_BYTES, and its `next` goes on from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

# Longest text served inside a list, a cycle or the overview (characters).
TEXT_CHARS = 2_000
# A page of a list stops before this many bytes of items (one item always fits: it is
# bounded by TEXT_CHARS per text).
PAGE_BYTES = 256 * 1024


def cut(text: str, limit: int = TEXT_CHARS) -> str:
    """`text`, or its first `limit` characters and a marker saying how much is left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} … [cut: {len(text) - limit:,} more characters]"


def clipped(value: Any) -> tuple[Any, bool]:
    """A copy of a JSON-able value with every long string cut; True when one was."""
    if isinstance(value, str):
        return cut(value), len(value) > TEXT_CHARS
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        any_cut = False
        for key, item in value.items():
            out[key], was_cut = clipped(item)
            any_cut |= was_cut
        return out, any_cut
    if isinstance(value, list):
        items = [clipped(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def log_url(log_id: object) -> str:
    return f"/api/logs/{int(str(log_id))}"


def trade_url(trade_id: object) -> str:
    return f"/api/trades/{int(str(trade_id))}"


def shown(entry: dict[str, Any], full: str) -> dict[str, Any]:
    """The entry with its long texts cut; `full` names its full text when one was."""
    out, was_cut = clipped(entry)
    if was_cut:
        out["full"] = full
    return out


def newest_fitting(items: Sequence[Any], budget: int) -> list[Any]:
    """The last items (oldest first, as given) that fit in `budget` bytes (at least one)."""
    parts = fitting(list(reversed(items)), budget)
    return list(items[len(items) - len(parts) :])


def fitting(items: Sequence[Any], budget: int = PAGE_BYTES) -> list[str]:
    """The JSON texts of the first items that fit in `budget` bytes (at least one)."""
    parts: list[str] = []
    size = 0
    for item in items:
        # ASCII (non-ASCII as \u escapes): characters are bytes, and a lone surrogate
        # from a model's JSON cannot fail the encoding.
        part = json.dumps(item, separators=(",", ":"))
        if parts and size + len(part) > budget:
            break
        parts.append(part)
        size += len(part) + 1
    return parts


def page_json(
    head: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    limit: int,
    cursor: Callable[[dict[str, Any]], object],
    items: Sequence[Any] | None = None,
) -> str:
    """`{...head, "items": [...], "next": ...}` for a page of `rows` (read `limit` at most),
    each shown as `items` (default: the rows), within PAGE_BYTES. `next` is the cursor of
    the last row sent when more may follow: the page was full, or cut for its size."""
    parts = fitting(rows if items is None else items)
    more = len(parts) < len(rows) or len(rows) == limit
    nxt = cursor(rows[len(parts) - 1]) if more and parts else None
    body = json.dumps({**head, "next": nxt}, separators=(",", ":"))
    return f'{body[:-1]},"items":[{",".join(parts)}]}}'
