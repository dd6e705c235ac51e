"""`mytrader backtest`: the body of the command (cli.py holds only its wrapper)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from mytrader.adapters.bars import MarketDataError
from mytrader.adapters.store.db import StoreError
from mytrader.app.storage import open_store
from mytrader.backtest.benchmarks import SPY
from mytrader.backtest.data import missing_benchmark
from mytrader.backtest.progress import days_progress
from mytrader.backtest.report import (
    curves_of,
    report_of,
    tables,
    trade_rows,
    write_files,
)
from mytrader.backtest.runner import RUN_PREFIX, BacktestOptions, prepare, run_backtest
from mytrader.config import ConfigError
from mytrader.domain.metrics import figures
from mytrader.domain.study_grid import RUN_PREFIX as STUDY_RUN_PREFIX
from mytrader.domain.text import for_log
from mytrader.domain.text import for_terminal as shown


def run_command(options: BacktestOptions, out: Path | None, console: Console) -> None:
    try:
        run, broker = prepare(options)
    except (MarketDataError, ConfigError) as exc:
        console.print(for_log(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    try:
        store = open_store(run.settings)
    except StoreError as exc:
        console.print(for_log(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(3) from None
    no_spy = missing_benchmark(run.history, SPY, options.data)
    if no_spy:  # said, not silently left out of the report
        console.print(f"warning: {no_spy}", style="yellow", markup=False, highlight=False)
    with store:
        console.print(
            f"backtest [bold]{run.run_id}[/bold]: {run.start} → {run.end}, "
            f"{run.days_total} trading days, {len(run.history.symbols)} symbols, "
            f"{options.models} models{', blind' if options.blind else ''} "
            f"(database {shown(store.location)})"
        )
        progress = days_progress(console)
        with progress:
            task = progress.add_task("days", total=run.days_total, rate="")

            def advance(done: int, total: int, as_of: str) -> None:
                t = progress.tasks[0]
                rate = f"{t.speed:.1f} days/s" if t.speed else ""
                progress.update(task, completed=done, rate=rate, description=as_of)

            run_backtest(run, broker, store, progress=advance)
        if run.interrupted:
            console.print(
                f"[yellow]interrupted after {len(run.dates)} of {run.days_total} days: "
                "the report covers the days done[/yellow]"
            )
        report = report_of(store, run, run_facts(run))
        folder = out or Path("backtests") / run.run_id
        files = write_files(report, trade_rows(store, run.run_id), folder)
    for t in tables(report):
        console.print(t)
    speed = len(run.dates) / run.elapsed_s if run.elapsed_s else 0.0
    console.print(
        f"{len(run.dates)} days in {run.elapsed_s:.1f} s ({speed:.1f} days/s)"
        + (
            f"; LLM cache: {run.cache_hits} hits, {run.cache_misses} misses"
            if run.cache_hits or run.cache_misses
            else ""
        )
    )
    console.print(f"report: {shown(', '.join(str(f) for f in files))}")
    console.print(f"browse it as arena [bold]{run.run_id}[/bold] (ARENA_ID={run.run_id})")


def run_facts(run: Any) -> dict[str, Any]:
    """What ran, for metrics.json: no run id, no timestamp (reruns compare byte for byte)."""
    o: BacktestOptions = run.options
    s = run.settings
    return {
        "data": o.data.name if o.data else "bundled sample",
        "start": run.start,
        "end": run.end,
        "days": len(run.dates),
        "days_planned": run.days_total,
        "interrupted": run.interrupted,
        "symbols": len(run.history.symbols),
        "models": o.models,
        "blind": o.blind,
        "vote": s.vote_mode,
        "critique_every": s.critique_interval,
        "fee": str(s.fee_per_trade),
        "slippage_bps": str(o.slippage_bps),
        "starting_cash": str(s.starting_cash),
    }


def list_command(settings: Any, console: Console) -> None:
    try:
        store = open_store(settings)
    except StoreError as exc:
        console.print(for_log(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(3) from None
    with store:
        # A study's runs (st_...) are backtests too: listed after the single runs.
        runs = store.arena_ids(RUN_PREFIX) + store.arena_ids(STUDY_RUN_PREFIX)
        if not runs:
            console.print("No backtest recorded yet: run `mytrader backtest`.")
            return
        t = Table(title=f"Backtests in {store.location}")
        for c in ("run", "from", "to", "days", "best account", "collaborative", "Sharpe", "max DD"):
            t.add_column(c, justify="left" if c in ("run", "best account") else "right")
        for run_id in runs:
            dates, by_account = curves_of(store.snapshots(run_id))
            if not dates:
                continue
            figs = {
                a: figures([s.as_of for s in snaps], [s.equity for s in snaps])
                for a, snaps in by_account.items()
            }
            best = max(figs, key=lambda a: (figs[a].total_return_pct or 0.0, a))
            collab = figs.get("collaborative")
            t.add_row(
                shown(run_id),
                dates[0],
                dates[-1],
                str(len(dates)),
                f"{best} {figs[best].total_return_pct or 0:+.1f}%",
                f"{collab.total_return_pct:+.1f}%"
                if collab and collab.total_return_pct is not None
                else "-",
                f"{collab.sharpe:.2f}" if collab and collab.sharpe is not None else "-",
                f"{collab.drawdown.max_drawdown_pct:+.1f}%"
                if collab and collab.drawdown.max_drawdown_pct is not None
                else "-",
            )
    console.print(t)


def options_from_cli(**kw: Any) -> BacktestOptions:
    fee = kw.pop("fee")
    try:
        return BacktestOptions(**kw, fee=Decimal(str(fee)) if fee is not None else None)
    except ValidationError as exc:  # a usage error (exit 2), not a traceback
        raise typer.BadParameter("; ".join(map(_option_problem, exc.errors()))) from None


def _option_problem(error: Any) -> str:
    option = "--" + "-".join(str(p) for p in error["loc"]).replace("_", "-")
    return f"{option}: {str(error['msg']).removeprefix('Value error, ')}"
