"""Failed cycles, for `mytrader repair`: how often a cycle failed and where, and how it
was repaired."""

from __future__ import annotations

from typing import Any

from mytrader.adapters.store.connection import Tables


class FailureTables(Tables):
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
