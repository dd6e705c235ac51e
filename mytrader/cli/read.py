"""Reading the arena's records: `leaderboard`, `logs`, `trades` (and the standings table the
`run` command ends with)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.table import Table

from mytrader.app.leaderboard import Standing
from mytrader.app.leaderboard import leaderboard as leaderboard_of
from mytrader.cli.output import console, reported_errors, say_error, settings_or_exit
from mytrader.domain.records import LogKind
from mytrader.domain.text import for_log
from mytrader.domain.text import for_terminal as shown

if TYPE_CHECKING:  # the store is imported only by the commands that read it
    pass


def sharpe_cell(r: Standing) -> str:
    """No bare Sharpe: below the minimum days the words; from it on with its interval."""
    if r.status_code == "too_early":
        return f"too early to tell\n{r.days} of {r.status.split(' of ')[-1] if r.status else '?'}"
    if r.sharpe is None:
        return "-"
    low, high = r.sharpe_ci95_low, r.sharpe_ci95_high
    return f"{r.sharpe:.2f}" + ("" if low is None or high is None else f" [{low:.1f}, {high:.1f}]")


def evidence_cell(r: Standing) -> str:
    """The status, short: the full sentence is in `--json` (`status`)."""
    needed = r.min_track_record_days if r.status_code != "too_early" else None
    match r.status_code:
        case "too_early":
            return r.status or ""
        case "short":
            return f"too early: {r.days}/{needed} d"
        case "no_edge":
            return "no edge shown"
        case "flat":
            return "no Sharpe"
        case "enough":
            return f"enough: {r.days}/{needed} d"
    return "-"


def show_table(rows: list[Standing]) -> None:
    if not rows:
        console.print("No cycle recorded yet: run `mytrader run --cycles 20`.")
        return
    paid = any(r.llm_calls and r.llm_cost_usd for r in rows)
    spy = rows[0].spy_return_pct
    vs = "" if spy is None else f"; SPY {spy:+.2f}% over the same days"
    table = Table(title=f"Leaderboard at cycle {rows[0].cycle} ({shown(rows[0].as_of)}){vs}")
    # Cash, positions and fees are left to --json, to make room for the evidence; the net
    # return (after the LLM bill) stands beside the gross one when a model cost anything.
    columns = ["account", "equity", "return", *(["net"] if paid else [])]
    columns += ["Sharpe [95% CI]", "max DD", "trades", "win%"]
    for col in [*columns, *(["LLM $"] if paid else [])]:
        table.add_column(col, justify="left" if col == "account" else "right")
    for r in rows:
        # Whole dollars on screen; `--json` has the exact figures.
        cells = [shown(r.account), f"{r.equity:,.0f}", f"{r.return_pct:+.2f}%"]
        if paid:
            cells.append("-" if r.net_return_pct is None else f"{r.net_return_pct:+.2f}%")
        cells += [
            # the Sharpe and, below it, how sure it is
            sharpe_cell(r) + ("" if r.status_code == "too_early" else f"\n{evidence_cell(r)}"),
            "-" if r.max_drawdown_pct is None else f"{r.max_drawdown_pct:.1f}%",
            str(r.trades),
            "-" if r.win_rate is None else f"{r.win_rate:.0%}",
        ]
        if paid:
            cells.append(f"{r.llm_cost_usd:.4f}")
        table.add_row(*cells)
    console.print(table)
    if any(r.status_code in ("too_early", "short") for r in rows):
        console.print(
            "Too early to tell: no Sharpe below the minimum days, and none is significant"
            " before its minimum track record (README: How sure is the leaderboard)."
        )


def leaderboard(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Per account: equity, return (gross and net of the LLM bill), Sharpe with its interval or
    "too early to tell", drawdown, trades, fees, win rate, LLM cost."""
    from mytrader.app.storage import open_store

    settings = settings_or_exit()
    with reported_errors(), open_store(settings) as store:
        rows = leaderboard_of(store, settings.arena_id)
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in rows], indent=2) + "\n")
    else:
        show_table(rows)


def logs(
    agent: Annotated[str | None, typer.Option(help="Only this agent.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="THOUGHT, CRITIQUE or DECISION.", case_sensitive=False)
    ] = None,
    cycles: Annotated[int, typer.Option(min=1, help="The last N cycles.")] = 1,
) -> None:
    """What the agents thought, critiqued and decided in the last cycles."""
    from mytrader.app.storage import open_store

    settings = settings_or_exit()
    wanted = kind.upper() if kind else None
    if wanted not in (None, "THOUGHT", "CRITIQUE", "DECISION"):
        say_error(f"--kind must be THOUGHT, CRITIQUE or DECISION, not {kind!r}")
        raise typer.Exit(2)
    with reported_errors(), open_store(settings) as store:
        last = store.last_cycle(settings.arena_id) or 0
        since = max(1, last - cycles + 1)
        rows = store.agent_logs(settings.arena_id, agent, cast(LogKind | None, wanted), since)
    if not rows:
        console.print("No agent logs for that selection.")
    for row in rows:
        console.rule(f"cycle {row.cycle} · {shown(row.agent)} · {row.kind}", align="left")
        console.print(for_log(row.content), markup=False, highlight=False)


def trades(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    cycles: Annotated[int, typer.Option(min=1, help="The last N cycles.")] = 20,
) -> None:
    """Every order leg of the last cycles: fills with price and fee, refusals with why."""
    from mytrader.app.storage import open_store

    settings = settings_or_exit()
    with reported_errors(), open_store(settings) as store:
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
