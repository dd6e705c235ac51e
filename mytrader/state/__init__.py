"""Graph state and the typed models it holds."""

from mytrader.state.book import Book, BookError, Position, TradeOutcome
from mytrader.state.graph_state import AgentTask, ArenaInput, ArenaState
from mytrader.state.models import (
    AgentDecision,
    CritiqueNote,
    Decision,
    MarketView,
    Movers,
    OrderRequest,
    OrderResult,
    Stance,
    SymbolView,
    VoteResult,
)

__all__ = [
    "AgentDecision",
    "AgentTask",
    "ArenaInput",
    "ArenaState",
    "Book",
    "BookError",
    "CritiqueNote",
    "Decision",
    "MarketView",
    "Movers",
    "OrderRequest",
    "OrderResult",
    "Position",
    "Stance",
    "SymbolView",
    "TradeOutcome",
    "VoteResult",
]
