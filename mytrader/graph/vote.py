"""vote: the collaborative account trades only what the agents agree on.

Majority mode: every agent has one vote. Weighted mode: an agent's vote weighs its
equity over its starting cash (1.0 at the start, 1.2 after +20 %), floored at 0.1 so a
losing agent still counts a little. An option (`BUY AAPL`, `SELL AAPL` or `HOLD`) wins
only with strictly more than half of all votes (or of the total weight); anything else,
ties included, is HOLD. Same inputs, same result: no randomness, sorted iteration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal

from mytrader.config import COLLABORATIVE, PERSONAS
from mytrader.graph.context import ArenaServices
from mytrader.state import AgentDecision, ArenaState, Book, Decision, MarketView, VoteResult
from mytrader.store.records import LogEntry

MIN_WEIGHT = 0.1


def option_of(decision: Decision) -> str:
    if decision.decision == "HOLD" or not decision.symbol:
        return "HOLD"
    return f"{decision.decision} {decision.symbol}"


def performance_weights(books: Mapping[str, Book], prices: dict[str, Decimal]) -> dict[str, float]:
    """Each agent's equity over its starting cash, floored at MIN_WEIGHT."""
    weights = {}
    for agent in sorted(books):
        book = books[agent]
        ratio = float(book.equity(prices) / book.starting_cash)
        weights[agent] = round(max(MIN_WEIGHT, ratio), 6)
    return weights


def tally_votes(
    decisions: Mapping[str, Decision],
    weights: Mapping[str, float],
    mode: Literal["majority", "weighted"],
) -> VoteResult:
    used = {a: (weights.get(a, 1.0) if mode == "weighted" else 1.0) for a in sorted(decisions)}
    tally: dict[str, float] = {}
    for agent, decision in sorted(decisions.items()):
        key = option_of(decision)
        tally[key] = round(tally.get(key, 0.0) + used[agent], 6)
    total = sum(used.values())
    winners = [k for k, v in tally.items() if v > total / 2]
    if not winners or winners[0] == "HOLD":
        reason = "no majority" if not winners else "majority holds"
        return VoteResult(
            mode=mode, decision=Decision.hold(reason), weights=used, tally=tally, reason=reason
        )
    key = winners[0]
    agreeing = [a for a, d in sorted(decisions.items()) if option_of(d) == key]
    agree_weight = sum(used[a] for a in agreeing)
    # Size: the agreeing agents' proposals, averaged by their weight (whole shares, >= 1).
    qty = sum(decisions[a].quantity * used[a] for a in agreeing) / agree_weight
    confidence = sum(decisions[a].confidence * used[a] for a in agreeing) / agree_weight
    action, symbol = key.split(" ", 1)
    decision = Decision(
        decision=action,  # type: ignore[arg-type]
        symbol=symbol,
        quantity=max(1, int(qty)),
        confidence=round(confidence),
        reasoning=f"{', '.join(agreeing)} agree ({tally[key]:g} of {total:g} votes)",
    )
    return VoteResult(
        mode=mode,
        decision=decision,
        weights=used,
        tally=tally,
        agreeing=agreeing,
        reason=decision.reasoning,
    )


def make_vote(services: ArenaServices) -> Callable[[ArenaState], dict[str, Any]]:
    mode = services.settings.vote_mode

    def vote(state: ArenaState) -> dict[str, Any]:
        view = MarketView.model_validate(state["market"])
        prices = {s: v.price for s, v in view.symbols.items()}
        books = {a: Book.model_validate(state["books"][a]) for a in PERSONAS}
        given = state.get("decisions") or {}
        # An agent without a decision this cycle votes HOLD: the denominator is all agents.
        decisions = {
            a: AgentDecision.model_validate(given[a]).decision
            if a in given
            else Decision.hold("no decision")
            for a in PERSONAS
        }
        result = tally_votes(decisions, performance_weights(books, prices), mode)
        # The vote is the collaborative account's DECISION log: who voted what, and weights.
        votes = {a: option_of(d) for a, d in decisions.items()}
        content = json.dumps({**result.model_dump(mode="json"), "votes": votes})
        entry = LogEntry(agent=COLLABORATIVE, kind="DECISION", content=content)
        return {"vote": result.model_dump(mode="json"), "logs": [entry.model_dump(mode="json")]}

    return vote
