"""critique: one persona's self-critique, as its own node, when it is due.

It is due when the persona's trade count has grown by CRITIQUE_INTERVAL since its last
critique. In a cycle where some persona's critique is due, the screener's fan-out sends
every persona here (one branch each, in parallel); a due persona asks the critique
prompt, keeps the answer as its critique note, and is handed on to `agent` (a Send
carrying the fresh note and the call's usage), so the decision that follows reads it. A
persona not due passes straight on, without a call. So a cycle with critiques due costs
one critique call plus one decision call per agent, in parallel across agents.

A failed critique call keeps the old note and the turn goes on to its decision.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from langchain_core.runnables import RunnableLambda
from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.runtime import Runtime, get_runtime
from langgraph.types import Command, Send

from mytrader.domain.book import Book
from mytrader.domain.models import CritiqueNote, MarketView
from mytrader.domain.parsing import strip_thinking
from mytrader.domain.records import LogEntry, Usage
from mytrader.domain.text import scrub_secrets
from mytrader.graph.context import ArenaContext, ArenaServices, TaskNode
from mytrader.graph.nodes.agent import UsageMeter, call_config, listening, over_budget, text_of
from mytrader.graph.state import AgentTask
from mytrader.graph.typed import shared
from mytrader.prompts import critique_messages, critique_payload

log = logging.getLogger(__name__)


def trades_since(book: Book, note: CritiqueNote | None) -> int:
    return book.trades - (note.trades_at if note else 0)


def critique_due(book: Book, note: CritiqueNote | None, interval: int) -> bool:
    return trades_since(book, note) >= interval


def task_due(task: AgentTask, knobs: ArenaContext) -> bool:
    """Whether this persona's turn starts with a critique (and its budget allows a call)."""
    note = task.get("critique")
    due = critique_due(
        shared(Book, task["book"]),
        shared(CritiqueNote, note) if note else None,
        knobs.critique_interval,
    )
    return due and over_budget(knobs, task["agent"], Decimal(task["spent_today"])) is None


def run_critique(services: ArenaServices, knobs: ArenaContext, task: AgentTask) -> dict[str, Any]:
    """The critique call; the state update (note, logs) and the usage of the call."""
    agent, cycle = task["agent"], task["cycle"]
    model_id = knobs.model_id(agent)
    book = shared(Book, task["book"])
    view = shared(MarketView, task["market"])
    old = task.get("critique")
    note = shared(CritiqueNote, old) if old else None
    payload = critique_payload(
        agent=agent,
        cycle=cycle,
        view=view,
        book=book,
        critique=note,
        trades_since=trades_since(book, note),
    )
    messages = critique_messages(payload, agent, knobs.personas_dir)
    provider = knobs.provider(agent)
    meter = UsageMeter(agent, model_id, provider=provider)
    update: dict[str, Any] = {}
    try:
        answer = services.models[agent].invoke(
            messages, config=call_config(agent, "critique", model_id, cycle, provider)
        )
        meter.add(answer)
        text = strip_thinking(text_of(answer)).strip() or "(empty critique)"
        text = scrub_secrets(text, services.secrets)
        made = CritiqueNote(text=text, cycle=cycle, trades_at=book.trades)
        update["critiques"] = {agent: made.model_dump(mode="json")}
        fresh: CritiqueNote | None = made
    except GraphBubbleUp:
        raise
    except Exception as exc:  # a failed critique keeps the old note; the turn goes on
        text = f"critique failed: {type(exc).__name__}: {exc}"
        fresh = note
    # A provider's error may echo its key; the note and its log are kept and traced.
    entry = LogEntry(agent=agent, kind="CRITIQUE", content=scrub_secrets(text, services.secrets))
    update["logs"] = [entry.model_dump(mode="json")]
    return {"update": update, "note": fresh, "usage": meter.usage}


def make_critique(services: ArenaServices) -> TaskNode:
    def turn(task: AgentTask) -> Command[Any]:
        knobs = services.knobs(get_runtime(ArenaContext))
        try:
            done = run_critique(services, knobs, task)
        except GraphBubbleUp:
            raise
        except Exception as exc:  # a bug here must not cost the persona its decision
            log.exception("critique %s failed", task["agent"])
            text = scrub_secrets(f"critique failed: {exc!r}", services.secrets)
            entry = LogEntry(agent=task["agent"], kind="CRITIQUE", content=text)
            old = task.get("critique")
            done = {
                "update": {"logs": [entry.model_dump(mode="json")]},
                "note": CritiqueNote.model_validate(old) if old else None,
                "usage": Usage(agent=task["agent"], model=knobs.model_ids.get(task["agent"], "")),
            }
        note: CritiqueNote | None = done["note"]
        usage: Usage = done["usage"]
        kept = None if note is None else note.model_dump(mode="json")
        decide: AgentTask = {
            **task,
            "critique": kept,
            "usage": usage.model_dump(mode="json"),
        }
        return Command(update=done["update"], goto=Send("agent", decide))

    traced = RunnableLambda(turn)

    def critique(state: AgentTask, runtime: Runtime[ArenaContext]) -> Command[Any]:
        task = state
        knobs = services.knobs(runtime)
        if not task_due(task, knobs):  # nothing to review: on to the decision
            return Command(goto=Send("agent", task))
        if not listening(get_config()):
            return turn(task)
        # A run named after the persona inside the node, as in `agent`.
        name = task["agent"]
        model, provider = knobs.model_id(name), knobs.provider(name)
        result: Command[Any] = traced.invoke(
            task,
            config={
                "run_name": name,
                "tags": [f"agent:{name}", f"model:{model}", f"provider:{provider}", "critique"],
                "metadata": {
                    "agent": name,
                    "model": model,
                    "provider": provider,
                    "cycle": task["cycle"],
                },
            },
        )
        return result

    return critique
