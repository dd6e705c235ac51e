"""`mytrader serve`: the dashboard (the work is in mytrader.web)."""

from __future__ import annotations

from typing import Annotated

import typer

from mytrader.cli.output import reported_errors, say, say_error, settings_or_exit


def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; beyond loopback needs DASHBOARD_TOKEN.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    arena: Annotated[str | None, typer.Option(help="Arena shown first (default ARENA_ID).")] = None,
) -> None:
    """The dashboard in a browser: standings, equity, decisions, votes, books, orders; live."""
    from mytrader.web.serve import ServeRefused
    from mytrader.web.serve import serve as run_server

    settings = settings_or_exit()
    try:
        with reported_errors():
            run_server(settings, host, port, arena, announce=say)
    except ServeRefused as exc:
        say_error(exc)
        raise typer.Exit(2) from None
