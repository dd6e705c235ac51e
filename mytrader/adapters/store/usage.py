"""The models' usage: each agent's totals over an arena's cycles, summed in one place
(`add`) for the writer's full sum and the dashboard's incremental one.

Dollars are summed here, not in SQL: SUM over SQLite's TEXT money would go through floats.
"""

from __future__ import annotations

from decimal import Decimal

from mytrader.adapters.store.connection import Tables
from mytrader.adapters.store.cycles import USAGE_COLUMNS
from mytrader.domain.records import Usage


def add(
    totals: dict[str, Usage],
    agent: str,
    model: str,
    calls: int = 0,
    tokens_in: int = 0,
    tokens_out: int = 0,
    cost_usd: Decimal = Decimal("0"),
    *,
    provider: str | None = None,
    unmetered: int = 0,
) -> None:
    """Add one agent's part to `totals`; the model (and provider) is the latest part's."""
    total = totals.setdefault(agent, Usage(agent=agent, model=model))
    total.model = model
    total.provider = provider or total.provider
    total.unmetered += unmetered
    total.calls += calls
    total.tokens_in += tokens_in
    total.tokens_out += tokens_out
    total.cost_usd += cost_usd


class UsageTables(Tables):
    def usage(self, arena: str) -> dict[str, Usage]:
        """Each agent's totals over all cycles, with the model of its last cycle."""
        query = f"SELECT {', '.join(USAGE_COLUMNS)} FROM llm_usage WHERE arena = ? ORDER BY cycle"
        totals: dict[str, Usage] = {}
        with self._tx(write=False) as tx:
            rows = tx.rows(query, (arena,))
        for r in rows:
            add(
                totals,
                r["agent"],
                r["model"],
                r["calls"],
                r["tokens_in"],
                r["tokens_out"],
                Decimal(r["cost_usd"]),
                provider=r["provider"],
                unmetered=r["unmetered"] or 0,
            )
        return dict(sorted(totals.items()))
