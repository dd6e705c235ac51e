"""The report of a run, read back from the arena's tables: figures, files and a chart.

Everything comes from what the graph recorded under the run id (portfolio_snapshots,
trades, llm_usage), so the report shows exactly what a dashboard browsing that arena
shows. `metrics.json` is byte-identical across reruns: sorted keys, fixed rounding, no
run id and no timestamp in it; its `evidence` section is `app.evidence.arena_evidence` of
the run (seeded bootstraps), the one the leaderboard and the dashboard show.
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
from mytrader.app.evidence import arena_evidence
from mytrader.backtest import benchmarks as bm
from mytrader.domain.evidence import Evidence
from mytrader.domain.evidence_trades import BANDS
from mytrader.domain.metrics import Figures, figures, rounded
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


class Report(BaseModel):
    run: dict[str, Any]
    dates: list[str]
    curves: dict[str, list[Decimal]]  # account or benchmark -> equity per date
    accounts: dict[str, AccountFigures]
    benchmarks: dict[str, Figures]
    evidence: Evidence | None = None  # how sure: app.evidence, as every leaderboard


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
        )
    evidence = arena_evidence(store, run_id, accounts=list(figures_of)) if figures_of else None
    return Report(
        run=run,
        dates=dates,
        curves=curves,
        accounts=figures_of,
        benchmarks=benchmarks,
        evidence=evidence,
    )


def _house(model: str) -> bool:
    return model.startswith("house/")


# --- files ---------------------------------------------------------------------------


def metrics_json(report: Report) -> str:
    body = {
        "run": report.run,
        "accounts": {a: rounded(f) for a, f in report.accounts.items()},
        "benchmarks": {b: rounded(f) for b, f in report.benchmarks.items()},
        "evidence": None if report.evidence is None else report.evidence.model_dump(mode="json"),
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
    trading = Table(title="Trading")
    cols = ["", "trades", "win%", "fees", "exposure", *(["LLM $"] if paid else [])]
    for c in cols:
        trading.add_column(c, justify="left" if c == "" else "right")
    for name, acc in report.accounts.items():
        cells = [
            shown(name),
            str(acc.trades),
            _f(acc.win_rate_pct, "{:.0f}%"),
            f"{acc.fees:,.0f}",
            _f(acc.exposure_pct, "{:.0f}%"),
        ]
        if paid:
            cells.append(f"{acc.llm_cost_usd:.4f}" if acc.llm_cost_usd is not None else "-")
        trading.add_row(*cells)
    return [perf, trading, *evidence_tables(report.evidence)]


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def evidence_tables(ev: Evidence | None) -> list[Table]:
    """How sure: the Sharpe's block-bootstrap interval, PSR and minimum track record with
    the status in words; who beats whom; calibration; attribution of the collaborative P&L."""
    if ev is None:
        return []
    sure = Table(title="Skill or luck? Sharpe with its block-bootstrap interval")
    for head in ("", "Sharpe [95% CI]", "PSR>0", "PSR>SPY", "MinTRL", "net Sharpe", "evidence"):
        sure.add_column(head, justify="left" if head in ("", "evidence") else "right")
    for a in ev.accounts:
        g = a.gross
        ci = "-"
        if g.sharpe is not None:
            ci = f"{g.sharpe:.2f}"
            if g.ci95_low is not None and g.ci95_high is not None:
                ci += f" [{g.ci95_low:.2f}, {g.ci95_high:.2f}]"
        trl = "-" if g.min_track_record_days is None else f"{g.min_track_record_days} d"
        net = "-" if a.net.sharpe is None else f"{a.net.sharpe:.2f}"
        sure.add_row(
            shown(a.account),
            ci,
            _p(g.psr_vs_zero),
            _p(g.psr_vs_spy),
            trl,
            net if a.pays_llm_bill else f"{net} (no bill)",
            a.status.text,
        )
    beats = Table(title="Who beats whom: P(row's Sharpe > column's), paired block bootstrap")
    beats.add_column("")
    for n in ev.beats.names:
        beats.add_column(shown(n[:8]), justify="right")
    for i, n in enumerate(ev.beats.names):
        beats.add_row(
            shown(n),
            *("" if i == j else _p(p) for j, p in enumerate(ev.beats.p[i])),
        )
    calibration = Table(title="Calibration: stated confidence as P(win), closed trades")
    for head in ("", "closed", "Brier", "base", "hit(w)", *(f"{lo}-{hi}" for lo, hi in BANDS)):
        calibration.add_column(head, justify="left" if head == "" else "right")
    for who, cal in ev.calibration.items():
        bands = [
            "-" if b.trades == 0 else f"{_p(b.mean_stated)}→{_p(b.win_rate)}" for b in cal.bands
        ]
        calibration.add_row(
            shown(who),
            str(cal.trades),
            _f(cal.brier, "{:.3f}"),
            _f(cal.brier_of_base_rate, "{:.3f}"),
            _p(cal.weighted_hit_rate),
            *bands,
        )
    out = [sure, beats, calibration]
    if ev.attribution is not None:
        at = ev.attribution
        attribution = Table(title=f"Attribution of the collaborative P&L ({at.total_pnl:,.2f})")
        attribution.add_column("persona")
        attribution.add_column("P&L carried", justify="right")
        for who, pnl in at.by_persona.items():
            attribution.add_row(shown(who), f"{pnl:,.2f}")
        if at.unattributed:
            attribution.add_row("unattributed", f"{at.unattributed:,.2f}")
        out.append(attribution)
    return out
