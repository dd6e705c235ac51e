"""Replays the arena over a stretch of history: the very graph that trades live.

A backtest is an arena of its own: a fresh run id (`bt_<8 hex>`) is its LangGraph thread
and its key in the arena's tables, so the live arena's books and rows are never touched
and the run can be browsed like any arena. The broker is the simulated exchange limited
to [start, end], with the run's fee and slippage; the clock walks one trading day per
cycle. The checkpointer is in memory and written once per cycle, when the cycle ends
(`durability="exit"`: a backtest is not resumed; its history is in the tables, written by
the graph's own record node), which spares a write per superstep and changes nothing in
the result.
"""

from __future__ import annotations

import gc
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, cast

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Durability
from pydantic import BaseModel, field_validator

from mytrader.adapters.bars import PriceHistory
from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.adapters.store.db import ArenaStore
from mytrader.adapters.store.llm_cache import LLMCache
from mytrader.app.models import build_models
from mytrader.app.runner import Arena
from mytrader.app.services import open_services
from mytrader.backtest.blind import Blindfold, blind_models
from mytrader.backtest.cache import open_llm_cache, with_cache
from mytrader.backtest.data import load_history, trading_range
from mytrader.config import Bounds, Settings, load_settings
from mytrader.domain.records import CycleRecord
from mytrader.graph.compat import keep_latest
from mytrader.ports.ledger import InMemoryLedger

# Slippage moves a SELL's fill down by its share of the price: 10,000 bps would be $0.
SLIPPAGE_BPS = Bounds(0, 10_000, "basis points of the fill price", below=True)
RUN_PREFIX = "bt_"
BATCH_DAYS = 100  # days recorded per database transaction


class BacktestOptions(BaseModel):
    """What the user chose; everything else comes from the settings (environment)."""

    data: Path | None = None
    start: str | None = None
    end: str | None = None
    models: Literal["house", "openrouter"] = "house"
    vote: Literal["majority", "weighted"] | None = None
    critique_every: int | None = None
    fee: Decimal | None = None
    slippage_bps: Decimal = Decimal("0")
    blind: bool = False
    cache: Path | None = None  # a file; default: LLM_CACHE (backtest/cache.py)
    cache_namespace: str = ""  # a study's run: its answers its own (LLMCache)
    run_id: str | None = None

    @field_validator("slippage_bps")
    @classmethod
    def _slippage(cls, v: Decimal) -> Decimal:
        problem = SLIPPAGE_BPS.problem(v)
        if problem:
            raise ValueError(problem)
        return v


def new_run_id() -> str:
    return RUN_PREFIX + secrets.token_hex(4)


def backtest_settings(options: BacktestOptions, run_id: str, **base: Any) -> Settings:
    """The run's settings: the environment's, with the options and the run id on top.
    `--models` applies to every persona of the roster in use, custom ones included."""
    overrides: dict[str, Any] = {**base, "arena_id": run_id, "market_data_path": options.data}
    roster = load_settings(**overrides).personas
    overrides["persona_llms"] = ",".join(f"{p}={options.models}" for p in roster)
    if options.vote is not None:
        overrides["vote_mode"] = options.vote
    if options.critique_every is not None:
        overrides["critique_interval"] = options.critique_every
    if options.fee is not None:
        overrides["fee_per_trade"] = options.fee
    return load_settings(**overrides)


