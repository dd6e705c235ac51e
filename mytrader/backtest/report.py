"""The report of a run, read back from the arena's tables: figures, files and a chart.

Everything comes from what the graph recorded under the run id (portfolio_snapshots,
trades, llm_usage), so the report shows exactly what a dashboard browsing that arena
shows. `metrics.json` is byte-identical across reruns: sorted keys, fixed rounding, no
run id and no timestamp in it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.table import Table

from mytrader.adapters.bars import PriceHistory
from mytrader.adapters.store.db import ArenaStore
from mytrader.backtest import benchmarks as bm
from mytrader.domain.metrics import Figures, SharpeSkill, figures, rounded, skill
from mytrader.domain.records import Snapshot
from mytrader.domain.text import csv_cell
from mytrader.domain.text import for_terminal as shown

if TYPE_CHECKING:
    from mytrader.backtest.runner import BacktestRun

SPY_BH = "SPY"
EQUAL_BH = "equal weight"


class AccountFigures(BaseModel):
    figures: Figures
    trades: int = 0
    closed_trades: int = 0
    win_rate_pct: float | None = None
    fees: Decimal = Decimal("0")
    exposure_pct: float | None = None  # mean share of equity held in positions
    llm_cost_usd: Decimal | None = None  # only when real models ran
    vs_spy: SharpeSkill | None = None


class Report(BaseModel):
    run: dict[str, Any]
    dates: list[str]
    curves: dict[str, list[Decimal]]  # account or benchmark -> equity per date
    accounts: dict[str, AccountFigures]
    benchmarks: dict[str, Figures]


def curves_of(snapshots: Sequence[Snapshot]) -> tuple[list[str], dict[str, list[Snapshot]]]:
    by_account: dict[str, list[Snapshot]] = {}
    for s in sorted(snapshots, key=lambda s: (s.cycle, s.account)):
        by_account.setdefault(s.account, []).append(s)
    dates = sorted({s.as_of for s in snapshots})
    return dates, by_account


def report_of(store: ArenaStore, run: BacktestRun, facts: dict[str, Any]) -> Report:
    """The report of a run made with `run`'s settings and options (`facts`: what ran)."""
    s = run.settings
    return build_report(
        store,
        run.run_id,
        run.history,
        cash=s.starting_cash,
        fee=s.fee_per_trade,
        buffer_pct=s.buy_limit_buffer_pct,
        slippage_bps=run.options.slippage_bps,
        run=facts,
        accounts=s.accounts,
    )


def build_report(
    store: ArenaStore,
    run_id: str,
    history: PriceHistory,
    *,
    cash: Decimal,
    fee: Decimal,
    buffer_pct: Decimal,
    slippage_bps: Decimal,
    run: dict[str, Any],
    accounts: Sequence[str],
) -> Report:
    """`accounts`: the run's roster and the collaborative account, in that order."""
    dates, by_account = curves_of(store.snapshots(run_id))
    usage = store.usage(run_id)
    curves: dict[str, list[Decimal]] = {}
    spy = bm.spy_buy_and_hold(history, dates, cash, fee, buffer_pct, slippage_bps)
    equal = bm.equal_weight(history, dates, cash, fee, slippage_bps)
    benchmarks: dict[str, Figures] = {}
    for name, curve in ((SPY_BH, spy), (EQUAL_BH, equal)):
        if curve is not None:
            curves[name] = curve
            benchmarks[name] = figures(dates, curve)
    figures_of: dict[str, AccountFigures] = {}
    for account in [a for a in accounts if a in by_account]:
        snaps = by_account[account]
        equity = [s.equity for s in snaps]
        curves[account] = equity
        last = snaps[-1]
        closed = last.wins + last.losses
        paid = usage.get(account)
        exposure = [float(s.positions_value / s.equity) for s in snaps if s.equity]
        figures_of[account] = AccountFigures(
            figures=figures([s.as_of for s in snaps], equity),
            trades=last.trades,
            closed_trades=closed,
            win_rate_pct=last.wins / closed * 100.0 if closed else None,
            fees=last.fees,
            exposure_pct=sum(exposure) / len(exposure) * 100.0 if exposure else None,
            llm_cost_usd=paid.cost_usd if paid and paid.calls and not _house(paid.model) else None,
            vs_spy=skill(equity, spy) if spy is not None and len(spy) == len(equity) else None,
        )
    return Report(run=run, dates=dates, curves=curves, accounts=figures_of, benchmarks=benchmarks)


