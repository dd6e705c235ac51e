"""vote: the collaborative account trades what the ensemble supports, on its own book.

Every agent states a stance (BUY, SELL or HOLD, with a conviction 0-100) on every symbol
of the cycle's shortlist. Per symbol, each option's support is the summed weight of the
agents taking it; an option wins only with strictly more than half of the total weight
(integers: ties are exact, and a tie is HOLD).

Weights. *Majority*: 1 per agent. *Weighted*: from each agent's trailing return over the
last VOTE_WINDOW cycles (its equity now over its equity then, kept in the state as a
bounded list). Agent i clearly beats agent j when its trailing return is higher by at
least VOTE_EDGE_PCT points; its weight is 2 ** (number of agents it clearly beats). So
agents within the edge of each other weigh the same (the majority rule), and an agent
that clearly beats everyone outweighs all the others together (2**(n-1) > 2**(n-1) - 1).

Among the winning options the collaborative account takes one per cycle: a SELL of a
symbol it holds first (it sells all of it), else the BUY with the largest
weight x conviction (ties: alphabetical), sized on its own book: the largest quantity
its cash pays at the BUY limit price plus the fee within the position cap (also at the
limit price), times the supporters' weighted mean conviction; what the account's open
orders commit is not counted twice. Never refused for what the
other agents could afford. Same inputs, same result: integers, sorted iteration.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from langgraph.runtime import Runtime

from mytrader.domain.book import Book
from mytrader.domain.limits import RiskLimits, VoteMode
from mytrader.domain.models import (
    COLLABORATIVE,
    AgentDecision,
    Decision,
    MarketView,
    PendingOrder,
    Stance,
    VoteResult,
)
from mytrader.domain.money import CENT, HUNDRED, ZERO
from mytrader.domain.records import LogEntry
from mytrader.domain.risk import Reserved, exit_legs, max_buy_qty
from mytrader.domain.stances import default_stances
from mytrader.graph.context import ArenaContext, ArenaServices, StateNode
from mytrader.graph.state import ArenaState
from mytrader.graph.typed import shared, shared_list

Mode = VoteMode


# --- weights -----------------------------------------------------------------------------


def trailing_return_pct(equities: Sequence[Decimal]) -> Decimal:
    """Return over the kept window, in percent (0 until there are two marks)."""
    if len(equities) < 2 or equities[0] <= 0:
        return ZERO
    return (equities[-1] / equities[0] - 1) * HUNDRED


def track_weights(
    track: Mapping[str, Sequence[Decimal]], edge_pct: Decimal
) -> tuple[dict[str, int], dict[str, Decimal]]:
    """Weights 2 ** (agents clearly beaten), and the trailing returns they come from."""
    returns = {a: trailing_return_pct(track[a]) for a in sorted(track)}

    def beats(a: str, b: str) -> bool:
        diff = returns[a] - returns[b]
        return diff > 0 and diff >= edge_pct

    weights = {a: 2 ** sum(beats(a, b) for b in returns if b != a) for a in returns}
    return weights, returns


def extend_track(
    track: Mapping[str, Sequence[str]], equities: Mapping[str, Decimal], window: int
) -> dict[str, list[str]]:
    """Each agent's marks with this cycle's equity appended, the last window+1 kept."""
    return {a: [*(track.get(a) or []), str(equities[a])][-(window + 1) :] for a in sorted(equities)}


# --- tally -------------------------------------------------------------------------------


def tally_stances(
    stances: Mapping[str, Mapping[str, Stance]], weights: Mapping[str, int]
) -> dict[str, int]:
    """ "BUY X" / "SELL X" -> summed weight of the agents with that stance (HOLD omitted)."""
    tally: dict[str, int] = {}
    for agent in sorted(stances):
        for sym, stance in sorted(stances[agent].items()):
            if stance.stance != "HOLD":
                key = f"{stance.stance} {sym}"
                tally[key] = tally.get(key, 0) + weights[agent]
    return tally


@dataclass(frozen=True)
class Winner:
    action: Literal["BUY", "SELL"]
    symbol: str
    support: int  # summed weight
    strength: int  # summed weight x conviction: orders the winners
    conviction: int  # supporters' weighted mean conviction (floored)
    agents: tuple[str, ...]


def winners(
    stances: Mapping[str, Mapping[str, Stance]], weights: Mapping[str, int]
) -> list[Winner]:
    """Options with strictly more than half of the total weight, strongest first."""
    total = sum(weights[a] for a in stances)
    out = []
    for key, support in tally_stances(stances, weights).items():
        if 2 * support <= total:  # a tie or less is no majority
            continue
        action, sym = key.split(" ", 1)
        agents = tuple(a for a in sorted(stances) if _stance_of(stances[a], sym) == action)
        strength = sum(weights[a] * stances[a][sym].conviction for a in agents)
        out.append(
            Winner(action, sym, support, strength, strength // support, agents)  # type: ignore[arg-type]
        )
    # SELLs first (risk off), then by strength; ties alphabetical.
    return sorted(out, key=lambda w: (w.action != "SELL", -w.strength, w.symbol))


def _stance_of(stances: Mapping[str, Stance], sym: str) -> str:
    stance = stances.get(sym)
    return stance.stance if stance else "HOLD"


# --- sizing ------------------------------------------------------------------------------


def affordable_qty(
    book: Book,
    symbol: str,
    prices: Mapping[str, Decimal],
    limits: RiskLimits,
    reserved: Reserved | None = None,
) -> int:
    """The largest BUY the risk gate lets through (`risk.max_buy_qty`), on the cash and
    the position the book's open orders leave: what they commit is not counted twice."""
    reserved = reserved or Reserved()
    price = prices.get(symbol)
    if price is None:
        return 0
    return max_buy_qty(
        cash=book.cash - reserved.cash,
        price=price,
        equity=book.equity(dict(prices)),
        held=book.qty(symbol) + reserved.buy_qty.get(symbol, 0),
        limits=limits,
    )


