"""`mytrader study`: many backtests at once (the work is in mytrader.study)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mytrader.cli.output import console, flush_traces, say_error


def study(
    file: Annotated[
        Path | None, typer.Argument(help="Study file (.toml or .yaml); or the options below.")
    ] = None,
    study_id: Annotated[str | None, typer.Option("--id", help="The study's name.")] = None,
    data: Annotated[
        Path | None, typer.Option(help="CSV(.gz) of daily bars (default: bundled sample).")
    ] = None,
    windows: Annotated[
        str | None,
        typer.Option(help="yearly, rolling:N (trading days), or start..end,start..end."),
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option(help='A variant: "name:setting=value,..." (repeat the option).'),
    ] = None,
    account: Annotated[str | None, typer.Option(help="Account judged (collaborative).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=0, help="Local worker processes (0: one after another here).")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="Dask scheduler of a cluster (or DASK_SCHEDULER_ADDRESS).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where studies/<id>/ goes.")] = Path("studies"),
) -> None:
    """Run a grid of backtests (windows x variants) on Dask; judge it with the deflated
    Sharpe ratio and the probability of backtest overfitting. Rerun to resume."""
    from mytrader.study.command import StudyExit, study_command
    from mytrader.study.engine import ADDRESS_VARIABLE, default_workers
    from mytrader.study.spec import StudyInputError, load_study_file, parse_variant, spec_of

    try:
        if file is not None:
            spec = load_study_file(file)
            updates: dict[str, object] = {}
            if data is not None:
                updates["data"] = data
            if account is not None:
                updates["account"] = account
            spec = spec.model_copy(update=updates)
        else:
            raw: dict[str, object] = {
                "id": study_id,
                "variants": [parse_variant(v) for v in variant or []],
            }
            if windows is not None:
                raw["windows"] = windows
            if data is not None:
                raw["data"] = str(data)
            if account is not None:
                raw["account"] = account
            spec = spec_of(raw)
        if file is not None and study_id:
            spec = spec.model_copy(
                update={"grid": spec.grid.model_copy(update={"study_id": study_id})}
            )
    except StudyInputError as exc:
        say_error(exc)
        raise typer.Exit(2) from None
    try:
        study_command(
            spec,
            console,
            out=out,
            workers=default_workers() if workers is None else workers,
            address=address or os.environ.get(ADDRESS_VARIABLE) or None,
        )
    except StudyExit as exc:
        raise typer.Exit(exc.status) from None
    finally:
        flush_traces()