def _house(model: str) -> bool:
    return model.startswith("house/")


# --- files ---------------------------------------------------------------------------


def metrics_json(report: Report) -> str:
    body = {
        "run": report.run,
        "accounts": {a: rounded(f) for a, f in report.accounts.items()},
        "benchmarks": {b: rounded(f) for b, f in report.benchmarks.items()},
    }
    return json.dumps(rounded(body), sort_keys=True, indent=2) + "\n"


def write_files(report: Report, trades: list[dict[str, Any]], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(metrics_json(report), encoding="utf-8")
    with (out / "equity.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["date", "series", "equity"])
        for name, curve in report.curves.items():
            for day, eq in zip(report.dates, curve, strict=False):
                w.writerow([csv_cell(day), csv_cell(name), csv_cell(round(eq, 2))])
    with (out / "trades.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(TRADE_COLUMNS)
        for t in trades:
            w.writerow([csv_cell(t.get(c)) for c in TRADE_COLUMNS])
    files = [out / n for n in ("metrics.json", "equity.csv", "trades.csv")]
    if report.dates:
        from mytrader.backtest.chart import equity_chart

        files.append(equity_chart(report, out / "equity.png"))
    return files


# The client order id holds the run id: left out, so two runs' files compare equal.
TRADE_COLUMNS = (
    "cycle",
    "as_of",
    "account",
    "side",
    "symbol",
    "qty",
    "status",
    "filled_qty",
    "filled_avg_price",
    "filled_at",
    "fee",
    "realized_pnl",
    "reason",
)


def trade_rows(store: ArenaStore, run_id: str) -> list[dict[str, Any]]:
    return [t.model_dump() for t in store.trades(run_id)]


# --- terminal ------------------------------------------------------------------------


def _f(x: float | None, fmt: str = "{:+.1f}%") -> str:
    return "-" if x is None else fmt.format(x)


def tables(report: Report) -> list[Table]:
    """Two tables that fit 80 columns: performance of every curve, then trading and skill."""
    r = report.run
    title = shown(
        f"Backtest {r.get('start')} → {r.get('end')} · {r.get('days')} days · "
        f"{r.get('models')} models · {'BLIND' if r.get('blind') else 'open'} mode"
    )
    perf = Table(title=title)
    for c in ("", "return", "CAGR", "vol", "Sharpe", "Sortino", "max DD", "Calmar"):
        perf.add_column(c, justify="left" if c == "" else "right")
    curves: list[tuple[str, Figures]] = [(a, f.figures) for a, f in report.accounts.items()]
    curves += list(report.benchmarks.items())
    for name, fig in curves:
        perf.add_row(
            shown(name),
            _f(fig.total_return_pct),
            _f(fig.cagr_pct),
            _f(fig.volatility_pct, "{:.1f}%"),
            _f(fig.sharpe, "{:.2f}"),
            _f(fig.sortino, "{:.2f}"),
            _f(fig.drawdown.max_drawdown_pct),
            _f(fig.calmar, "{:.2f}"),
        )
    paid = any(a.llm_cost_usd is not None for a in report.accounts.values())
    trading = Table(title="Trading, and excess return over SPY: skill or luck?")
    cols = ["", "trades", "win%", "fees", "exposure", *(["LLM $"] if paid else [])]
    for c in [*cols, "excess Sharpe [95% CI]", "PSR"]:
        trading.add_column(c, justify="left" if c == "" else "right")
    for name, acc in report.accounts.items():
        s = acc.vs_spy
        ci = "-"
        if s is not None and s.excess_sharpe is not None:
            low, high = _f(s.ci95_low, "{:+.2f}"), _f(s.ci95_high, "{:+.2f}")
            ci = f"{s.excess_sharpe:+.2f} [{low}, {high}]"
        cells = [
            shown(name),
            str(acc.trades),
            _f(acc.win_rate_pct, "{:.0f}%"),
            f"{acc.fees:,.0f}",
            _f(acc.exposure_pct, "{:.0f}%"),
        ]
        if paid:
            cells.append(f"{acc.llm_cost_usd:.4f}" if acc.llm_cost_usd is not None else "-")
        psr = s.psr * 100 if s is not None and s.psr is not None else None
        trading.add_row(*cells, ci, _f(psr, "{:.0f}%"))
    return [perf, trading]
