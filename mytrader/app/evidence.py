"""The evidence of an arena (or a backtest run), from its tables: one function, `arena_evidence`,
behind `mytrader leaderboard` (and `--json`), the dashboard's `/api/evidence` and the
backtest report. The statistics are the domain's (`domain.evidence`); this module reads
the rows they need and applies the rules that turn rows into their inputs:

- Days. A point per account per date: the last snapshot of each date (`as_of[:10]`), so
  a live arena cycling several times a day still gives daily returns; offline a cycle is
  a day. SPY: the benchmark close the record step kept, the last of each date.
- The LLM bill. Each persona's cumulative `llm_usage.cost_usd` up to and including each
  date, as cost points; the collaborative account pays for nothing of its own (its
  decisions are the personas' stances, billed to the personas). Usage of an agent that
  is not an account of the arena is left out.
- Closed trades. A SELL leg that filled with a realized P&L closes a trade; it won when
  that P&L is above 0. Its stated confidence is that of the decision that opened the
  position: the latest filled BUY of the same account and symbol placed in that cycle or
  before, and the account's DECISION log of that cycle (a persona's `confidence`; for the
  collaborative account the vote's conviction). A stop-loss or take-profit exit counts
  like a decided SELL: the confidence was stated when the position was bought. A closed
  trade whose opening BUY is not in the arena (or has no DECISION log) is left out of
  calibration.
- Attribution. Each closed trade of the collaborative account is attributed to the voters
  of the vote that opened its position: the agents that agreed on the winning option,
  each with its vote weight and its conviction on that symbol (`VoteResult.convictions`;
  for votes recorded before it existed, the vote's weighted mean conviction). A closed
  trade with no such vote stays "unattributed". The split is `evidence_trades.split_pnl`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from mytrader.domain.evidence import (
    COLLABORATIVE,
    Evidence,
    EvidenceParams,
    Point,
    evidence_of,
)
from mytrader.domain.evidence_trades import ClosedTrade, VotedTrade, Voter
from mytrader.domain.records import CostRow, EvidenceRows, LogRow, Snapshot, TradeRow

__all__ = [
    "EvidenceReads",
    "arena_evidence",
    "closed_trades",
    "cost_curves",
    "daily_curves",
    "evidence_from",
]


class EvidenceReads(Protocol):
    """What the evidence reads: the arena store, or the dashboard's reader."""

    def snapshots(self, arena: str) -> list[Snapshot]: ...

    def benchmark_closes(self, arena: str) -> list[tuple[str, Decimal]]: ...

    def evidence_rows(self, arena: str) -> EvidenceRows: ...


def arena_evidence(
    reads: EvidenceReads,
    arena: str,
    accounts: Sequence[str] | None = None,
    params: EvidenceParams | None = None,
    collaborative: str = COLLABORATIVE,
) -> Evidence:
    """The evidence of every account of `arena` (only `accounts` when given: a roster),
    the collaborative one included, and SPY over the same days."""
    return evidence_from(
        reads.snapshots(arena),
        reads.benchmark_closes(arena),
        reads.evidence_rows(arena),
        accounts=accounts,
        params=params,
        collaborative=collaborative,
    )


def evidence_from(
    snapshots: Sequence[Snapshot],
    closes: Sequence[tuple[str, Decimal]],
    rows: EvidenceRows,
    *,
    accounts: Sequence[str] | None = None,
    params: EvidenceParams | None = None,
    collaborative: str = COLLABORATIVE,
) -> Evidence:
    """`arena_evidence` on rows already read."""
    curves = daily_curves(snapshots)
    if accounts is not None:
        curves = {a: c for a, c in curves.items() if a in set(accounts)}
    spy = _by_day((as_of, close) for as_of, close in closes)
    costs = cost_curves(rows.costs, [a for a in curves if a != collaborative])
    trades, votes = closed_trades(rows.fills, rows.decisions, collaborative)
    return evidence_of(
        curves,
        spy=spy or None,
        costs=costs,
        trades={a: t for a, t in trades.items() if a in curves},
        votes=votes if collaborative in curves else None,
        collaborative=collaborative,
        params=params,
    )


