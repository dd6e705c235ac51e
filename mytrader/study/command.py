"""`mytrader study`: plan the runs, skip those done, run the rest on the engine, report.

Files, under studies/<study id>/:
- runs/<run id>/: each run's backtest report (metrics.json, equity.csv, trades.csv,
  equity.png), then its result.json, written last and by rename: a run is done when its
  result.json is there with the run's fingerprint (a resume skips it);
- study.json, runs.csv, excess_sharpe.png: written only when every run is done, each by
  rename, so a study is never half-reported.

Exit status: 0 done; 1 a run failed (the others are kept, rerun to retry); 2 bad input (the
study, a variant's setting, the data); 3 the database or the cluster does not answer;
130 Ctrl-C (finished runs are kept: the same command resumes).
"""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from mytrader.adapters.bars import MarketDataError, PriceHistory
from mytrader.adapters.store.db import StoreError
from mytrader.app.storage import open_store
from mytrader.backtest.benchmarks import SPY
from mytrader.backtest.data import load_history, missing_benchmark
from mytrader.backtest.progress import days_progress
from mytrader.backtest.runner import BacktestOptions
from mytrader.config import ConfigError, Settings, load_settings
from mytrader.domain.study_grid import Run, StudyGridError, plan
from mytrader.domain.text import for_log
from mytrader.study.engine import EngineError, run_tasks
from mytrader.study.spec import (
    OPTION_KEYS,
    StudyInputError,
    StudySpec,
    known_variant_keys,
    validation_problem,
)
from mytrader.study.summary import StudySummary, runs_csv, study_json, summarize
from mytrader.study.task import (
    RunResult,
    RunTask,
    file_digest,
    keep_history,
    shipped_settings,
)

RESULT = "result.json"


class StudyExit(Exception):
    """Ends the command with an exit status (the message already shown)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _fail(console: Console, message: object, status: int) -> StudyExit:
    console.print(for_log(message), style="red", markup=False, highlight=False)
    return StudyExit(status)


def check_variant_values(spec: StudySpec, base: dict[str, Any]) -> None:
    """Every variant's settings and options are valid, before anything runs."""
    for v in spec.grid.variants:
        options = {k: x for k, x in v.overrides.items() if k in OPTION_KEYS}
        settings = {k: x for k, x in v.overrides.items() if k not in OPTION_KEYS}
        try:
            BacktestOptions.model_validate(options)
        except ValidationError as exc:
            raise StudyInputError(f"variant {v.name!r}: {validation_problem(exc)}") from None
        try:
            load_settings(**{**base, **settings})
        except ConfigError as exc:
            raise StudyInputError(f"variant {v.name!r}: {exc}") from None


def planned(spec: StudySpec, settings: Settings, history: PriceHistory) -> list[Run]:
    """The runs, over the dates that have the indicators' warm-up behind them."""
    tradable = history.calendar[settings.warmup_days :]
    dates = [date.fromisoformat(d) for d in tradable]
    try:
        return plan(spec.grid, dates, known_variant_keys())
    except StudyGridError as exc:
        first = f" (the first with {settings.warmup_days} days of warm-up)" if dates else ""
        raise StudyInputError(f"{exc}{first if 'outside' in str(exc) else ''}") from None


def done_runs(runs_dir: Path, tasks: Sequence[RunTask]) -> dict[str, RunResult]:
    """The runs already done: their result.json is there, with the same fingerprint (the
    same window, variant, settings and data)."""
    done: dict[str, RunResult] = {}
    for task in tasks:
        run = task.run
        path = runs_dir / run.run_id / RESULT
        if not path.is_file():
            continue
        try:
            result = RunResult.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError):
            continue  # unreadable: run it again
        if result.fingerprint == task.fingerprint and not result.interrupted:
            done[run.run_id] = result
    return done


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_run(runs_dir: Path, result: RunResult) -> None:
    folder = runs_dir / result.run_id
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(result.files.items()):
        _write_atomic(folder / name, data)
    body = result.model_dump_json(exclude={"files"}, indent=2) + "\n"
    _write_atomic(folder / RESULT, body.encode())  # last: the run is done


