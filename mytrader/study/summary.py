"""A study's results, judged per variant across windows, and the statistics of selection.

Per run (one window, one variant), for the account the study judges: total return, Sharpe,
SPY's Sharpe over the same dates, the excess Sharpe (the account's Sharpe minus SPY's, both
annualised), whether it beat SPY (a higher total return), and the evidence figures of the
run's backtest report (PSR against 0 and SPY, minimum track record, the status in words).

Per variant: the median and spread (quartiles, min, max) of those figures over its windows,
and the share of windows that beat SPY.

Selection: the best variant is the one with the highest per-day Sharpe over all its windows'
daily returns (its whole track record, windows in time order). Its deflated Sharpe ratio
(Bailey & López de Prado 2014) counts every variant as a trial; the probability of backtest
overfitting (CSCV, Bailey, Borwein, López de Prado & Zhu) is computed on the T x N matrix of
the variants' daily returns (T the days of all windows, N the variants), with as many blocks
as asked (16 by default) or fewer, even, when the days are too few.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
from pydantic import BaseModel

from mytrader.domain.evidence_sharpe import daily_sharpe
from mytrader.domain.metrics import figures, returns_of, rounded
from mytrader.domain.study_grid import Run
from mytrader.domain.study_stats import DeflatedSharpe, Overfitting, deflated_sharpe, overfitting
from mytrader.study.spec import StudySpec
from mytrader.study.task import RunResult

SPY = "SPY"


class Spread(BaseModel):
    median: float | None = None
    q25: float | None = None
    q75: float | None = None
    min: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Spread:
        found = np.asarray([v for v in values if v is not None], dtype=np.float64)
        if not len(found):
            return cls()
        q25, median, q75 = np.percentile(found, [25, 50, 75])
        return cls(
            median=float(median),
            q25=float(q25),
            q75=float(q75),
            min=float(found.min()),
            max=float(found.max()),
        )


class RunRow(BaseModel):
    """One run's figures for the account judged."""

    run_id: str
    variant: str
    start: str
    end: str
    days: int
    total_return_pct: float | None
    sharpe: float | None
    spy_return_pct: float | None
    spy_sharpe: float | None
    excess_sharpe: float | None
    beat_spy: bool | None
    psr_vs_zero: float | None
    psr_vs_spy: float | None
    min_track_record_days: int | None
    evidence: str | None
    trades: int


class VariantSummary(BaseModel):
    overrides: dict[str, Any]
    windows: int
    total_return_pct: Spread
    sharpe: Spread
    excess_sharpe: Spread
    beat_spy_share: float | None
    psr_vs_zero: Spread
    daily_sharpe: float | None  # per-day Sharpe of all its windows' returns together
    trades: int


class Selection(BaseModel):
    best_variant: str | None
    rule: str = "highest per-day Sharpe over all windows' daily returns"
    deflated_sharpe: DeflatedSharpe | None
    overfitting: Overfitting | None
    notes: list[str]


class StudySummary(BaseModel):
    study: dict[str, Any]
    variants: dict[str, VariantSummary]
    runs: list[RunRow]
    selection: Selection


def _f(x: object) -> float | None:
    return None if x is None else float(x)  # type: ignore[arg-type]


def run_row(result: RunResult, account: str) -> RunRow:
    dates = result.dates
    equity = [Decimal(e) for e in result.curves.get(account, [])]
    mine = figures(dates, equity)
    spy = figures(dates, [Decimal(e) for e in result.curves[SPY]]) if SPY in result.curves else None
    excess = (
        mine.sharpe - spy.sharpe
        if spy is not None and mine.sharpe is not None and spy.sharpe is not None
        else None
    )
    beat = (
        mine.total_return_pct > spy.total_return_pct
        if spy is not None
        and mine.total_return_pct is not None
        and spy.total_return_pct is not None
        else None
    )
    ev = (result.evidence or {}).get(account) or {}
    return RunRow(
        run_id=result.run_id,
        variant=result.variant,
        start=result.start,
        end=result.end,
        days=len(dates),
        total_return_pct=mine.total_return_pct,
        sharpe=mine.sharpe,
        spy_return_pct=spy.total_return_pct if spy else None,
        spy_sharpe=spy.sharpe if spy else None,
        excess_sharpe=excess,
        beat_spy=beat,
        psr_vs_zero=_f(ev.get("psr_vs_zero")),
        psr_vs_spy=_f(ev.get("psr_vs_spy")),
        min_track_record_days=ev.get("min_track_record_days"),
        evidence=ev.get("status"),
        trades=result.trades.get(account, 0),
    )


