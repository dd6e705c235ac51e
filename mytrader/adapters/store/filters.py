"""The one filter and page helper of the store's reads, the writer's and the dashboard's:
`WHERE arena = ? AND column = ? ...` for the filters given, and the keyset cursor of a
page listed newest first."""

from __future__ import annotations

# Largest page any list returns, whatever the caller asks.
MAX_PAGE = 500


def where(
    arena: str,
    *,
    since_cycle: int | None = None,
    before: tuple[int, object] | None = None,
    tiebreak: str = "id <",
    **equal: object,
) -> tuple[str, list[object]]:
    """` WHERE arena = ? AND k = ? ...` for the `equal` filters that are not None, and

    - `since_cycle`: cycles from that one on;
    - `before`: a page's cursor, the last row's (cycle, key): rows after it in the
      order `cycle DESC` then `tiebreak` (`"id <"` for id DESC, `"agent >"` for agent).
    """
    clauses = ["arena = ?"]
    params: list[object] = [arena]
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if since_cycle is not None:
        clauses.append("cycle >= ?")
        params.append(since_cycle)
    if before is not None:
        # = (cycle, key) "before" (c, k), in a form both planners turn into an index range
        clauses.append(f"cycle <= ? AND (cycle < ? OR {tiebreak} ?)")
        params += [before[0], before[0], before[1]]
    return " WHERE " + " AND ".join(clauses), params


def page_limit(limit: int) -> int:
    """A page's size: at least 1, at most MAX_PAGE."""
    return max(1, min(int(limit), MAX_PAGE))
