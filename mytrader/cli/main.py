"""The `mytrader` command: run cycles, show the leaderboard, reset the arena."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mytrader.app.leaderboard import Standing
from mytrader.app.leaderboard import leaderboard as leaderboard_of
from mytrader.config import ConfigError, Settings, load_settings
from mytrader.domain.records import LogKind
from mytrader.domain.text import for_log, scrub_secrets
from mytrader.domain.text import for_terminal as shown

if TYPE_CHECKING:  # the graph stack is imported only by the commands that run it
    from mytrader.app.runner import Arena, CycleSummary

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(emoji=False)  # `:name:` in a model's text stays text


def say_error(message: object) -> None:
    """An error for the operator: in red, shown as text (it may quote a setting's value,
    a model's answer or a server's reply)."""
    console.print(for_log(message), style="red", markup=False, highlight=False)


def say(message: object) -> None:
    """A message of ours that quotes outside text (an option, a setting), shown as text."""
    console.print(for_log(message), markup=False, highlight=False)


def settings_or_exit() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        say_error(exc)
        raise typer.Exit(2) from None
    hide_in_logs(settings)
    return settings


class ScrubbingFormatter(logging.Formatter):
    """Log lines with the settings' secrets masked and control characters shown."""

    secrets: tuple[str, ...] = ()

    def format(self, record: logging.LogRecord) -> str:
        return for_log(scrub_secrets(super().format(record), self.secrets))


LOG_FORMAT = ScrubbingFormatter("%(levelname)s %(name)s: %(message)s")


def hide_in_logs(settings: Settings) -> None:
    from mytrader.app.repair import secret_values

    ScrubbingFormatter.secrets = secret_values(settings)


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


@app.command()
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
            if every is None:
                run_cycles(settings, cycles or 1, quiet)
            else:
                run_scheduled(settings, every, cycles, quiet)
    finally:  # the traces of a failed run are the ones a reader needs most
        flush_traces()


@contextmanager
def reported_errors() -> Iterator[None]:
    """What a user can fix (a busy arena, a database or data file that is not there)
    ends the command with its message and exit status 3, not a traceback."""
    from mytrader.adapters.bars import MarketDataError
    from mytrader.adapters.news import NewsError
    from mytrader.adapters.store.db import StoreError
    from mytrader.adapters.store.lock import ArenaBusy
    from mytrader.app.repair import CycleFailed
    from mytrader.ports.broker import BrokerSetupError

    try:
        yield
    except (
        ArenaBusy,
        StoreError,
        MarketDataError,
        NewsError,
        CycleFailed,
        BrokerSetupError,
    ) as exc:
        say_error(exc)
        raise typer.Exit(3) from None
    except ConfigError as exc:  # e.g. a history too short for WARMUP_DAYS (runner.py)
        console.print(str(exc), markup=False, highlight=False, style="red")
        raise typer.Exit(2) from None


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


def flush_traces() -> None:
    """A short-lived process must send its LangSmith runs before it exits."""
    from langchain_core.tracers.langchain import wait_for_all_tracers

    wait_for_all_tracers()


def show_table(rows: list[Standing]) -> None:
    if not rows:
        console.print("No cycle recorded yet: run `mytrader run --cycles 20`.")
        return
    paid = any(r.llm_calls and r.llm_cost_usd for r in rows)
    spy = rows[0].spy_return_pct
    vs = "" if spy is None else f"; SPY {spy:+.2f}% over the same days"
    table = Table(title=f"Leaderboard at cycle {rows[0].cycle} ({shown(rows[0].as_of)}){vs}")
    # Cash and positions are left to --json, to make room for the risk figures.
    columns = ["account", "equity", "return", "Sharpe", "max DD", "trades", "fees", "win%"]
    for col in [*columns, *(["LLM $"] if paid else [])]:
        table.add_column(col, justify="left" if col == "account" else "right")
    for r in rows:
        # Whole dollars on screen (fits 80 columns); `--json` has the exact figures.
        cells = [
            shown(r.account),
            f"{r.equity:,.0f}",
            f"{r.return_pct:+.2f}%",
            "-" if r.sharpe is None else f"{r.sharpe:.2f}",
            "-" if r.max_drawdown_pct is None else f"{r.max_drawdown_pct:.1f}%",
            str(r.trades),
            f"{r.fees:,.0f}",
            "-" if r.win_rate is None else f"{r.win_rate:.0%}",
        ]
        if paid:
            cells.append(f"{r.llm_cost_usd:.4f}")
        table.add_row(*cells)
    console.print(table)