def _daily_returns(results: Sequence[RunResult], account: str) -> np.ndarray:
    parts = [returns_of([Decimal(e) for e in r.curves.get(account, [])]) for r in results]
    return np.concatenate(parts) if parts else np.zeros(0)


def _blocks(rows: int, asked: int) -> int:
    """The largest even number of blocks <= asked that leaves 2 rows per block."""
    b = min(asked, rows // 2)
    return b - b % 2


def summarize(spec: StudySpec, runs: Sequence[Run], results: dict[str, RunResult]) -> StudySummary:
    """The study's figures from every run's result (`results` by run id, all runs done)."""
    account = spec.account
    rows = [run_row(results[r.run_id], account) for r in runs]
    names = [v.name for v in spec.grid.variants]
    by_variant = {n: [results[r.run_id] for r in runs if r.variant.name == n] for n in names}
    returns = {n: _daily_returns(by_variant[n], account) for n in names}
    variants: dict[str, VariantSummary] = {}
    for v in spec.grid.variants:
        mine = [row for row in rows if row.variant == v.name]
        beats = [row.beat_spy for row in mine if row.beat_spy is not None]
        variants[v.name] = VariantSummary(
            overrides=v.overrides,
            windows=len(mine),
            total_return_pct=Spread.of([row.total_return_pct for row in mine]),
            sharpe=Spread.of([row.sharpe for row in mine]),
            excess_sharpe=Spread.of([row.excess_sharpe for row in mine]),
            beat_spy_share=sum(beats) / len(beats) if beats else None,
            psr_vs_zero=Spread.of([row.psr_vs_zero for row in mine]),
            daily_sharpe=daily_sharpe(returns[v.name]),
            trades=sum(row.trades for row in mine),
        )
    return StudySummary(
        study={
            "id": spec.grid.study_id,
            "data": spec.data.name if spec.data else "bundled sample",
            "account": account,
            "windows": sorted({f"{r.window.start}..{r.window.end}" for r in runs}),
            "variants": {v.name: v.overrides for v in spec.grid.variants},
            "runs": len(runs),
        },
        variants=variants,
        runs=rows,
        selection=_selection(variants, returns, spec.blocks),
    )


def _selection(
    variants: dict[str, VariantSummary], returns: dict[str, np.ndarray], blocks: int
) -> Selection:
    notes: list[str] = []
    scored = {n: v.daily_sharpe for n, v in variants.items() if v.daily_sharpe is not None}
    if not scored:
        notes.append("no variant has a Sharpe (flat or too short): nothing to select")
        return Selection(best_variant=None, deflated_sharpe=None, overfitting=None, notes=notes)
    best = max(scored, key=lambda n: (scored[n], n))
    dsr = deflated_sharpe(returns[best], list(scored.values()), trials=len(variants))
    pbo: Overfitting | None = None
    lengths = {len(r) for r in returns.values()}
    if len(variants) < 2:
        notes.append("PBO needs at least 2 variants")
    elif len(lengths) != 1:
        notes.append("PBO needs every variant on the same days")
    else:
        t = lengths.pop()
        s = _blocks(t, blocks)
        if s < 2:
            notes.append(f"PBO needs at least 4 days of returns, not {t}")
        else:
            if s != blocks:
                notes.append(f"PBO on {s} blocks: {t} days are too few for {blocks}")
            matrix = np.column_stack([returns[n] for n in variants])
            pbo = overfitting(matrix, blocks=s)
    return Selection(best_variant=best, deflated_sharpe=dsr, overfitting=pbo, notes=notes)


def study_json(summary: StudySummary) -> str:
    """Sorted keys, fixed rounding, no time and no host: byte-identical on rerun. CSCV's
    logits (thousands) are left out: their share at or below 0 is the PBO."""
    body = summary.model_dump(mode="python")
    if body["selection"]["overfitting"] is not None:
        body["selection"]["overfitting"].pop("logits")
    return json.dumps(rounded(body), sort_keys=True, indent=2) + "\n"


RUN_COLUMNS = tuple(RunRow.model_fields)


def runs_csv(summary: StudySummary) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(RUN_COLUMNS)
    for row in summary.runs:
        values = rounded(row.model_dump())
        w.writerow(["" if values[c] is None else values[c] for c in RUN_COLUMNS])
    return out.getvalue()
