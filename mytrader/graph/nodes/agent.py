"""agent: one persona's turn: analyze and decide (its critique, when due, ran just before
in the `critique` node and arrives in the task).

Runs once per persona in parallel (Send). The model proposes; code validates: an
invalid answer gets one repair turn, then becomes a HOLD with the reason recorded.
A failing model (timeout, HTTP error, garbage) never fails the cycle, and every call's
usage is kept, whatever fails after it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.runtime import Runtime, get_runtime

from mytrader.domain.book import Book
from mytrader.domain.models import AgentDecision, CritiqueNote, Decision, MarketView, Stance
from mytrader.domain.parsing import DecisionParseError, parse_decision
from mytrader.domain.records import LogEntry, Usage
from mytrader.domain.stances import default_stances, parse_stances
from mytrader.domain.text import scrub_secrets
from mytrader.graph.context import ArenaContext, ArenaServices, TaskNode
from mytrader.graph.state import AgentTask
from mytrader.graph.typed import shared
from mytrader.prompts import decision_messages, decision_payload, repair_message

log = logging.getLogger(__name__)


class UsageMeter:
    """Adds up tokens and dollars of every model answer in one agent turn."""

    def __init__(
        self, agent: str, model: str, start: Usage | None = None, provider: str | None = None
    ) -> None:
        # `start`: what the turn's earlier calls used (its critique, in the critique node)
        self.usage = start.model_copy() if start else Usage(agent=agent, model=model)
        self.usage.provider = provider or self.usage.provider

    def add(self, message: BaseMessage) -> None:
        self.usage.calls += 1
        meta = getattr(message, "usage_metadata", None) or {}
        if not meta:  # no usage in the answer (some local servers): unknown, not zero
            self.usage.unmetered += 1
        self.usage.tokens_in += int(meta.get("input_tokens", 0))
        self.usage.tokens_out += int(meta.get("output_tokens", 0))
        token_usage = (getattr(message, "response_metadata", None) or {}).get("token_usage") or {}
        cost = token_usage.get("cost")  # OpenRouter reports the dollar cost of the call
        if cost is not None:
            try:
                self.usage.cost_usd += Decimal(str(cost))
            except InvalidOperation:  # a junk cost must not end the turn (nor the cycle)
                log.warning("%s: unreadable cost %r in the model's usage", self.usage.agent, cost)


def reasoning_of(message: BaseMessage) -> str:
    """The reasoning a provider sent in a field of its own (`reasoning_content`)."""
    value = message.additional_kwargs.get("reasoning_content")
    return value if isinstance(value, str) else ""


def text_of(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
    return "".join(parts)


def call_config(
    agent: str, step: str, model_id: str, cycle: int, provider: str | None = None
) -> RunnableConfig:
    where = {"provider": provider} if provider else {}
    return {
        "run_name": f"{agent}.{step}",
        "tags": [f"agent:{agent}", f"model:{model_id}", step]
        + ([f"provider:{provider}"] if provider else []),
        "metadata": {"agent": agent, "model": model_id, "cycle": cycle, "step": step, **where},
    }


TOOL_LOG_CHARS = 500  # a tool result in agent_logs is cut here; the model got it whole


def over_budget(knobs: ArenaContext, agent: str, spent_today: Decimal) -> str | None:
    """Why the agent may not call its model today (None: it may)."""
    budget = knobs.llm_daily_budget_usd
    if agent in knobs.house_personas:
        return None  # a house model costs nothing: no budget to exhaust
    if budget is not None and spent_today >= budget:
        return f"daily LLM budget reached: spent ${spent_today} of ${budget}"
    return None


def start_usage(task: AgentTask) -> Usage | None:
    given = task.get("usage")
    return Usage.model_validate(given) if given else None


def bound_quantity(decision: Decision, affordable: dict[str, int], book: Book) -> Decision:
    """A BUY at most what the book can afford of it, a SELL at most what it holds: the
    model's number never reaches the state unbounded (a HOLD when nothing is left)."""
    if decision.decision == "HOLD" or decision.symbol is None:
        return decision
    most = (
        affordable.get(decision.symbol, 0)
        if decision.decision == "BUY"
        else book.qty(decision.symbol)
    )
    if decision.quantity <= most:
        return decision
    if most < 1:
        what = "afford" if decision.decision == "BUY" else "sell"
        return Decision.hold(
            f"HOLD because {decision.decision} {decision.quantity} {decision.symbol}: "
            f"cannot {what} a single share"
        )
    note = f" [quantity {decision.quantity} cut to {most}, the most the book allows]"
    return decision.model_copy(update={"quantity": most, "reasoning": decision.reasoning + note})


