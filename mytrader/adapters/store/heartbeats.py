"""Heartbeats of unattended runs: one row per cycle attempt (start, end, outcome), and
the scheduler's plan for the next one."""

from __future__ import annotations

from mytrader.adapters.store.connection import Tables
from mytrader.domain.records import Heartbeat, HeartbeatOutcome


class HeartbeatTables(Tables):
    def beat_start(
        self, arena: str, cycle: int, started_at: str, interval_s: int | None, pid: int
    ) -> int:
        """A cycle attempt starts: its row, outcome 'running' until `beat_end`."""
        with self._tx() as tx:
            rows = tx.rows(
                "INSERT INTO heartbeats (arena, cycle, started_at, outcome, interval_s, pid)"
                " VALUES (?, ?, ?, 'running', ?, ?) RETURNING id",
                (arena, cycle, started_at, interval_s, pid),
            )
        return int(rows[0]["id"])

    def beat_end(
        self,
        beat_id: int,
        *,
        cycle: int,
        ended_at: str,
        duration_ms: int,
        outcome: HeartbeatOutcome,
        message: str = "",
    ) -> None:
        with self._tx() as tx:
            tx.run(
                "UPDATE heartbeats SET cycle = ?, ended_at = ?, duration_ms = ?, outcome = ?,"
                " message = ? WHERE id = ?",
                (cycle, ended_at, duration_ms, outcome, message, beat_id),
            )

    def beat_next(self, arena: str, next_at: str | None) -> None:
        """The scheduler's plan for the next cycle, on the arena's latest heartbeat."""
        with self._tx() as tx:
            tx.run(
                "UPDATE heartbeats SET next_at = ? WHERE id ="
                " (SELECT MAX(id) FROM heartbeats WHERE arena = ?)",
                (next_at, arena),
            )

    def heartbeats(self, arena: str, limit: int = 1) -> list[Heartbeat]:
        """The arena's latest heartbeats, newest first."""
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT * FROM heartbeats WHERE arena = ? ORDER BY id DESC LIMIT ?",
                (arena, limit),
            )
        return [Heartbeat.model_validate(r) for r in rows]
