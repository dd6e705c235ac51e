"""The arena's cycle as one LangGraph state machine.

START -> screener -> critique (personas due one) -> agent (every persona) -> vote
      -> executor -> record -> END

The screener fans out with Send, one branch per persona. When no critique is due, every
persona goes straight to `agent`. When one is due, every persona goes to `critique`: a
due persona critiques itself there and is handed on to `agent` with its fresh note; the
others pass through without a call. So all decisions are taken in one step and `vote`
runs once, after all of them (LangGraph joins the parallel branches of one step; a
branch that decided a step later would trigger the vote twice).
"""

from __future__ import annotations

from collections.abc import Callable

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from mytrader.graph.context import ArenaContext, ArenaServices, context_schema
from mytrader.graph.nodes.agent import make_agent
from mytrader.graph.nodes.critique import make_critique, task_due
from mytrader.graph.nodes.executor import make_executor
from mytrader.graph.nodes.record import make_record, spent_on
from mytrader.graph.nodes.screener import make_screener
from mytrader.graph.nodes.vote import make_vote
from mytrader.graph.state import AgentTask, ArenaInput, ArenaState

GRAPH_NAME = "mytrader"
ArenaGraph = CompiledStateGraph[ArenaState, ArenaContext, ArenaInput, ArenaState]


def make_fan_out(
    services: ArenaServices,
) -> Callable[[ArenaState, Runtime[ArenaContext]], list[Send] | str]:
    def fan_out(state: ArenaState, runtime: Runtime[ArenaContext]) -> list[Send] | str:
        """One Send per persona with plain data only (the payload is checkpointed)."""
        if state.get("status") != "trading":
            return END
        knobs = services.knobs(runtime)
        books, critiques = state["books"], state.get("critiques") or {}
        spend, day = state.get("spend") or {}, (state["as_of"] or "")[:10]
        tasks = [
            AgentTask(
                agent=persona,
                cycle=state["cycle"],
                as_of=state["as_of"] or "",
                market=state["market"] or {},
                book=books[persona],
                critique=critiques.get(persona),
                spent_today=spent_on(spend.get(persona), day),
            )
            for persona in knobs.personas
        ]
        first = "critique" if any(task_due(t, knobs) for t in tasks) else "agent"
        return [Send(first, t) for t in tasks]

    return fan_out


def build_builder(services: ArenaServices) -> StateGraph[ArenaState, ArenaContext, ArenaInput]:
    """All nodes and edges, no persistence: callers compile with their own checkpointer.

    The context schema is ArenaContext with the services' context (the settings') as its
    defaults: Studio shows them, and a run that overrides one field keeps the others."""
    builder = StateGraph(
        ArenaState, context_schema=context_schema(services.context), input_schema=ArenaInput
    )
    builder.add_node("screener", make_screener(services))
    # critique ends in a Send to agent (Command): `destinations` draws that edge.
    builder.add_node("critique", make_critique(services), destinations=("agent",))
    builder.add_node("agent", make_agent(services))
    builder.add_node("vote", make_vote(services))
    builder.add_node("executor", make_executor(services))
    builder.add_node("record", make_record(services))
    builder.add_edge(START, "screener")
    builder.add_conditional_edges("screener", make_fan_out(services), ["critique", "agent", END])
    builder.add_edge("agent", "vote")
    builder.add_edge("vote", "executor")
    builder.add_edge("executor", "record")
    builder.add_edge("record", END)
    return builder