def held(
    agent: str, error: str, model: str, secrets: Sequence[str], raw: str = ""
) -> AgentDecision:
    """The HOLD a failed turn becomes: where a model's or provider's error turns into
    recorded (and checkpointed, and traced) text, so its secrets are masked here."""
    error = scrub_secrets(error, secrets)
    return AgentDecision(
        agent=agent,
        decision=Decision.hold(f"HOLD because {error}"),
        error=error,
        model=model,
        raw=scrub_secrets(raw, secrets),
    )


def tool_error(message: str) -> str:
    """A tool result the model can read, in the tools' own error format."""
    return json.dumps({"error": message})


class AgentTurn:
    """One persona's critique-and-decide turn; keeps its logs and usage as it goes."""

    def __init__(self, services: ArenaServices, knobs: ArenaContext, task: AgentTask) -> None:
        self.services = services
        self.knobs = knobs
        self.agent = task["agent"]
        self.cycle = task["cycle"]
        # read-only: the cycle's view and the book are the vote's and the executor's too
        self.view = shared(MarketView, task["market"])
        self.book = shared(Book, task["book"])
        note = task.get("critique")
        self.critique = shared(CritiqueNote, note) if note else None
        self.model: BaseChatModel = services.models[self.agent]
        self.model_id = knobs.model_id(self.agent)
        self.provider = knobs.provider(self.agent)
        factory = services.tools
        self.tools: Sequence[BaseTool] = (
            factory(self.agent, task["as_of"], self.book) if factory else []
        )
        self.logs: list[LogEntry] = []
        self.meter = UsageMeter(self.agent, self.model_id, start_usage(task), self.provider)
        self.spent_today = Decimal(task.get("spent_today") or "0")

    def _log(self, kind: str, content: str) -> None:
        content = scrub_secrets(content, self.services.secrets)
        self.logs.append(LogEntry(agent=self.agent, kind=kind, content=content))  # type: ignore[arg-type]

    def ask(self, messages: list[BaseMessage]) -> tuple[AIMessage | None, list[BaseMessage]]:
        """The model's final answer after at most max_tool_rounds of tool calls (None when
        it never stops calling tools), and the conversation that answer replies to."""
        model: Any = self.model.bind_tools(self.tools) if self.tools else self.model
        config = call_config(self.agent, "analyze", self.model_id, self.cycle, self.provider)
        tool_config: RunnableConfig = {
            "tags": [f"agent:{self.agent}", f"model:{self.model_id}", "tool"],
            "metadata": {"agent": self.agent, "cycle": self.cycle, "step": "tool"},
        }
        by_name = {t.name: t for t in self.tools}
        for _ in range(self.knobs.max_tool_rounds + 1):
            answer = model.invoke(messages, config=config)
            self.meter.add(answer)
            calls = getattr(answer, "tool_calls", None) or []
            # Calls whose arguments are not valid JSON: the API still needs one tool
            # message per call id, and the model needs to know what to fix.
            broken = getattr(answer, "invalid_tool_calls", None) or []
            if not calls and not broken:
                return answer, messages
            messages = [*messages, answer]
            for call in calls:
                tool = by_name.get(call["name"])
                result = (
                    tool.invoke(call["args"], config=tool_config)
                    if tool
                    else tool_error(f"unknown tool {call['name']}; use one of {sorted(by_name)}")
                )
                messages.append(ToolMessage(content=str(result), tool_call_id=call["id"]))
                # The tool exchange is part of the reasoning a reader wants in agent_logs.
                args = json.dumps(call["args"], sort_keys=True)
                self._log(
                    "THOUGHT", f"tool {call['name']}({args}) -> {str(result)[:TOOL_LOG_CHARS]}"
                )
            for bad in broken:
                problem = bad.get("error") or "arguments are not a JSON object"
                messages.append(
                    ToolMessage(
                        content=tool_error(f"bad arguments for {bad.get('name')}: {problem}"),
                        tool_call_id=bad.get("id") or "",
                    )
                )
        return None, messages

    def decide(self, critique: CritiqueNote | None) -> AgentDecision:
        payload = decision_payload(
            agent=self.agent,
            cycle=self.cycle,
            view=self.view,
            book=self.book,
            critique=critique,
            # max_buy_qty must pass the risk gate, which checks cash at the BUY limit price
            limits=self.knobs.limits,
        )
        messages = decision_messages(payload, self.agent, self.knobs.personas_dir)
        allowed = set(self.view.symbols) | set(self.book.positions)
        affordable: dict[str, int] = payload["max_buy_qty"]
        # More than the book could ever buy or sell of anything is not a quantity but a
        # wrong answer: it gets the repair turn. Within that, the bound is per symbol.
        ceiling = max([1, *affordable.values(), *(p.qty for p in self.book.positions.values())])
        error, raw = "", ""
        for attempt in range(2):  # the answer, then one repair turn
            try:
                answer, sent = self.ask(messages)
            except Exception as exc:
                error = f"model error: {type(exc).__name__}: {exc}"
                break
            if answer is None:
                error = f"tool loop exceeded {self.knobs.max_tool_rounds} rounds"
                break
            raw = text_of(answer)
            thought = reasoning_of(answer)  # a provider's reasoning field: never parsed
            if thought:
                self._log("THOUGHT", f"reasoning: {thought}")
            self._log("THOUGHT", raw)
            try:
                parsed = parse_decision(raw, allowed, max_qty=ceiling)
                decision = bound_quantity(parsed, affordable, self.book)
            except Exception as exc:  # any failure to read the answer gets the repair turn
                why = str(exc) if isinstance(exc, DecisionParseError) else repr(exc)
                error = f"invalid answer{' after repair' if attempt else ''}: {why}"
                # the repair turn keeps the tool exchange that led to the answer
                messages = [*sent, answer, repair_message(why)]
                continue
            return AgentDecision(
                agent=self.agent,
                decision=decision,
                stances=self.stances(raw, decision),
                model=self.model_id,
                raw=raw,
            )
        return held(self.agent, error, self.model_id, self.services.secrets, raw)

    def stances(self, raw: str, decision: Decision) -> dict[str, Stance]:
        """The answer's stances; whatever is wrong with them, never the decision's problem."""
        try:
            return parse_stances(raw, decision, self.view.symbols)
        except Exception as exc:
            self._log("THOUGHT", f"stances ignored: {exc!r}")
            return default_stances(decision, self.view.symbols)

    def run(self) -> dict[str, Any]:
        stop = over_budget(self.knobs, self.agent, self.spent_today)
        if stop is not None:
            result = AgentDecision(
                agent=self.agent, decision=Decision.hold(stop), error=stop, model=self.model_id
            )
        else:
            result = self.decide(self.critique)
        self._log("DECISION", result.model_dump_json(exclude={"raw"}))
        return {
            # the answer text is in the THOUGHT log already: not copied into every checkpoint
            "decisions": {self.agent: result.model_dump(mode="json", exclude={"raw"})},
            "logs": [e.model_dump(mode="json") for e in self.logs],
            "usage": {self.agent: self.meter.usage.model_dump(mode="json")},
        }


