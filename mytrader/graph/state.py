"""The arena's graph state: what the checkpointer keeps between cycles.

Values are JSON-able dicts (pydantic models dumped in JSON mode) so checkpoints need no
custom serializer and Studio shows them as they are. Per-cycle fields are replaced by the
screener at the start of every cycle; long history goes to the database, not here, so a
checkpoint has the same size at cycle 10 and at cycle 10,000.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired

from typing_extensions import TypedDict


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer for per-agent maps written by the parallel agent branches."""
    return {**(left or {}), **(right or {})}


class ArenaInput(TypedDict, total=False):
    """What a caller may pass to start a cycle (Studio: nothing at all)."""

    note: str


class ArenaState(TypedDict, total=False):
    # Persistent across cycles.
    cycle: int  # cycles completed or in progress
    as_of: str | None  # the simulated (or real) now of the current cycle
    books: dict[str, dict[str, Any]]  # account -> Book (JSON); written by executor (and init)
    critiques: Annotated[dict[str, dict[str, Any]], merge_dicts]  # agent -> CritiqueNote
    spend: dict[str, dict[str, str]]  # agent -> {"day", "usd"}: LLM dollars spent that day
    track: dict[str, list[str]]  # agent -> its last VOTE_WINDOW+1 equities (vote weights)
    pending: list[dict[str, Any]]  # PendingOrder: at the broker, not fully booked yet
    broker_base: dict[str, Any] | None  # live: the account's part beyond the books (Base)

    # Per cycle: replaced by the screener every cycle.
    status: str  # "trading" | "exhausted"
    message: str
    market: dict[str, Any] | None  # MarketView
    decisions: Annotated[dict[str, dict[str, Any]], merge_dicts]  # agent -> AgentDecision
    usage: Annotated[dict[str, dict[str, Any]], merge_dicts]  # agent -> Usage
    logs: Annotated[list[dict[str, Any]], operator.add]  # LogEntry, written by agents
    vote: dict[str, Any] | None  # VoteResult
    orders: list[dict[str, Any]]  # OrderResult of every executor leg of this cycle
    settled: list[dict[str, Any]]  # PendingOrder of earlier cycles booked or ended now
    reconcile: list[str]  # live: differences between the books and the broker's account


class AgentTask(TypedDict):
    """The Send payload of one agent branch: plain data only (it is checkpointed)."""

    agent: str
    cycle: int
    as_of: str
    market: dict[str, Any]
    book: dict[str, Any]
    critique: dict[str, Any] | None
    spent_today: str  # LLM dollars this agent spent on this trading day so far
    usage: NotRequired[dict[str, Any]]  # Usage of this turn's critique call (critique node)
