"""Rows of the arena's tables, as the record node writes them and the CLI reads them."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from mytrader.domain.models import Benchmark, OrderResult, OutsideText, PendingOrder

LogKind = Literal["THOUGHT", "CRITIQUE", "DECISION"]


class LogEntry(BaseModel):
    agent: str
    kind: LogKind
    content: OutsideText


class Snapshot(BaseModel):
    """One account at the end of one cycle, marked at the cycle's prices."""

    account: str
    cycle: int
    as_of: str
    cash: Decimal
    positions_value: Decimal
    equity: Decimal
    realized_pnl: Decimal
    fees: Decimal
    trades: int
    wins: int
    losses: int
    starting_cash: Decimal
    positions: dict[str, int] = Field(default_factory=dict)


class Usage(BaseModel):
    """LLM tokens and cost of one agent in one cycle."""

    agent: str
    model: str
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal("0")
    # Where the model ran: "house", "openrouter" or a provider of PROVIDERS (None: unknown,
    # rows written before providers existed).
    provider: str | None = None
    # Calls whose answer carried no usage at all: their tokens and cost are unknown (not
    # counted in tokens_in, tokens_out and cost_usd), not zero.
    unmetered: int = 0


class CycleRecord(BaseModel):
    """Everything one cycle writes, in one transaction."""

    arena: str
    cycle: int
    as_of: str
    trades: list[OrderResult] = Field(default_factory=list)  # legs placed this cycle
    settled: list[PendingOrder] = Field(default_factory=list)  # earlier orders booked now
    benchmark: Benchmark | None = None
    logs: list[LogEntry] = Field(default_factory=list)
    snapshots: list[Snapshot] = Field(default_factory=list)
    usage: list[Usage] = Field(default_factory=list)


class TradeRow(OrderResult):
    arena: str
    cycle: int  # the cycle that placed the order
    as_of: str
    booked_cycle: int | None = None  # the cycle that booked its fills (or saw it end)


class LogRow(LogEntry):
    arena: str
    cycle: int


# --- heartbeats (unattended runs) ---
HeartbeatOutcome = Literal["running", "ok", "exhausted", "failed"]


class Heartbeat(BaseModel):
    """One cycle attempt: when it started and ended, how long it took, how it ended."""

    id: int
    arena: str
    cycle: int
    started_at: str
    ended_at: str | None = None
    duration_ms: int | None = None
    outcome: HeartbeatOutcome
    message: str = ""
    interval_s: int | None = None  # the scheduler's interval; None for a one-shot run
    next_at: str | None = None  # when the scheduler plans the next cycle
    pid: int | None = None


# --- evidence (issue 17): what the leaderboards' statistics read beyond the snapshots ---


class CostRow(BaseModel):
    """One agent's LLM cost in one cycle (a row of llm_usage that cost anything)."""

    cycle: int
    as_of: str
    agent: str
    cost_usd: Decimal


class EvidenceRows(BaseModel):
    """The LLM bill per cycle, every order leg that filled, and the DECISION logs of the
    cycles in which an account's BUY filled (its stated confidence, or the vote)."""

    costs: list[CostRow] = Field(default_factory=list)
    fills: list[TradeRow] = Field(default_factory=list)
    decisions: list[LogRow] = Field(default_factory=list)
