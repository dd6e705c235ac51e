"""The rows the evidence reads (issue 17), by the same three queries for the store (the
CLI, the backtest report) and the dashboard's reader: the LLM bill per cycle, the order
legs that filled, and the DECISION logs of the cycles in which an account's BUY filled
(the only decisions a closed trade's stated confidence or vote comes from)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from mytrader.adapters.store.cycles import TRADE_COLUMNS
from mytrader.adapters.store.dialect import Row
from mytrader.domain.records import CostRow, EvidenceRows, LogRow, TradeRow

Rows = Callable[[str, Sequence[object]], list[Row]]

COSTS = (
    "SELECT u.cycle, c.as_of, u.agent, u.cost_usd FROM llm_usage u"
    " JOIN cycles c ON c.arena = u.arena AND c.cycle = u.cycle"
    " WHERE u.arena = ? AND u.cost_usd <> ? ORDER BY u.cycle, u.agent"
)
FILLS = (
    f"SELECT {', '.join(TRADE_COLUMNS)} FROM trades"
    " WHERE arena = ? AND filled_qty > 0 ORDER BY cycle, id"
)
DECISIONS = (
    "SELECT l.arena, l.cycle, l.agent, l.kind, l.content FROM agent_logs l"
    " WHERE l.arena = ? AND l.kind = 'DECISION' AND EXISTS (SELECT 1 FROM trades t"
    " WHERE t.arena = l.arena AND t.account = l.agent AND t.cycle = l.cycle"
    " AND t.side = 'buy' AND t.filled_qty > 0) ORDER BY l.cycle, l.id"
)


def evidence_rows(rows: Rows, dialect: str, arena: str) -> EvidenceRows:
    # SQLite keeps money as TEXT: compare with the text of zero, not a number.
    zero: object = "0" if dialect == "sqlite" else Decimal("0")
    return EvidenceRows(
        costs=[
            CostRow(
                cycle=int(r["cycle"]),
                as_of=str(r["as_of"]),
                agent=str(r["agent"]),
                cost_usd=Decimal(str(r["cost_usd"])),
            )
            for r in rows(COSTS, (arena, zero))
        ],
        fills=[TradeRow.model_validate(r) for r in rows(FILLS, (arena,))],
        decisions=[LogRow.model_validate(r) for r in rows(DECISIONS, (arena,))],
    )
