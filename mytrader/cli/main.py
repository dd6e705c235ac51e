"""The `mytrader` command: run cycles, show the leaderboard, reset the arena."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from mytrader.cli.arena import reconcile, repair, reset, run, status
from mytrader.cli.backtest import backtest
from mytrader.cli.output import LOG_FORMAT
from mytrader.cli.read import leaderboard, logs, trades
from mytrader.cli.serve import serve
from mytrader.cli.study import study

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """MyTrader: an arena of LLM traders on LangGraph."""
    handler = logging.StreamHandler()
    handler.setFormatter(LOG_FORMAT)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


app.callback()(main)
# In the order `mytrader --help` lists them.
for command in (
    run,
    leaderboard,
    logs,
    trades,
    reset,
    status,
    repair,
    serve,
    backtest,
    study,
    reconcile,
):
    app.command()(command)


if __name__ == "__main__":
    app()