def failed_turn(
    services: ArenaServices,
    knobs: ArenaContext,
    task: AgentTask,
    exc: Exception,
    turn: AgentTurn | None = None,
) -> dict[str, Any]:
    """The HOLD of a turn that broke outside the model calls (a bug, a broken tool factory):
    one agent's failure never fails the cycle, and what its calls used is still recorded
    (the turn's meter, or the critique's usage when the turn broke before any call)."""
    agent = task["agent"]
    error = f"agent turn failed: {type(exc).__name__}: {exc}"
    result = held(agent, error, knobs.model_id(agent), services.secrets)
    logs = list(turn.logs) if turn else []
    logs.append(
        LogEntry(agent=agent, kind="DECISION", content=result.model_dump_json(exclude={"raw"}))
    )
    usage = turn.meter.usage if turn else start_usage(task)
    update: dict[str, Any] = {
        "decisions": {agent: result.model_dump(mode="json")},
        "logs": [e.model_dump(mode="json") for e in logs],
    }
    if usage is not None:
        update["usage"] = {agent: usage.model_dump(mode="json")}
    return update


def listening(config: RunnableConfig) -> bool:
    """Whether any callback handler (a LangSmith tracer, a stream) receives this node's runs."""
    callbacks = config.get("callbacks")
    if callbacks is None:
        return False
    handlers = callbacks if isinstance(callbacks, list) else callbacks.handlers
    return bool(handlers)


def make_agent(services: ArenaServices) -> TaskNode:
    def run_turn(task: AgentTask) -> dict[str, Any]:
        knobs = services.knobs(get_runtime(ArenaContext))
        turn: AgentTurn | None = None
        try:
            turn = AgentTurn(services, knobs, task)
            return turn.run()
        except GraphBubbleUp:  # interrupts and the like are LangGraph's control flow
            raise
        except Exception as exc:
            log.exception("agent %s: turn failed", task["agent"])
            return failed_turn(services, knobs, task, exc, turn)

    # All three branches are the node `agent`; a run named after the persona inside it
    # lets a trace reader find `grok` at a glance.
    turn = RunnableLambda(run_turn)

    def agent(state: AgentTask, runtime: Runtime[ArenaContext]) -> dict[str, Any]:
        task = state
        if not listening(get_config()):  # no tracer, no stream: the named run shows nowhere
            return run_turn(task)
        name = task["agent"]
        knobs = services.knobs(runtime)
        model, provider = knobs.model_id(name), knobs.provider(name)
        return turn.invoke(
            task,
            config={
                "run_name": name,
                "tags": [f"agent:{name}", f"model:{model}", f"provider:{provider}"],
                "metadata": {
                    "agent": name,
                    "model": model,
                    "provider": provider,
                    "cycle": task["cycle"],
                },
            },
        )

    return agent
