"""`mytrader backtest`: replay the arena over history (the work is in mytrader.backtest)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mytrader.cli.output import console, flush_traces, say_error, settings_or_exit


def backtest(
    start: Annotated[str | None, typer.Option(help="First trading day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last trading day (YYYY-MM-DD).")] = None,
    data: Annotated[
        Path | None, typer.Option(help="CSV(.gz) of symbol,date,open,high,low,close,volume.")
    ] = None,
    models: Annotated[str, typer.Option(help="house or openrouter (answers cached).")] = "house",
    vote: Annotated[str | None, typer.Option(help="majority or weighted.")] = None,
    critique_every: Annotated[int | None, typer.Option(min=1, help="Trades per critique.")] = None,
    fee: Annotated[float | None, typer.Option(min=0, help="Dollars per filled order.")] = None,
    slippage_bps: Annotated[float, typer.Option(min=0, help="Fill slippage, bps.")] = 0.0,
    blind: Annotated[bool, typer.Option(help="Pseudonyms and day numbers for the models.")] = False,
    cache: Annotated[Path | None, typer.Option(help="LLM cache file.")] = None,
    out: Annotated[Path | None, typer.Option(help="Report folder (backtests/<run id>).")] = None,
    list_runs: Annotated[bool, typer.Option("--list", help="Past runs and their figures.")] = False,
) -> None:
    """Replay the arena over history; report per account against SPY and equal weight."""
    from mytrader.backtest.command import list_command, options_from_cli, run_command

    if list_runs:
        list_command(settings_or_exit(), console)
        return
    if models not in ("house", "openrouter") or vote not in (None, "majority", "weighted"):
        say_error("--models must be house or openrouter; --vote majority or weighted")
        raise typer.Exit(2)
    options = options_from_cli(
        data=data,
        start=start,
        end=end,
        models=models,
        vote=vote,
        critique_every=critique_every,
        fee=fee,
        slippage_bps=str(slippage_bps),
        blind=blind,
        cache=cache,
    )
    try:
        run_command(options, out, console)
    finally:
        flush_traces()
