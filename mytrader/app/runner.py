"""Runs cycles of the arena graph on one thread, with a checkpointer, and resumes.

Each `run_cycle` continues the arena's thread: if the last cycle was interrupted (a
crash, a kill), it is resumed from its last checkpoint instead of starting a new one,
so no order is placed twice.

A cycle that raises is recorded (node, error without secrets, failures in a row) and
kept as `Arena.last_failure` (a CycleFailed, whose message names the way on: `mytrader
repair`, mytrader/app/repair.py) while the node's own exception propagates; the CLI shows the
message, so a failure that repeats never loops silently on one checkpoint.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Durability
from pydantic import BaseModel, Field

from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.adapters.store.checkpointer import delete_thread, open_checkpointer, prune_thread
from mytrader.adapters.store.db import StoreError
from mytrader.adapters.store.errors import DATABASE_ERRORS, is_lost
from mytrader.adapters.store.lock import arena_lock
from mytrader.app.halves import check_halves, checkpoint_at
from mytrader.app.repair import ERROR_CHARS, CycleFailed, scrub_secrets
from mytrader.app.scheduler import iso_utc
from mytrader.app.services import AppServices, open_services
from mytrader.app.storage import store_config
from mytrader.config import ConfigError, Settings
from mytrader.domain.halves import CheckpointAt
from mytrader.domain.models import AgentDecision, OrderResult, PendingOrder, VoteResult
from mytrader.domain.order_ids import arena_prefix
from mytrader.domain.warmup import MIN_WARMUP, warmup_shortfall
from mytrader.graph.builder import GRAPH_NAME, ArenaGraph, build_builder
from mytrader.graph.context import arena_key
from mytrader.graph.inline import CONFIG_KEY_RUNNER_SUBMIT, inline_submit
from mytrader.graph.typed import shared, shared_list

log = logging.getLogger(__name__)

RECURSION_LIMIT = 50  # a cycle is 6 steps; a runaway loop should fail fast
T = TypeVar("T")
# LangGraph notes the task an exception left: "During task with name 'record' and id ..."
_TASK_NOTE = re.compile(r"During task with name '([^']+)'")


class HistoryTooShort(ConfigError):
    """The market data ends before the warm-up does: no day to trade (exit status 2)."""


class CycleSummary(BaseModel):
    cycle: int
    as_of: str | None
    status: str
    message: str = ""
    resumed: bool = False
    decisions: dict[str, AgentDecision] = Field(default_factory=dict)
    vote: VoteResult | None = None
    orders: list[OrderResult] = Field(default_factory=list)
    settled: list[PendingOrder] = Field(default_factory=list)  # earlier orders booked now


class Arena:
    def __init__(
        self,
        services: AppServices,
        checkpointer: BaseCheckpointSaver,
        durability: Durability = "sync",
        inline_turns: bool | None = None,
    ) -> None:
        self.services = services
        self.checkpointer = checkpointer
        # "sync": every step is on disk before the next, so a crash resumes mid-cycle
        # without a duplicate order. A backtest (never resumed) checkpoints at exit only.
        self.durability: Durability = durability
        # The personas' turns on threads only when they wait on a model over the network
        # (graph/inline.py); None: decided from the settings.
        self.inline_turns = only_house_models(services) if inline_turns is None else inline_turns
        self._finished: int | None = None
        self._halves_checked = False  # tables vs checkpoint, before the first cycle
        self._cycle = 0  # the cycle this Arena last started (named when the state can't be read)
        self.thread_id = services.settings.arena_id
        self.interval_s: int | None = None  # set by the scheduler: kept in the heartbeats
        self.last_failure: CycleFailed | None = None  # why the last run_cycle raised
        self.graph: ArenaGraph = build_builder(services).compile(
            checkpointer=checkpointer, name=GRAPH_NAME
        )

    @property
    def config(self) -> RunnableConfig:
        return {
            "configurable": {"thread_id": self.thread_id},
            "recursion_limit": RECURSION_LIMIT,
            "run_name": GRAPH_NAME,
            "tags": ["mytrader"],
        }

    def values(self) -> dict[str, Any]:
        return dict(self.graph.get_state(self.config).values)

    def run_cycle(
        self, config_overrides: Mapping[str, Any] | None = None, **invoke_kwargs: Any
    ) -> CycleSummary:
        """Run (or resume) one cycle. `config_overrides` are extra RunnableConfig keys
        (e.g. `{"max_concurrency": 1}`); `invoke_kwargs` go to `graph.invoke`."""
        self.last_failure = None
        if self._finished is not None:  # this Arena ended the thread's last cycle itself
            pending, cycle = False, self._finished + 1
        else:
            if not self._halves_checked:  # a lost or older half: refused before anything runs
                at = self.check_halves()
            else:
                at = self._start_step("checkpoint", self._cycle + 1, lambda: checkpoint_at(self))
            pending = at.pending is not None
            cycle = at.pending or at.cycle + 1
        self._finished, self._cycle = None, cycle
        if cycle == 1 and not pending:  # the arena's first day: is there one to trade?
            self.check_history()
        # None resumes an interrupted cycle; an input starts a new one.
        config: RunnableConfig = {
            **self.config,
            **(config_overrides or {}),  # type: ignore[typeddict-item]
            "run_name": f"{GRAPH_NAME}.cycle",
            "metadata": {"arena": self.thread_id, "cycle": cycle, "resumed": pending},
        }
        if self.inline_turns:
            config["configurable"] = {
                **config.get("configurable", {}),
                CONFIG_KEY_RUNNER_SUBMIT: inline_submit,
            }
        if pending:
            self._warn_if_failed_before(cycle)
        store, t0 = self.services.store, time.monotonic()
        beat = self._start_step(
            "heartbeat",
            cycle,
            lambda: store.beat_start(
                self.thread_id, cycle, utc_now(), self.interval_s, os.getpid()
            ),
        )
        try:
            out = self.graph.invoke(
                None if pending else {},
                config,
                context=self.services.context,
                durability=self.durability,
                **invoke_kwargs,
            )
        except Exception as exc:  # recorded, then raised: the caller decides what follows
            if is_lost(exc):  # the database is gone: another call would only wait again
                self.last_failure = self._lost(exc, failed_step(exc) or "checkpoint", cycle)
                raise
            ms = round((time.monotonic() - t0) * 1000)
            message = scrub_secrets(f"{type(exc).__name__}: {exc}", self.services.settings)[:500]
            try:
                store.beat_end(
                    beat,
                    cycle=cycle,
                    ended_at=utc_now(),
                    duration_ms=ms,
                    outcome="failed",
                    message=message,
                )
            except StoreError:  # the database may be what failed: keep the cycle's error
                log.exception("could not record the failed cycle's heartbeat")
            # The caller gets the node's own exception; `last_failure` says what to do.
            self.last_failure = self._failed(exc)
            raise
        summary = summarize(out, resumed=pending)
        if self.durability == "exit":
            # Checkpointed only at the end: the thread holds exactly this finished cycle,
            # and no other process shares a backtest's thread, so the next call need not
            # read the state back to know it (a live arena always reads it).
            self._finished = summary.cycle
        store.beat_end(
            beat,
            cycle=summary.cycle,
            ended_at=utc_now(),
            duration_ms=round((time.monotonic() - t0) * 1000),
            outcome="exhausted" if summary.status == "exhausted" else "ok",
            message=summary.message,
        )
        return summary

    def check_halves(self) -> CheckpointAt:
        """Where the checkpoint stands, once the tables are known to agree with it; raises
        HalvesDisagree (a StoreError) when they don't (mytrader/app/halves.py). `run_cycle`
        calls it before this Arena's first cycle."""
        at = check_halves(self)
        self._halves_checked = True
        return at

    @property
    def key(self) -> str:
        return arena_key(self.config, self.services.settings.arena_id)

    def _warn_if_failed_before(self, cycle: int) -> None:
        try:
            before = self.services.store.failure(self.key, cycle)
        except Exception:  # the store's own trouble shows when the cycle runs
            return
        if before and not before.get("repaired"):
            log.warning(
                "cycle %s failed %s time(s) before at node %s (%s); resuming it",
                cycle,
                before["count"],
                before["node"],
                before["error"][:200],
            )

    def _start_step(self, step: str, cycle: int, call: Callable[[], T]) -> T:
        """A database call before the cycle's graph runs: a lost database names the step
        (any other StoreError says what it is by itself)."""
        try:
            return call()
        except StoreError as exc:
            if is_lost(exc):
                self.last_failure = self._lost(exc, step, cycle)
            raise

    def _lost(self, exc: Exception, step: str, cycle: int) -> CycleFailed:
        """The failure of a cycle whose database can't be used: said, not recorded (the
        database is what failed; another call would only wait out the timeout again)."""
        settings = self.services.settings
        error = scrub_secrets(f"{type(exc).__name__}: {exc}", settings)[:ERROR_CHARS]
        return CycleFailed(settings.arena_id, cycle, step, error, None, lost=True)

    def _failed(self, exc: Exception) -> CycleFailed:
        """Record why the pending cycle failed (and how often), for the message and the
        next run."""
        settings = self.services.settings
        try:
            at = checkpoint_at(self)
            node = ",".join(at.next_nodes) or "?"
            cycle = at.pending or at.cycle
        except Exception:
            node, cycle = failed_step(exc) or "?", self._cycle
        error = scrub_secrets(f"{type(exc).__name__}: {exc}", settings)[:ERROR_CHARS]
        count: int | None
        try:
            count = self.services.store.record_failure(self.key, cycle, node, error)
        except Exception:  # e.g. the database itself is down: say so without a count
            log.warning("could not record the failure of cycle %s", cycle, exc_info=True)
            count = None
        return CycleFailed(settings.arena_id, cycle, node, error, count)

    def pending_failure(self) -> str | None:
        """What is pending and why (its recorded failure), None when no cycle is pending."""
        state = self.graph.get_state(self.config)
        if not state.next:
            return None
        cycle = int(state.values.get("cycle") or 0)
        node = ",".join(state.next)
        try:
            failed = self.services.store.failure(self.key, cycle)
        except Exception:
            failed = None
        if failed is None:
            return f"cycle {cycle} is pending at node '{node}' (no failure recorded)"
        return (
            f"cycle {cycle} is pending at node '{node}'; it failed {failed['count']} time(s) "
            f"at node '{failed['node']}': {failed['error']}"
        )

    def check_history(self) -> None:
        """A simulated market's history must outlast the warm-up, as a backtest's must
        (one rule, domain/warmup.py): else HistoryTooShort, before anything is written."""
        broker, settings = self.services.broker, self.services.settings
        if not isinstance(broker, SimulatedExchange):
            return  # a live market's history is not a file
        short = warmup_shortfall(len(broker.history.calendar), broker.warmup_days)
        if short:
            data = settings.market_data_path or "the bundled sample"
            raise HistoryTooShort(
                f"MARKET_DATA_PATH ({data}): {short} (WARMUP_DAYS={broker.warmup_days}): "
                f"give it a longer history or a smaller WARMUP_DAYS (at least {MIN_WARMUP})"
            )

    def unknown_watchlist(self) -> list[str]:
        """Warnings for WATCHLIST symbols the broker does not trade (they are skipped) and
        for a BENCHMARK_SYMBOL the market data lacks (no buy-and-hold comparison)."""
        settings, broker = self.services.settings, self.services.broker
        warnings = []
        unknown = [s for s in settings.watchlist_symbols if broker.asset(s) is None]
        if unknown:
            warnings.append(
                f"WATCHLIST symbol(s) not in the market data, ignored: {', '.join(unknown)}"
            )
        benchmark = settings.benchmark_symbol
        # A data file may lack it (a live broker has SPY, and asking would cost a request).
        if benchmark and isinstance(broker, SimulatedExchange) and benchmark not in broker.history:
            warnings.append(
                f"BENCHMARK_SYMBOL {benchmark} is not in the market data: "
                "no buy-and-hold comparison"
            )
        for warning in warnings:
            log.warning(warning)
        return warnings

    def prune(self) -> None:
        """Drop all but the latest checkpoint: history lives in the arena's tables."""
        prune_thread(self.checkpointer, self.thread_id)

    def reset(self) -> None:
        delete_thread(self.checkpointer, self.thread_id)
        self.services.store.reset(self.thread_id, arena_prefix(self.thread_id) + "-")


