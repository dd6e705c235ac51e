"""`ArenaReader`: the dashboard's reads of the arena's tables (never the checkpoints).

Read-only (see `read_session`): the arenas present, the books and usage totals, a
downsampled equity series, the rows of a range of cycles for the live stream, and the
paged lists (`pages`). Rows come back as plain JSON-able dicts with money as exact
decimal strings; `SELECT *` keeps them readable whatever columns a table gains.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from mytrader.adapters.store.connection import (
    Backend,
)
from mytrader.adapters.store.cycles import (
    BENCHMARK_CLOSES,
    SNAPSHOT_COLUMNS,
    benchmark_close,
    snapshot,
    snapshots_query,
)
from mytrader.adapters.store.evidence import evidence_rows
from mytrader.adapters.store.filters import MAX_PAGE, page_limit
from mytrader.adapters.store.pages import PagedReads
from mytrader.adapters.store.read_session import SchemaNotReady, plain
from mytrader.adapters.store.usage import add
from mytrader.domain.records import EvidenceRows, Snapshot, Usage

__all__ = ["MAX_PAGE", "ArenaReader", "SchemaNotReady", "plain"]


class ArenaReader(PagedReads):
    """The dashboard's read queries over the arena's tables. Safe to share between threads."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self._usage_lock = threading.Lock()
        # arena -> (cycle, its recorded_at, totals up to that cycle)
        self._usage_seen: dict[str, tuple[int, str, dict[str, Usage]]] = {}
        # (arena, points) -> (last cycle, its recorded_at, the series)
        self._equity_seen: dict[tuple[str, int], tuple[int, str, dict[str, Any]]] = {}

    def usage_totals(self, arena: str) -> dict[str, Usage]:
        """The same totals as `usage`, read incrementally: only the rows of cycles recorded
        since the last call are read and added, so a 10,000-cycle arena costs what its
        new cycles cost. A reset arena (its cycle row recorded anew) starts over."""
        # The session first, then the lock: on SQLite the session holds the connection,
        # so every thread takes the two in the same order.
        with self.session(), self._usage_lock:
            upto, stamp, totals = self._usage_seen.get(arena, (0, "", {}))
            if upto:
                row = self._rows(
                    "SELECT recorded_at FROM cycles WHERE arena = ? AND cycle = ?", (arena, upto)
                )
                if not row or str(row[0]["recorded_at"]) != stamp:
                    upto, stamp, totals = 0, "", {}
            last = self._last(arena)
            if last is None:
                return {}
            top, top_stamp = last
            totals = {a: u.model_copy() for a, u in totals.items()}
            for agent, part in self._usage_between(arena, upto, top).items():
                add(
                    totals,
                    agent,
                    part.model,
                    part.calls,
                    part.tokens_in,
                    part.tokens_out,
                    part.cost_usd,
                )
            self._usage_seen[arena] = (top, top_stamp, totals)
            return {a: u.model_copy() for a, u in sorted(totals.items())}

    def latest_books(self, arena: str) -> list[Snapshot]:
        """The same rows as `latest_snapshots` (each account at its last cycle, by account),
        by one index seek per account."""
        books = []
        for account in self._distinct("portfolio_snapshots", "account", arena):
            rows = self._rows(
                f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM portfolio_snapshots"
                " WHERE arena = ? AND account = ? ORDER BY cycle DESC LIMIT 1",
                (arena, account),
            )
            books += [snapshot(r) for r in rows]
        return books

    def snapshots(self, arena: str) -> list[Snapshot]:
        """Every snapshot of the arena, by cycle then account (the store's rows)."""
        return [snapshot(r) for r in self._rows(*snapshots_query(arena))]

    def benchmark_closes(self, arena: str) -> list[tuple[str, Decimal]]:
        """(as_of, close) of the benchmark at every cycle that has one (the store's rows)."""
        return [benchmark_close(r) for r in self._rows(BENCHMARK_CLOSES, (arena,))]

    def evidence_rows(self, arena: str) -> EvidenceRows:
        """The store's `evidence_rows`, in one read transaction."""
        with self.session():
            return evidence_rows(lambda q, p: self._rows(q, tuple(p)), self.dialect, arena)

    def _usage_between(self, arena: str, after: int, upto: int) -> dict[str, Usage]:
        """Each agent's usage over cycles (after, upto]: counts summed in SQL (integers,
        exact); dollars summed here from the rows that cost anything (SQLite keeps money
        as TEXT, and SUM would go through floats)."""
        rng = (arena, after, upto)
        span = "WHERE arena = ? AND cycle > ? AND cycle <= ?"
        sums = self._rows(
            "SELECT agent, SUM(calls) AS calls, SUM(tokens_in) AS tokens_in,"
            f" SUM(tokens_out) AS tokens_out, MAX(cycle) AS last FROM llm_usage {span}"
            " GROUP BY agent",
            rng,
        )
        out: dict[str, Usage] = {}
        for r in sums:
            model = self._rows(
                "SELECT model FROM llm_usage WHERE arena = ? AND cycle = ? AND agent = ?",
                (arena, r["last"], r["agent"]),
            )[0]["model"]
            add(out, r["agent"], model, int(r["calls"]), int(r["tokens_in"]), int(r["tokens_out"]))
        zero = "0" if self.dialect == "sqlite" else Decimal("0")
        for r in self._rows(
            f"SELECT agent, cost_usd FROM llm_usage {span} AND cost_usd <> ?", (*rng, zero)
        ):
            add(out, r["agent"], out[r["agent"]].model, cost_usd=Decimal(r["cost_usd"]))
        return out

    # arenas

    def arenas(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Every arena with a recorded cycle (live arenas and backtest runs alike), found
        by skip-scan of the cycles' primary key: one seek per arena, not a table scan."""
        names = self._rows(
            "WITH RECURSIVE d(v) AS (SELECT MIN(arena) FROM cycles"
            " UNION ALL SELECT (SELECT MIN(arena) FROM cycles WHERE arena > d.v)"
            " FROM d WHERE d.v IS NOT NULL)"
            " SELECT v FROM d WHERE v IS NOT NULL ORDER BY v LIMIT ? OFFSET ?",
            (page_limit(limit), max(0, int(offset))),
        )
        out = []
        for name in (r["v"] for r in names):
            span = self._rows(
                "SELECT COUNT(*) AS cycles, MIN(cycle) AS first_cycle, MAX(cycle) AS last_cycle"
                " FROM cycles WHERE arena = ?",
                (name,),
            )[0]
            ends = self._rows(
                "SELECT cycle, as_of FROM cycles WHERE arena = ? AND cycle IN (?, ?)",
                (name, span["first_cycle"], span["last_cycle"]),
            )
            as_of = {int(e["cycle"]): e["as_of"] for e in ends}
            out.append(
                {
                    "arena": name,
                    "cycles": int(span["cycles"]),
                    "first_cycle": int(span["first_cycle"]),
                    "last_cycle": int(span["last_cycle"]),
                    "first_as_of": as_of.get(int(span["first_cycle"])),
                    "last_as_of": as_of.get(int(span["last_cycle"])),
                }
            )
        return out

    def watermarks(self) -> dict[str, int]:
        """Each arena's last recorded cycle: the live stream's cheap change detector."""
        rows = self._rows("SELECT arena, MAX(cycle) AS last FROM cycles GROUP BY arena")
        return {r["arena"]: int(r["last"]) for r in rows}

    # cycles, and every row of a range of cycles (the live stream)

    def cycle_rows(self, arena: str, after: int, upto: int) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT * FROM cycles WHERE arena = ? AND cycle > ? AND cycle <= ? ORDER BY cycle",
            (arena, after, upto),
        )
        return [plain(r) for r in rows]

    def logs_between(
        self, arena: str, after: int, upto: int, kinds: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        marks = ", ".join("?" * len(kinds))
        rows = self._rows(
            "SELECT id, cycle, agent, kind, seq, content FROM agent_logs"
            f" WHERE arena = ? AND cycle > ? AND cycle <= ? AND kind IN ({marks})"
            " ORDER BY cycle, id",
            (arena, after, upto, *kinds),
        )
        return [plain(r) for r in rows]

    def trades_between(self, arena: str, after: int, upto: int) -> list[dict[str, Any]]:
        """Orders placed in (after, upto], and earlier orders booked (filled, or ended) in
        it: a row keeps its placement `cycle` and gains `booked_cycle`."""
        placed = self._rows(
            "SELECT * FROM trades WHERE arena = ? AND cycle > ? AND cycle <= ?",
            (arena, after, upto),
        )
        booked = self._rows(
            "SELECT * FROM trades WHERE arena = ? AND booked_cycle > ? AND booked_cycle <= ?"
            " AND cycle <= ?",
            (arena, after, upto, after),
        )
        rows = sorted(placed + booked, key=lambda r: (int(r["cycle"]), int(r["id"])))
        return [plain(r) for r in rows]

    def snapshots_between(self, arena: str, after: int, upto: int) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT * FROM portfolio_snapshots WHERE arena = ? AND cycle > ? AND cycle <= ?"
            " ORDER BY cycle, account",
            (arena, after, upto),
        )
        return [plain(r) for r in rows]

    # the equity chart

    def equity_series(self, arena: str, points: int = 500) -> dict[str, Any]:
        """Every account's equity and the benchmark's close, at most about `points` cycles.

        Long runs are downsampled to every k-th cycle, always keeping the first and the
        last, so the chart's ends are exact and the response size is bounded. The series
        is kept until the arena's last cycle changes: every page opened between two
        cycles shares one read.
        """
        last = self._last(arena)
        key = (arena, points)
        seen = self._equity_seen.get(key)
        if last is not None and seen is not None and seen[:2] == last:
            return seen[2]
        series = self._equity_series(arena, points)
        if last is not None and series["cycles"] and series["cycles"][-1] == last[0]:
            if len(self._equity_seen) > 64:
                self._equity_seen.clear()
            self._equity_seen[key] = (*last, series)
        return series

    def _equity_series(self, arena: str, points: int) -> dict[str, Any]:
        span = self._rows(
            "SELECT MIN(cycle) AS first, MAX(cycle) AS last FROM cycles WHERE arena = ?",
            (arena,),
        )[0]
        if span["last"] is None:
            return {"step": 1, "cycles": [], "as_of": [], "equity": {}, "benchmark": None}
        first, last = int(span["first"]), int(span["last"])
        step = max(1, -(-(last - first + 1) // max(2, int(points))))
        # Every step-th cycle number and both ends, read by key (primary key seeks).
        keep = sorted({first, last, *range(first - first % step + step, last, step)})
        marks = ", ".join("?" * len(keep))
        cycles = self._rows(
            f"SELECT * FROM cycles WHERE arena = ? AND cycle IN ({marks}) ORDER BY cycle",
            (arena, *keep),
        )
        snaps = self._rows(
            "SELECT cycle, account, equity FROM portfolio_snapshots"
            f" WHERE arena = ? AND cycle IN ({marks}) ORDER BY cycle, account",
            (arena, *keep),
        )
        index = {int(c["cycle"]): i for i, c in enumerate(cycles)}
        equity: dict[str, list[str | None]] = {}
        for s in snaps:
            series = equity.setdefault(s["account"], [None] * len(cycles))
            i = index.get(int(s["cycle"]))
            if i is not None:
                series[i] = str(s["equity"])
        symbol = next(
            (c.get("benchmark_symbol") for c in cycles if c.get("benchmark_symbol")), None
        )
        closes = [c.get("benchmark_close") for c in cycles]
        benchmark = (
            {"symbol": symbol, "close": [None if v is None else str(v) for v in closes]}
            if any(v is not None for v in closes)
            else None
        )
        return {
            "step": step,
            "cycles": [int(c["cycle"]) for c in cycles],
            "as_of": [c["as_of"] for c in cycles],
            "equity": dict(sorted(equity.items())),
            "benchmark": benchmark,
        }