# --- curves ------------------------------------------------------------------------------


def _by_day(points: Iterable[tuple[str, Decimal]]) -> list[Point]:
    """One point per date, the last of the date, in date order."""
    last: dict[str, Decimal] = {}
    for as_of, value in points:
        last[as_of[:10]] = value
    return [Point(day=day, value=value) for day, value in sorted(last.items())]


def daily_curves(snapshots: Sequence[Snapshot]) -> dict[str, list[Point]]:
    """Each account's equity, the last snapshot of each date."""
    by_account: dict[str, list[tuple[str, Decimal]]] = {}
    for s in sorted(snapshots, key=lambda s: (s.cycle, s.account)):
        by_account.setdefault(s.account, []).append((s.as_of, s.equity))
    return {a: _by_day(points) for a, points in sorted(by_account.items())}


def cost_curves(rows: Sequence[CostRow], accounts: Sequence[str]) -> dict[str, list[Point]]:
    """Each account's cumulative LLM cost at the end of each date it paid something."""
    wanted = set(accounts)
    out: dict[str, list[tuple[str, Decimal]]] = {}
    totals: dict[str, Decimal] = {}
    for r in sorted(rows, key=lambda r: (r.cycle, r.agent)):
        if r.agent not in wanted:
            continue
        totals[r.agent] = totals.get(r.agent, Decimal(0)) + r.cost_usd
        out.setdefault(r.agent, []).append((r.as_of, totals[r.agent]))
    return {a: _by_day(points) for a, points in sorted(out.items())}


# --- closed trades, their stated confidence and their voters --------------------------------


def _decision(content: str) -> dict[str, Any]:
    try:
        found = json.loads(content)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _confidence(log: dict[str, Any]) -> int | None:
    decision = log.get("decision")
    value = decision.get("confidence") if isinstance(decision, dict) else None
    return value if isinstance(value, int) and 0 <= value <= 100 else None


def _voters(log: dict[str, Any]) -> list[Voter]:
    weights, convictions = log.get("weights") or {}, log.get("convictions") or {}
    fallback = _confidence(log) or 0
    return [
        Voter(
            persona=a,
            weight=Decimal(int(weights.get(a, 1))),
            conviction=Decimal(int(convictions.get(a, fallback))),
        )
        for a in sorted(set(log.get("agreeing") or []))
    ]


def closed_trades(
    fills: Sequence[TradeRow], decisions: Sequence[LogRow], collaborative: str = COLLABORATIVE
) -> tuple[dict[str, list[ClosedTrade]], list[VotedTrade]]:
    """The closed trades per account with the confidence stated when their position was
    opened, and the collaborative account's with the voters of that opening vote."""
    logs = {(d.agent, d.cycle): _decision(d.content) for d in decisions}
    opened: dict[tuple[str, str], int] = {}  # (account, symbol) -> cycle of the last BUY
    trades: dict[str, list[ClosedTrade]] = {}
    votes: list[VotedTrade] = []
    # Placement order; a BUY placed in the cycle of a SELL counts as before it only if
    # it is listed before it (the store's id order).
    for t in fills:
        key = (t.account, t.symbol)
        if t.side == "buy":
            opened[key] = t.cycle
            continue
        if t.realized_pnl is None:
            continue
        at = opened.get(key)
        log = logs.get((t.account, at)) if at is not None else None
        stated = _confidence(log) if log else None
        if stated is not None:
            trades.setdefault(t.account, []).append(
                ClosedTrade(confidence=stated, won=t.realized_pnl > 0, pnl=t.realized_pnl)
            )
        if t.account == collaborative:
            votes.append(
                VotedTrade(
                    ref=f"{t.symbol} {t.as_of[:10]}",
                    pnl=t.realized_pnl,
                    voters=_voters(log) if log else [],
                )
            )
    return dict(sorted(trades.items())), votes
