"""The dashboard's lists, newest first, a page at a time (keyset cursors through the
one `where` helper), each agent's latest entry, and one row in full."""

from __future__ import annotations

from typing import Any

from mytrader.adapters.store.filters import page_limit, where
from mytrader.adapters.store.read_session import ReadSession, plain


class PagedReads(ReadSession):
    """Keyset-paged lists, newest first: `before` is the last row's (cycle, id) or
    (cycle, agent), the cursor of the next page."""

    def trades_page(
        self,
        arena: str,
        *,
        account: str | None = None,
        status: str | None = None,
        before: tuple[int, int] | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        clause, params = where(arena, account=account, status=status, before=before)
        # (cycle, id) order: the order of the (arena, cycle, id) index, so a page is a seek.
        rows = self._rows(
            f"SELECT * FROM trades{clause} ORDER BY cycle DESC, id DESC LIMIT ?",
            (*params, page_limit(limit)),
        )
        return [plain(r) for r in rows]

    def logs_page(
        self,
        arena: str,
        *,
        agent: str | None = None,
        kind: str | None = None,
        before: tuple[int, int] | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        clause, params = where(arena, agent=agent, kind=kind, before=before)
        rows = self._rows(
            "SELECT id, arena, cycle, agent, kind, seq, content, created_at FROM agent_logs"
            f"{clause} ORDER BY cycle DESC, id DESC LIMIT ?",
            (*params, page_limit(limit)),
        )
        return [plain(r) for r in rows]

    def latest_logs(self, arena: str, kind: str) -> list[dict[str, Any]]:
        """Each agent's last entry of `kind` (by agent), one index seek per agent."""
        latest = []
        for agent in self._distinct("agent_logs", "agent", arena):
            # MAX over the (arena, agent, kind, cycle) index is one seek on either backend,
            # whatever the planner's statistics; then that cycle's entries by unique key.
            top = self._rows(
                "SELECT MAX(cycle) AS cycle FROM agent_logs"
                " WHERE arena = ? AND agent = ? AND kind = ?",
                (arena, agent, kind),
            )[0]["cycle"]
            if top is None:
                continue
            rows = self._rows(
                "SELECT id, cycle, agent, kind, seq, content FROM agent_logs"
                " WHERE arena = ? AND cycle = ? AND agent = ? AND kind = ? ORDER BY seq",
                (arena, top, agent, kind),
            )
            latest += rows[-1:]
        return [plain(r) for r in latest]

    def usage_page(
        self,
        arena: str,
        *,
        agent: str | None = None,
        before: tuple[int, str] | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Per agent and cycle, newest cycle first; `before` is the last row's (cycle, agent)."""
        clause, params = where(arena, agent=agent, before=before, tiebreak="agent >")
        rows = self._rows(
            f"SELECT * FROM llm_usage{clause} ORDER BY cycle DESC, agent LIMIT ?",
            (*params, page_limit(limit)),
        )
        return [plain(r) for r in rows]

    # one row in full (the dashboard's lists cut long texts and point here)

    def log_entry(self, log_id: int) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT id, arena, cycle, agent, kind, seq, content, created_at FROM agent_logs"
            " WHERE id = ?",
            (log_id,),
        )
        return plain(rows[0]) if rows else None

    def trade_row(self, trade_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM trades WHERE id = ?", (trade_id,))
        return plain(rows[0]) if rows else None