class BatchingStore:
    """The arena store with `record_cycle` buffered: a backtest writes its days in batches
    (one commit per BATCH_DAYS, not one per day) and flushes the rest when it ends or is
    interrupted. Everything else goes straight to the store."""

    def __init__(self, store: ArenaStore, batch: int = BATCH_DAYS) -> None:
        self._store = store
        self._batch = batch
        self._pending: list[CycleRecord] = []
        self._lock = threading.Lock()
        # The days done: those whose record node ran (the cycle's last node), also when
        # Ctrl-C lands before the graph hands the cycle back.
        self.days: list[str] = []

    def record_cycle(self, rec: CycleRecord) -> None:
        with self._lock:
            self._pending.append(rec)
            if not self.days or self.days[-1] != rec.as_of:  # a retried record: once
                self.days.append(rec.as_of)
            full = len(self._pending) >= self._batch
        if full:
            self.flush()

    def beat_start(self, *args: Any, **kwargs: Any) -> int:
        return 0  # heartbeats watch a live loop; a backtest's progress is its bar

    def beat_end(self, *args: Any, **kwargs: Any) -> None:
        return None

    def flush(self) -> None:
        with self._lock:
            recs = list(self._pending)
        if recs:
            # Dropped from the buffer only once written: a Ctrl-C inside the write rolls it
            # back and leaves them for the flush that ends the run (a rewrite is harmless:
            # recording a cycle again overwrites it).
            self._store.record_cycles(recs)
            with self._lock:
                del self._pending[: len(recs)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@dataclass
class BacktestRun:
    run_id: str
    settings: Settings
    options: BacktestOptions
    history: PriceHistory
    start: str
    end: str
    days_total: int
    dates: list[str] = field(default_factory=list)  # the sessions completed
    interrupted: bool = False
    elapsed_s: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0


Progress = Callable[[int, int, str], None]  # (days done, days total, as_of)


def prepare(
    options: BacktestOptions, history: PriceHistory | None = None, **settings_overrides: Any
) -> tuple[BacktestRun, SimulatedExchange]:
    """Load and check the data and the range; no database, no model yet. `history`: the
    data already loaded from `options.data` (a study's worker loads it once)."""
    run_id = options.run_id or new_run_id()
    settings = backtest_settings(options, run_id, **settings_overrides)
    if history is None:
        history = load_history(options.data)
    start, end = trading_range(history, options.start, options.end, settings.warmup_days)
    broker = SimulatedExchange(
        history,
        ledger=InMemoryLedger(),  # the trades table keeps every order; a fresh id never repeats
        warmup_days=history.calendar_index(start) or 0,  # trading_range checked the warm-up
        start=start,
        end=end,
        slippage_bps=options.slippage_bps,
        account_rules=settings.sim_account_rules,
    )
    days = history.cal_end(end) - history.cal_end(start) + 1
    run = BacktestRun(run_id, settings, options, history, start, end, days)
    return run, broker


@contextmanager
def ctrl_c_ends_the_day() -> Iterator[threading.Event]:
    """The first Ctrl-C sets the event; the day in progress finishes and the loop stops.
    Why not KeyboardInterrupt: raised inside a pydantic validator it comes out as a
    ValidationError ("unprintable Decimal object") and the run fails instead of stopping.
    A second Ctrl-C interrupts at once. Outside the main thread no handler can be set."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def first(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def run_backtest(
    run: BacktestRun,
    broker: SimulatedExchange,
    store: ArenaStore,
    *,
    models: Mapping[str, BaseChatModel] | None = None,
    progress: Progress | None = None,
    durability: Durability = "exit",
    inline_turns: bool | None = None,
) -> BacktestRun:
    """Run every trading day of the range through the arena graph. Ctrl-C stops once
    the day in progress is done; every finished day is in the tables already.
    `durability`: when the in-memory checkpoint is written ("sync": every step, as live);
    `inline_turns`: the personas' turns one after another (None: when all are house models)."""
    settings = run.settings
    chosen = dict(models or build_models(settings))
    cache: LLMCache | None = None
    real = [p for p in settings.personas if settings.llm_kind(p) == "openrouter"]
    if real:
        cache = open_llm_cache(settings, run.options.cache, run.options.cache_namespace)
        with_cache(chosen, cache, real)
    if run.options.blind:
        chosen = blind_models(chosen, Blindfold.of(run.history))
    batching = BatchingStore(store)
    services = open_services(
        settings, broker=broker, models=chosen, store=cast(ArenaStore, batching)
    )
    saver = InMemorySaver()
    arena = Arena(services, saver, durability=durability, inline_turns=inline_turns)
    t0 = time.perf_counter()
    # What lives all run (the history, the graph, the services) leaves the collector's
    # sight: its full passes otherwise rescan it again and again (~8% of a long run).
    gc.collect()
    gc.freeze()
    try:
        with ctrl_c_ends_the_day() as stop:
            while not stop.is_set():
                summary = arena.run_cycle()
                if summary.status != "trading":
                    break
                done = len(batching.days)
                if done % BATCH_DAYS == 0:
                    keep_latest(saver, run.run_id)
                if progress is not None:
                    progress(done, run.days_total, summary.as_of or "")
            else:
                run.interrupted = True  # stopped by Ctrl-C, not by the end of the range
    except KeyboardInterrupt:  # the second Ctrl-C, or no handler outside the main thread
        run.interrupted = True
    finally:
        run.dates = list(batching.days)  # the days recorded: what the report covers
        gc.unfreeze()
        batching.flush()  # the days done are kept, interrupted or not
        run.elapsed_s = time.perf_counter() - t0
        if cache is not None:
            run.cache_hits, run.cache_misses = cache.hits, cache.misses
            cache.close()
    return run