def write_report(folder: Path, summary: StudySummary) -> list[Path]:
    from mytrader.study.chart import excess_sharpe_chart

    files = [folder / "study.json", folder / "runs.csv", folder / "excess_sharpe.png"]
    chart_tmp = folder / ".excess_sharpe.png.tmp.png"
    excess_sharpe_chart(summary, chart_tmp)
    _write_atomic(files[0], study_json(summary).encode())
    _write_atomic(files[1], runs_csv(summary).encode())
    os.replace(chart_tmp, files[2])
    return files


def study_command(
    spec: StudySpec,
    console: Console,
    *,
    out: Path = Path("studies"),
    workers: int,
    address: str | None = None,
) -> StudySummary:
    """Run the study; StudyExit(status) when it cannot finish (the reason shown)."""
    try:
        settings = load_settings()
        base = shipped_settings(settings)
        history = load_history(spec.data)
        check_variant_values(spec, base)
        runs = planned(spec, settings, history)
    except (StudyInputError, ConfigError, MarketDataError) as exc:
        raise _fail(console, exc, 2) from None
    if spec.account not in settings.accounts:
        raise _fail(
            console,
            f"account {spec.account!r} is not in the arena ({', '.join(settings.accounts)})",
            2,
        )
    try:
        with open_store(settings) as store:  # created or upgraded once, before the workers
            location = store.location
    except StoreError as exc:
        raise _fail(console, exc, 3) from None
    if address and not settings.postgres_url:
        console.print(
            f"warning: the tables are in SQLite ({location}): every worker must run on this "
            "machine; for a cluster set DATABASE_URL to a shared PostgreSQL",
            style="yellow",
            markup=False,
            highlight=False,
        )
    if address and settings.llm_cache == "file" and real_models(spec, settings):
        console.print(
            "note: each machine keeps its own LLM cache (LLM_CACHE=file); LLM_CACHE=database "
            "keeps the answers in the tables' database, shared by every worker",
            markup=False,
            highlight=False,
        )
    no_spy = missing_benchmark(history, SPY, spec.data)
    if no_spy:
        console.print(f"warning: {no_spy}", style="yellow", markup=False, highlight=False)
    folder = out / spec.grid.study_id
    runs_dir = folder / "runs"  # made by the first run that ends: nothing before
    digest = file_digest(spec.data) if spec.data else None
    days_of = {r.run_id: _days(history, r) for r in runs}
    if workers == 0 and not address:
        keep_history(spec.data, digest, history)  # the runs in this process use this copy
    del history  # the workers load their own: the driver needs no second copy meanwhile
    every = [
        RunTask(
            run=r, data=spec.data, data_digest=digest, settings=base, llm_cache=settings.llm_cache
        )
        for r in runs
    ]
    results = done_runs(runs_dir, every)
    tasks = [t for t in every if t.run.run_id not in results]
    console.print(
        f"study [bold]{spec.grid.study_id}[/bold]: {len(runs)} runs "
        f"({len({r.window for r in runs})} windows × {len(spec.grid.variants)} variants), "
        f"{len(results)} already done; "
        + (
            f"cluster {address}"
            if address
            else "in this process"
            if workers == 0
            else f"{workers} local workers"
        )
        + f"; tables in {location}"
    )
    failures = _run(tasks, results, runs_dir, days_of, console, workers=workers, address=address)
    if failures:
        for run_id, error in failures:
            console.print(
                f"run {run_id} failed: {for_log(error)}", style="red", markup=False, highlight=False
            )
        raise _fail(
            console, f"{len(failures)} run(s) failed; the others are kept: rerun to retry", 1
        )
    summary = summarize(spec, runs, results)
    files = write_report(folder, summary)
    for t in tables(summary):
        console.print(t)
    console.print(f"report: {', '.join(str(f) for f in files)}")
    return summary


def _days(history: PriceHistory, run: Run) -> int:
    """The trading days of a run's window (for the progress bar)."""
    cal = history.calendar
    start, end = run.window.start.isoformat(), run.window.end.isoformat()
    return bisect.bisect_right(cal, end) - bisect.bisect_left(cal, start)