def failed_step(exc: BaseException) -> str | None:
    """The node `exc` left (LangGraph's note), or "checkpoint" for a database error raised
    outside every node: only the checkpointer talks to a database there."""
    for note in getattr(exc, "__notes__", None) or ():
        found = _TASK_NOTE.search(note)
        if found:
            return found.group(1)
    return "checkpoint" if isinstance(exc, DATABASE_ERRORS) else None


def only_house_models(services: AppServices) -> bool:
    """Whether every persona's model is a house model (pure Python, no network wait)."""
    context = services.context
    return set(context.personas) <= set(context.house_personas)


def utc_now() -> str:
    return iso_utc(datetime.now(UTC))


def summarize(values: dict[str, Any], *, resumed: bool = False) -> CycleSummary:
    vote = values.get("vote")
    return CycleSummary(
        cycle=values.get("cycle") or 0,
        as_of=values.get("as_of"),
        status=values.get("status") or "",
        message=values.get("message") or "",
        resumed=resumed,
        # the nodes' own models of these values (read-only), not a second validation
        decisions={a: shared(AgentDecision, d) for a, d in (values.get("decisions") or {}).items()},
        vote=shared(VoteResult, vote) if vote else None,
        orders=shared_list(OrderResult, values.get("orders")),
        settled=shared_list(PendingOrder, values.get("settled")),
    )


@contextmanager
def open_arena(settings: Settings, **service_overrides: Any) -> Iterator[Arena]:
    """The arena of `settings.arena_id`, locked against other processes while open."""
    with arena_lock(store_config(settings), settings.arena_id):
        services = open_services(settings, **service_overrides)
        try:
            with open_checkpointer(store_config(settings)) as saver:
                yield Arena(services, saver)
        finally:
            services.close()