def sellable_qty(
    book: Book, symbol: str, prices: Mapping[str, Decimal], limits: RiskLimits, reserved: Reserved
) -> int:
    """Shares held and not committed: open sells and this cycle's stop-loss/take-profit
    exits (the executor places those first) take theirs."""
    exiting = {leg.symbol for leg in exit_legs(book, dict(prices), limits)}
    if symbol in exiting:
        return 0
    return max(0, book.qty(symbol) - reserved.sell_qty.get(symbol, 0))


def collaborative_order(
    found: Iterable[Winner],
    book: Book,
    prices: Mapping[str, Decimal],
    limits: RiskLimits,
    reserved: Reserved | None = None,
) -> tuple[Winner, int] | None:
    """The first winning option the collaborative book can act on, and its quantity."""
    reserved = reserved or Reserved()
    for w in found:
        if w.action == "SELL":
            held = sellable_qty(book, w.symbol, prices, limits, reserved)
            if held > 0:
                return w, held
            continue
        most = affordable_qty(book, w.symbol, prices, limits, reserved)
        if most >= 1:
            return w, max(1, most * w.conviction // 100)
    return None


# --- the vote ----------------------------------------------------------------------------


def tally_votes(
    stances: Mapping[str, Mapping[str, Stance]],
    weights: Mapping[str, int],
    mode: Mode,
    *,
    book: Book,
    prices: Mapping[str, Decimal],
    limits: RiskLimits,
    returns: Mapping[str, Decimal] | None = None,
    reserved: Reserved | None = None,
) -> VoteResult:
    used = {a: (weights.get(a, 1) if mode == "weighted" else 1) for a in sorted(stances)}
    tally = tally_stances(stances, used)
    total = sum(used.values())
    shown = {a: str(r.quantize(CENT)) for a, r in (returns or {}).items()}
    found = winners(stances, used)
    picked = collaborative_order(found, book, prices, limits, reserved)
    if picked is None:
        reason = "no majority" if not found else "no winning option the book can act on"
        return VoteResult(
            mode=mode,
            decision=Decision.hold(reason),
            weights=used,
            tally=tally,
            total=total,
            returns=shown,
            reason=reason,
        )
    w, qty = picked
    reasoning = f"{', '.join(w.agents)} support {w.action} {w.symbol} ({w.support} of {total})"
    decision = Decision(
        decision=w.action,
        symbol=w.symbol,
        quantity=qty,
        confidence=w.conviction,
        reasoning=reasoning,
    )
    return VoteResult(
        mode=mode,
        decision=decision,
        weights=used,
        tally=tally,
        total=total,
        returns=shown,
        agreeing=list(w.agents),
        convictions={a: stances[a][w.symbol].conviction for a in w.agents},
        reason=reasoning,
    )


def agent_stances(
    given: Mapping[str, Any], personas: Sequence[str], shortlist: Iterable[str]
) -> dict[str, dict[str, Stance]]:
    """Each agent's stance map; an agent without a decision (or stances) is its decision."""
    symbols = sorted(set(shortlist))
    out = {}
    for agent in personas:
        if agent not in given:
            out[agent] = default_stances(Decision.hold("no decision"), symbols)
            continue
        result = shared(AgentDecision, given[agent])
        base = default_stances(result.decision, symbols)
        out[agent] = {**base, **{s: result.stances[s] for s in symbols if s in result.stances}}
    return out


def committed(pending: Iterable[PendingOrder], fee: Decimal) -> Reserved:
    """What the collaborative account's open orders commit, as the executor will see it
    when it acts on the vote: a SELL first cancels the account's protective order on that
    symbol (protective.release), so those hold no shares against the vote's SELL (they
    would otherwise hold all of them, and the account could never sell by vote)."""
    return Reserved.of(
        (
            p
            for p in pending
            if p.order.account == COLLABORATIVE and p.order.is_open and p.order.purpose != "protect"
        ),
        fee,
    )


def make_vote(services: ArenaServices) -> StateNode:
    def vote(state: ArenaState, runtime: Runtime[ArenaContext]) -> dict[str, Any]:
        knobs = services.knobs(runtime)
        rule, personas = knobs.vote_rule, knobs.personas
        view = shared(MarketView, state["market"])
        prices = {s: v.price for s, v in view.symbols.items()}
        books = {a: shared(Book, state["books"][a]) for a in knobs.accounts}
        # This cycle's mark joins each agent's record before the weights are read.
        track = extend_track(
            state.get("track") or {},
            {a: books[a].equity(prices) for a in personas},
            rule.window,
        )
        weights, returns = track_weights(
            {a: [Decimal(e) for e in track[a]] for a in personas}, rule.edge_pct
        )
        stances = agent_stances(state.get("decisions") or {}, personas, view.symbols)
        pending = shared_list(PendingOrder, state.get("pending"))
        reserved = committed(pending, knobs.fee_per_trade)
        result = tally_votes(
            stances,
            weights,
            rule.mode,
            book=books[COLLABORATIVE],
            prices=prices,
            limits=knobs.limits,
            returns=returns if rule.mode == "weighted" else None,
            reserved=reserved,
        )
        # The vote is the collaborative account's DECISION log: who took which stance
        # (HOLDs left out), the weights and the tally, for the dashboard.
        votes = {
            a: ", ".join(
                f"{st.stance} {sym} ({st.conviction})"
                for sym, st in sorted(stances[a].items())
                if st.stance != "HOLD"
            )
            or "HOLD"
            for a in personas
        }
        content = json.dumps({**result.model_dump(mode="json"), "votes": votes})
        entry = LogEntry(agent=COLLABORATIVE, kind="DECISION", content=content)
        return {
            "vote": result.model_dump(mode="json"),
            "track": track,
            "logs": [entry.model_dump(mode="json")],
        }

    return vote
