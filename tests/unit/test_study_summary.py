"""The study's figures from its runs' curves, checked against the formulas computed here
independently (numpy and scipy, not the module's helpers)."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import numpy as np
import pytest
from scipy import stats

from mytrader.domain.study_grid import StudyGrid, Variant, Window, plan
from mytrader.study.spec import StudySpec
from mytrader.study.summary import runs_csv, study_json, summarize
from mytrader.study.task import RunResult

DAYS = 40


def _dates(start: date, n: int) -> list[str]:
    return [date.fromordinal(start.toordinal() + i).isoformat() for i in range(n)]


def _curve(returns: np.ndarray) -> list[str]:
    equity = 100_000 * np.cumprod(1 + returns)
    return [str(Decimal(float(e)).quantize(Decimal("0.01"))) for e in equity]


def _study(
    drift: dict[str, float], seed: int = 7, days: int = DAYS
) -> tuple[StudySpec, list, dict]:
    windows = [
        Window(start=date(2020, 1, 1), end=date(2020, 2, 9)),
        Window(start=date(2020, 3, 1), end=date(2020, 4, 9)),
    ]
    grid = StudyGrid(study_id="t", windows=windows, variants=[Variant(name=n) for n in drift])
    all_dates = [date.fromisoformat(d) for w in windows for d in _dates(w.start, DAYS)]
    runs = plan(grid, all_dates, known_settings=set())
    rng = np.random.default_rng(seed)
    spy = {w: rng.normal(0.0003, 0.01, days) for w in windows}
    results = {}
    for r in runs:
        mine = rng.normal(drift[r.variant.name], 0.01, days)
        results[r.run_id] = RunResult(
            run_id=r.run_id,
            variant=r.variant.name,
            start=r.window.start.isoformat(),
            end=r.window.end.isoformat(),
            fingerprint=r.fingerprint,
            dates=_dates(r.window.start, days),
            curves={"collaborative": _curve(mine), "SPY": _curve(spy[r.window])},
            evidence={
                "collaborative": {
                    "psr_vs_zero": 0.5,
                    "psr_vs_spy": 0.4,
                    "min_track_record_days": 100,
                    "status": "s",
                }
            },
            trades={"collaborative": 3},
            interrupted=False,
            elapsed_s=1.0,
            worker="w",
        )
    return StudySpec(grid=grid), runs, results


def _returns(curve: list[str]) -> np.ndarray:
    x = np.array([float(e) for e in curve])
    return x[1:] / x[:-1] - 1


def _sharpe(r: np.ndarray) -> float:
    return float(r.mean() / r.std(ddof=1) * math.sqrt(252))


def test_excess_sharpe_beat_spy_and_spreads_per_run_and_variant() -> None:
    spec, runs, results = _study({"a": 0.002, "b": -0.001})
    s = summarize(spec, runs, results)
    for row in s.runs:
        res = results[row.run_id]
        mine, spy = _returns(res.curves["collaborative"]), _returns(res.curves["SPY"])
        assert row.sharpe == pytest.approx(_sharpe(mine), rel=1e-9)
        assert row.excess_sharpe == pytest.approx(_sharpe(mine) - _sharpe(spy), rel=1e-9)
        gain = float(res.curves["collaborative"][-1]) / float(res.curves["collaborative"][0])
        spy_gain = float(res.curves["SPY"][-1]) / float(res.curves["SPY"][0])
        assert row.beat_spy is (gain > spy_gain)
    for name, v in s.variants.items():
        mine = [r for r in s.runs if r.variant == name]
        assert v.windows == 2
        assert v.sharpe.median == pytest.approx(np.median([r.sharpe for r in mine]))
        assert v.beat_spy_share == sum(bool(r.beat_spy) for r in mine) / 2
        assert v.trades == 6


def test_deflated_sharpe_of_the_best_variant_against_the_formula() -> None:
    spec, runs, results = _study({"a": 0.0005, "b": 0.003, "c": 0.0})
    s = summarize(spec, runs, results)
    per_variant = {
        n: np.concatenate(
            [
                _returns(results[r.run_id].curves["collaborative"])
                for r in runs
                if r.variant.name == n
            ]
        )
        for n in ("a", "b", "c")
    }
    srs = {n: float(r.mean() / r.std(ddof=1)) for n, r in per_variant.items()}
    best = max(srs, key=lambda n: srs[n])
    assert s.selection.best_variant == best
    gamma = 0.5772156649015329
    v = np.var(list(srs.values()), ddof=1)
    sr0 = math.sqrt(v) * (
        (1 - gamma) * stats.norm.ppf(1 - 1 / 3) + gamma * stats.norm.ppf(1 - 1 / (3 * math.e))
    )
    r = per_variant[best]
    g3, g4 = stats.skew(r), stats.kurtosis(r, fisher=False)
    sr = srs[best]
    dsr = stats.norm.cdf(
        (sr - sr0) * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    )
    d = s.selection.deflated_sharpe
    assert d is not None and d.trials == 3
    assert d.expected_max == pytest.approx(sr0, rel=1e-9)
    assert d.dsr == pytest.approx(dsr, rel=1e-9)


def test_pbo_on_the_variants_daily_returns_and_too_few_days_for_16_blocks() -> None:
    spec, runs, results = _study({"a": 0.0, "b": 0.0})
    s = summarize(spec, runs, results)
    o = s.selection.overfitting
    # 2 windows x 39 returns = 78 rows: 16 blocks of 4, the 14 oldest rows left out.
    assert o is not None and o.blocks == 16 and o.rows_used == 64 and o.rows_dropped == 14
    assert 0.0 <= o.pbo <= 1.0
    spec, runs, results = _study({"a": 0.0, "b": 0.0}, days=8)
    o2 = summarize(spec, runs, results).selection
    assert o2.overfitting is not None and o2.overfitting.blocks == 6  # 14 rows: 2 per block
    assert "PBO on 6 blocks: 14 days are too few for 16" in o2.notes


def test_one_variant_has_a_deflated_sharpe_but_no_pbo() -> None:
    spec, runs, results = _study({"only": 0.001})
    sel = summarize(spec, runs, results).selection
    assert sel.overfitting is None and "PBO needs at least 2 variants" in sel.notes
    assert sel.deflated_sharpe is not None and sel.deflated_sharpe.expected_max == 0.0


def test_study_json_is_the_same_bytes_whatever_order_runs_finished_in() -> None:
    spec, runs, results = _study({"a": 0.001, "b": 0.0})
    first = study_json(summarize(spec, runs, results))
    backwards = dict(reversed(list(results.items())))
    assert study_json(summarize(spec, runs, backwards)) == first
    assert '"logits"' not in first  # thousands of numbers: the PBO is their share <= 0
    lines = runs_csv(summarize(spec, runs, results)).splitlines()
    assert lines[0].startswith("run_id,variant,start,end,days") and len(lines) == 5