def _run(
    tasks: list[RunTask],
    results: dict[str, RunResult],
    runs_dir: Path,
    days_of: dict[str, int],
    console: Console,
    *,
    workers: int,
    address: str | None,
) -> list[tuple[str, BaseException]]:
    failures: list[tuple[str, BaseException]] = []
    if not tasks:
        return failures
    total_days = sum(days_of[t.run.run_id] for t in tasks)
    progress = days_progress(console, unit="days · ")
    t0 = time.perf_counter()
    finished = 0

    with progress:
        bar = progress.add_task(f"runs 0/{len(tasks)}", total=total_days, rate="")

        def on_done(task: RunTask, outcome: RunResult | BaseException) -> None:
            nonlocal finished
            finished += 1
            if isinstance(outcome, BaseException):
                failures.append((task.run.run_id, outcome))
            else:
                save_run(runs_dir, outcome)
                results[outcome.run_id] = outcome
            progress.advance(bar, days_of[task.run.run_id])
            done_days = progress.tasks[0].completed
            rate = done_days / max(time.perf_counter() - t0, 1e-9)
            progress.update(
                bar, description=f"runs {finished}/{len(tasks)}", rate=f"{rate:.1f} days/s"
            )

        try:
            run_tasks(tasks, on_done, workers=workers, address=address)
        except EngineError as exc:
            raise _fail(console, exc, 3) from None
        except KeyboardInterrupt:
            progress.stop()
            console.print(
                f"[yellow]interrupted: {len(results)} runs done and kept; run the same "
                "command again to resume[/yellow]"
            )
            raise StudyExit(130) from None
    return failures


def _fmt(x: float | None, fmt: str) -> str:
    return "-" if x is None else fmt.format(x)


def tables(summary: StudySummary) -> list[Table]:
    """Per variant across windows, then the statistics of selection."""
    s = summary.study
    t = Table(title=f"Study {s['id']} · {s['runs']} runs · account {s['account']}")
    for c in (
        "variant",
        "windows",
        "return (median [IQR])",
        "Sharpe",
        "excess Sharpe",
        "beat SPY",
        "PSR>0",
    ):
        t.add_column(c, justify="left" if c == "variant" else "right")
    for name, v in summary.variants.items():
        r = v.total_return_pct
        iqr = f" [{r.q25:+.1f}, {r.q75:+.1f}]" if r.q25 is not None and r.q75 is not None else ""
        t.add_row(
            name,
            str(v.windows),
            _fmt(r.median, "{:+.1f}%") + iqr,
            _fmt(v.sharpe.median, "{:.2f}"),
            _fmt(v.excess_sharpe.median, "{:+.2f}"),
            _fmt(None if v.beat_spy_share is None else v.beat_spy_share * 100, "{:.0f}%"),
            _fmt(None if v.psr_vs_zero.median is None else v.psr_vs_zero.median * 100, "{:.0f}%"),
        )
    sel = summary.selection
    pick = Table(title="Selection: skill or the best of many tries?", show_header=False)
    pick.add_column("")
    pick.add_column("")
    pick.add_row("best variant", sel.best_variant or "-")
    d = sel.deflated_sharpe
    if d is not None:
        pick.add_row(
            "deflated Sharpe (DSR)",
            f"{_fmt(d.dsr, '{:.2f}')}  (daily Sharpe {d.sharpe:.3f} vs {d.expected_max:.3f} "
            f"expected from the best of {d.trials} trials by luck)",
        )
    o = sel.overfitting
    if o is not None:
        pick.add_row(
            "prob. of overfitting (PBO)",
            f"{o.pbo:.2f}  (CSCV, {o.blocks} blocks, {o.combinations} splits)",
        )
    for note in sel.notes:
        pick.add_row("note", note)
    return [t, pick]


def real_models(spec: StudySpec, settings: Settings) -> bool:
    """Whether a run of the study asks a real model (its answers then go to the cache)."""
    chosen = {v.overrides.get("models") for v in spec.grid.variants}
    return "openrouter" in chosen or any(
        settings.llm_kind(p) == "openrouter" for p in settings.personas
    )
