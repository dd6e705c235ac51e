"""What the nodes are given.

`ArenaContext` is the graph's `context_schema`: the JSON-able knobs of a run (roster,
risk limits, vote rule, critique interval, tool rounds, model ids, fee...). Nodes read it
through `runtime: Runtime[ArenaContext]`; the application builds it from the settings
(`mytrader.app.context.arena_context`) and passes it to every invoke, and Studio shows it
and lets a run override any field.

`ArenaServices` are the live objects (broker, one chat model per persona, the store,
tools): built by the caller (the CLI, a test, or the Studio factory) and handed to the
graph builder, so no node builds a client or reads a global. Its `context` is the one
built from the settings, the fallback of a run given no context.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from mytrader.domain.limits import RiskLimits, VoteMode, VoteRule
from mytrader.domain.models import COLLABORATIVE
from mytrader.graph.state import AgentTask, ArenaState
from mytrader.ports.broker import Broker
from mytrader.tools import ToolFactory

if TYPE_CHECKING:
    from mytrader.adapters.store.db import ArenaStore

_RISK, _VOTE = RiskLimits(), VoteRule()  # the rules' defaults are the context's
_RISK_FIELDS = tuple(f.name for f in dataclasses.fields(RiskLimits))

_DECIMALS = (
    "starting_cash",
    "fee_per_trade",
    "buy_limit_buffer_pct",
    "max_position_pct",
    "daily_loss_limit_pct",
    "stop_loss_pct",
    "take_profit_pct",
    "vote_edge_pct",
)


@dataclass(frozen=True, kw_only=True)
class ArenaContext:
    """The run's knobs (defaults: the settings' defaults; see config.Settings)."""

    arena_id: str = "arena"
    personas: tuple[str, ...] = ("grok", "deepseek", "openai")
    # persona -> model id shown in logs and traces
    model_ids: dict[str, str] = field(default_factory=dict)
    # persona -> where its model runs: "house", "openrouter" or a provider of PROVIDERS
    providers: dict[str, str] = field(default_factory=dict)
    # personas on house models: no dollars spent, so no daily budget applies
    house_personas: tuple[str, ...] = ()
    llm_daily_budget_usd: Decimal | None = None
    personas_dir: str | None = None
    max_tool_rounds: int = 4
    critique_interval: int = 5
    vote_mode: VoteMode = _VOTE.mode
    vote_window: int = _VOTE.window
    vote_edge_pct: Decimal = _VOTE.edge_pct
    starting_cash: Decimal = Decimal("100000")
    fee_per_trade: Decimal = _RISK.fee_per_trade
    buy_limit_buffer_pct: Decimal = _RISK.buy_limit_buffer_pct
    max_position_pct: Decimal = _RISK.max_position_pct
    daily_loss_limit_pct: Decimal = _RISK.daily_loss_limit_pct
    stop_loss_pct: Decimal = _RISK.stop_loss_pct
    take_profit_pct: Decimal = _RISK.take_profit_pct
    movers_top: int = 5
    watchlist_symbols: tuple[str, ...] = ()
    benchmark_symbol: str = "SPY"
    order_manager: bool = True
    fill_wait_s: float = 5.0
    # the books of each broker account (live, a book with keys of its own trades its own)
    broker_accounts: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        # A run's context may come as JSON (Studio, the SDK): numbers and lists as such.
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        for name in _DECIMALS:
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                put(name, Decimal(str(value)))
        budget = self.llm_daily_budget_usd
        if budget is not None and not isinstance(budget, Decimal):
            put("llm_daily_budget_usd", Decimal(str(budget)))
        for name in ("personas", "house_personas", "watchlist_symbols"):
            put(name, tuple(getattr(self, name)))
        put("broker_accounts", tuple(tuple(g) for g in self.broker_accounts))

    @property
    def accounts(self) -> tuple[str, ...]:
        return (*self.personas, COLLABORATIVE)

    @property
    def account_groups(self) -> tuple[tuple[str, ...], ...]:
        """The books of each broker account; all on one when none is given."""
        return self.broker_accounts or (self.accounts,)

    @cached_property
    def limits(self) -> RiskLimits:
        return RiskLimits(**{name: getattr(self, name) for name in _RISK_FIELDS})

    @cached_property
    def vote_rule(self) -> VoteRule:
        return VoteRule(self.vote_mode, self.vote_window, self.vote_edge_pct)

    def model_id(self, persona: str) -> str:
        return self.model_ids.get(persona, persona)

    def provider(self, persona: str) -> str:
        """Where a persona's model runs (house personas: "house"; unknown: "openrouter")."""
        given = self.providers.get(persona)
        if given:
            return given
        return "house" if persona in self.house_personas else "openrouter"


class StateNode(Protocol):
    """A node of the arena's state: what the builder adds (typed as LangGraph's nodes)."""

    def __call__(self, state: ArenaState, runtime: Runtime[ArenaContext]) -> dict[str, Any]: ...


class TaskNode(Protocol):
    """A node of one persona's branch: its input is the Send payload (AgentTask)."""

    def __call__(self, state: AgentTask, runtime: Runtime[ArenaContext]) -> Any: ...


def context_schema(defaults: ArenaContext) -> type[ArenaContext]:
    """ArenaContext with `defaults` as its fields' defaults: Studio shows the server's
    settings, and a run that overrides one field keeps the others."""
    fields: list[tuple[str, Any, Any]] = []
    for f in dataclasses.fields(ArenaContext):
        value = getattr(defaults, f.name)
        if isinstance(value, dict):
            fields.append((f.name, f.type, field(default_factory=partial(dict, value))))
        else:
            fields.append((f.name, f.type, field(default=value)))
    made = dataclasses.make_dataclass(
        "ArenaContext", fields, bases=(ArenaContext,), frozen=True, kw_only=True
    )
    made.__doc__ = ArenaContext.__doc__
    made.__module__ = __name__
    return made


@dataclass
class ArenaServices:
    broker: Broker
    models: Mapping[str, BaseChatModel]  # persona -> chat model
    store: ArenaStore
    context: ArenaContext = field(default_factory=ArenaContext)  # a run without one
    tools: ToolFactory | None = None  # None: agents decide from the prompt alone
    # The settings' secret values (mytrader.app.repair.secret_values): masked in every text a
    # node keeps from outside (a provider's error may echo its key).
    secrets: tuple[str, ...] = ()

    def knobs(self, runtime: Runtime[ArenaContext] | None) -> ArenaContext:
        """The run's context, or the one built from the settings when it has none."""
        given = runtime.context if runtime is not None else None
        return given if given is not None else self.context

    def close(self) -> None:
        self.store.close()


def arena_key(config: RunnableConfig | Mapping[str, Any] | None, default: str) -> str:
    """A short, stable name of the arena (the thread) for order ids and table rows.

    The CLI's thread id is the arena id itself; Studio's thread ids are UUIDs, shortened
    so client order ids stay within Alpaca's safe 48 characters.
    """
    thread = ((config or {}).get("configurable") or {}).get("thread_id") or default
    thread = str(thread)
    if len(thread) <= 24 and thread.replace("_", "").isalnum():
        return thread
    return "t" + hashlib.sha1(thread.encode()).hexdigest()[:12]