@app.command()
def leaderboard(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Per account: equity, return, cash, positions, trades, fees, win rate, LLM cost."""
    from mytrader.adapters.store.db import ArenaStore

    settings = settings_or_exit()
    with reported_errors(), ArenaStore.from_settings(settings) as store:
        rows = leaderboard_of(store, settings.arena_id)
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in rows], indent=2) + "\n")
    else:
        show_table(rows)


@app.command()
def logs(
    agent: Annotated[str | None, typer.Option(help="Only this agent.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="THOUGHT, CRITIQUE or DECISION.", case_sensitive=False)
    ] = None,
    cycles: Annotated[int, typer.Option(min=1, help="The last N cycles.")] = 1,
) -> None:
    """What the agents thought, critiqued and decided in the last cycles."""
    from mytrader.adapters.store.db import ArenaStore

    settings = settings_or_exit()
    wanted = kind.upper() if kind else None
    if wanted not in (None, "THOUGHT", "CRITIQUE", "DECISION"):
        say_error(f"--kind must be THOUGHT, CRITIQUE or DECISION, not {kind!r}")
        raise typer.Exit(2)
    with reported_errors(), ArenaStore.from_settings(settings) as store:
        last = store.last_cycle(settings.arena_id) or 0
        since = max(1, last - cycles + 1)
        rows = store.agent_logs(settings.arena_id, agent, cast(LogKind | None, wanted), since)
    if not rows:
        console.print("No agent logs for that selection.")
    for row in rows:
        console.rule(f"cycle {row.cycle} · {shown(row.agent)} · {row.kind}", align="left")
        console.print(for_log(row.content), markup=False, highlight=False)


@app.command()
def trades(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    cycles: Annotated[int, typer.Option(min=1, help="The last N cycles.")] = 20,
) -> None:
    """Every order leg of the last cycles: fills with price and fee, refusals with why."""
    from mytrader.adapters.store.db import ArenaStore

    settings = settings_or_exit()
    with reported_errors(), ArenaStore.from_settings(settings) as store:
        last = store.last_cycle(settings.arena_id) or 0
        rows = store.trades(settings.arena_id, account, since_cycle=max(1, last - cycles + 1))
    if not rows:
        console.print("No orders for that selection.")
        return
    table = Table(title=f"Orders, cycles {max(1, last - cycles + 1)}-{last}")
    for col in ("cycle", "date", "account", "side", "qty", "symbol", "status", "price", "fee"):
        table.add_column(
            col,
            justify="right" if col in ("cycle", "qty", "price", "fee") else "left",
            # the true status in full, even in a narrow terminal (the reason gives way)
            min_width=8 if col == "status" else None,
            overflow="fold" if col == "status" else "ellipsis",
        )
    table.add_column("reason")
    for t in rows:
        price = f"{t.filled_avg_price:.2f}" if t.filled_avg_price is not None else ""
        table.add_row(
            str(t.cycle),
            shown(t.as_of),
            shown(t.account),
            t.side,
            f"{t.filled_qty}/{t.qty}" if 0 < t.filled_qty < t.qty else str(t.qty),  # partial
            shown(t.symbol),
            t.status,
            price,
            f"{t.fee:.2f}",
            shown(t.reason),
        )
    console.print(table)


@app.command()
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


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """MyTrader: an arena of LLM traders on LangGraph."""
    handler = logging.StreamHandler()
    handler.setFormatter(LOG_FORMAT)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


# --- unattended: run --every, status ---


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


@app.command()
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


# --- harden-input ---


@app.command()
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


@app.command()
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


@app.command()
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


@app.command()
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


if __name__ == "__main__":
    app()
