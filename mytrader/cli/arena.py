"""Running and looking after the arena: `run` (and `run --every`), `status`, `reset`, `repair`,
`reconcile`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mytrader.app.leaderboard import leaderboard as leaderboard_of
from mytrader.cli.output import (
    console,
    flush_traces,
    reported_errors,
    say,
    say_error,
    settings_or_exit,
)
from mytrader.cli.read import show_table
from mytrader.config import Settings
from mytrader.domain.text import for_terminal as shown

if TYPE_CHECKING:  # the graph stack is imported only by the commands that run it
    from mytrader.app.runner import Arena, CycleSummary


def run(
    cycles: Annotated[
        int | None,
        typer.Option(min=1, help="Cycles to run in this call (default 1; with --every: no limit)."),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Only the leaderboard at the end.")] = False,
    every: Annotated[
        str | None,
        typer.Option(help="Run unattended: one cycle per interval (1s, 15m, 1h) while open."),
    ] = None,
) -> None:
    """Run cycles of the arena; each call continues where the last one ended."""
    settings = settings_or_exit()
    try:
        with reported_errors():
            from mytrader.app.providers import check_providers

            check_providers(settings)  # before the first cycle: exit 2 or 3, naming the setting
            if every is None:
                run_cycles(settings, cycles or 1, quiet)
            else:
                run_scheduled(settings, every, cycles, quiet)
    finally:  # the traces of a failed run are the ones a reader needs most
        flush_traces()


def run_cycles(settings: Settings, cycles: int, quiet: bool) -> None:
    from mytrader.app.reconcile import describe
    from mytrader.app.runner import open_arena

    with open_arena(settings) as arena:
        console.print(f"[dim]trading on: {shown(describe(arena.services.broker))}[/dim]")
        for warning in arena.unknown_watchlist():
            console.print(f"[yellow]warning: {shown(warning)}[/yellow]", highlight=False)
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        with progress:
            task = progress.add_task("cycles", total=cycles)
            for _ in range(cycles):
                try:
                    summary = arena.run_cycle()
                except Exception as exc:  # said with its node and the way on (exit 3)
                    if arena.last_failure is None:
                        raise
                    raise arena.last_failure from exc
                if summary.status == "exhausted":
                    progress.stop()
                    console.print(f"[yellow]{shown(summary.message)}[/yellow]")
                    break
                if not quiet:
                    for line in cycle_lines(summary):
                        progress.console.print(line)
                progress.advance(task)
        arena.prune()
        show_table(leaderboard_of(arena.services.store, settings.arena_id))


def cycle_lines(summary: CycleSummary) -> list[str]:
    """The cycle as Rich markup lines; every text from outside (an error quoting a model,
    a symbol, a broker's reason) is shown as text on one line."""
    head = f"[bold]cycle {summary.cycle}[/bold] {shown(summary.as_of)}"
    if summary.resumed:
        head += " [yellow](resumed)[/yellow]"
    lines = [head]
    for agent, result in summary.decisions.items():
        d = result.decision
        what = f"{d.decision} {d.quantity} {d.symbol}" if d.decision != "HOLD" else "HOLD"
        note = f" [red]({shown(result.error)})[/red]" if result.error else ""
        lines.append(
            f"  {shown(f'{agent:<9}')} {shown(f'{what:<18}')} conf {d.confidence:>3}{note}"
        )
    if summary.vote:
        v = summary.vote.decision
        what = f"{v.decision} {v.quantity} {v.symbol}" if v.decision != "HOLD" else "HOLD"
        lines.append(f"  {'vote':<9} {shown(f'{what:<18}')} {shown(summary.vote.reason)}")
    for booked in summary.settled:
        o = booked.order
        if o.filled_qty:
            lines.append(
                f"  [green]{shown(o.account)}: {o.side} {o.filled_qty} {shown(o.symbol)} "
                f"filled at {o.filled_avg_price} (placed in cycle {booked.cycle})[/green]"
            )
    for order in summary.orders:
        if order.is_open:
            limit = f" {order.limit_price}" if order.limit_price else ""
            lines.append(
                f"  [cyan]{shown(order.account)}: {order.side} {order.qty} "
                f"{shown(order.symbol)} placed ({order.type}{limit})[/cyan]"
            )
        else:
            lines.append(
                f"  [dim]{shown(order.account)}: {order.side} {order.qty} {shown(order.symbol)} "
                f"{order.status}: {shown(order.reason)}[/dim]"
            )
    return lines


def run_scheduled(settings: Settings, every: str, cycles: int | None, quiet: bool) -> None:
    from mytrader.app.scheduler import parse_interval, run_every

    try:
        interval = parse_interval(every)
    except ValueError as exc:
        say_error(exc)
        raise typer.Exit(2) from None

    def show_cycle(summary: CycleSummary) -> None:
        if not quiet:
            for line in cycle_lines(summary):
                console.print(line)

    def finish(arena: Arena) -> None:
        show_table(leaderboard_of(arena.services.store, settings.arena_id))

    run_every(
        settings,
        interval,
        max_cycles=cycles,
        quiet=quiet,
        console=console,
        show_cycle=show_cycle,
        finish=finish,
    )


def status(
    every: Annotated[
        str | None,
        typer.Option(help="The arena's interval (default: the one its last run recorded)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Last cycle, next one, broker clock, open orders, reconcile; exit 1 when unhealthy."""
    from mytrader.app.status import run_status

    settings = settings_or_exit()
    with reported_errors():
        try:
            code = run_status(settings, every, as_json, console)
        except ValueError as exc:  # a wrong --every
            say_error(exc)
            raise typer.Exit(2) from None
    raise typer.Exit(code)


def reset(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Forget the arena: its checkpoints, trades, logs and snapshots."""
    settings = settings_or_exit()
    if not yes and not typer.confirm(f"Delete arena '{settings.arena_id}' and all its records?"):
        raise typer.Exit(1)
    from mytrader.app.runner import open_arena

    with reported_errors(), open_arena(settings) as arena:
        arena.reset()
    console.print(f"Arena '{shown(settings.arena_id)}' reset.")


def repair(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """End a cycle that keeps failing, keeping its orders and books (README: When a cycle
    keeps failing)."""
    settings = settings_or_exit()
    from mytrader.app.repair import repair as repair_cycle
    from mytrader.app.repair import to_repair
    from mytrader.app.runner import open_arena

    with reported_errors(), open_arena(settings) as arena:
        pending = to_repair(arena)
        if pending is None:
            console.print("Nothing to repair: no cycle is pending.")
            return
        say(pending)
        if not yes and not typer.confirm("End this cycle without rerunning the failed step?"):
            raise typer.Exit(1)
        report = repair_cycle(arena)
    say(report.message)
    if not report.done:
        raise typer.Exit(3)


def reconcile(
    fix_records: Annotated[
        bool,
        typer.Option(
            "--fix-records",
            help="First rewrite the trades rows still open for orders the broker closed.",
        ),
    ] = False,
) -> None:
    """Compare the books and the open orders with the broker's; exit 1 on any difference."""
    from mytrader.app.reconcile import run_reconcile

    settings = settings_or_exit()
    with reported_errors():
        code = run_reconcile(settings, console, fix=fix_records)
    raise typer.Exit(code)
