"""Performance figures of an equity curve: the backtest report and the live leaderboard.

Standard ratios come from empyrical-reloaded (the library pyfolio and zipline use), so the
definitions are the usual ones: daily simple returns, 252 trading days a year, sample
standard deviation. What it lacks is here, written out: drawdown dates. Whether a figure is
skill or luck (Sharpe intervals, PSR, minimum track record) is `evidence.py`'s job.

Equity is Decimal in the books; the ratios are statistics, computed in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import empyrical as ep
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

TRADING_DAYS = 252

FloatArray = npt.NDArray[np.float64]


class Drawdown(BaseModel):
    max_drawdown_pct: float | None  # negative or 0
    peak: str | None  # date of the peak before the deepest trough
    trough: str | None
    recovery: str | None  # first date back at the peak; None if never


class Figures(BaseModel):
    """The headline figures of one curve. Percentages are percent (12.5 = 12.5 %)."""

    start: str | None
    end: str | None
    days: int
    start_equity: Decimal
    end_equity: Decimal
    total_return_pct: float | None
    cagr_pct: float | None
    volatility_pct: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    drawdown: Drawdown


def returns_of(equity: Sequence[Decimal | float]) -> FloatArray:
    """Daily simple returns of an equity curve (one fewer than the points)."""
    x = np.asarray([float(e) for e in equity], dtype=np.float64)
    if len(x) < 2:
        return np.zeros(0)
    return x[1:] / x[:-1] - 1.0


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def drawdown(dates: Sequence[str], equity: Sequence[Decimal | float]) -> Drawdown:
    x = np.asarray([float(e) for e in equity], dtype=np.float64)
    if len(x) == 0:
        return Drawdown(max_drawdown_pct=None, peak=None, trough=None, recovery=None)
    running = np.maximum.accumulate(x)
    dd = x / running - 1.0
    trough = int(np.argmin(dd))
    if dd[trough] >= 0:
        return Drawdown(max_drawdown_pct=0.0, peak=None, trough=None, recovery=None)
    peak = int(np.argmax(x[: trough + 1]))
    back = np.flatnonzero(x[trough:] >= x[peak])
    recovery = dates[trough + int(back[0])] if len(back) else None
    return Drawdown(
        max_drawdown_pct=float(dd[trough]) * 100.0,
        peak=dates[peak],
        trough=dates[trough],
        recovery=recovery,
    )


def figures(dates: Sequence[str], equity: Sequence[Decimal]) -> Figures:
    r = returns_of(equity)
    enough = len(r) >= 2
    first, last = (equity[0], equity[-1]) if equity else (Decimal(0), Decimal(0))
    dd = drawdown(dates, equity)
    return Figures(
        start=dates[0] if dates else None,
        end=dates[-1] if dates else None,
        days=len(dates),
        start_equity=first,
        end_equity=last,
        total_return_pct=_finite(float(last / first - 1) * 100.0) if first else None,
        cagr_pct=_pct(ep.annual_return(r)) if len(r) else None,
        volatility_pct=_pct(ep.annual_volatility(r)) if enough else None,
        sharpe=_finite(ep.sharpe_ratio(r)) if enough and np.std(r) > 0 else None,
        sortino=_finite(ep.sortino_ratio(r)) if enough else None,
        calmar=_finite(ep.calmar_ratio(r)) if enough and dd.max_drawdown_pct else None,
        drawdown=dd,
    )


def _pct(x: float) -> float | None:
    v = _finite(x)
    return None if v is None else v * 100.0


def rounded(value: Any, digits: int = 6) -> Any:
    """A JSON-ready copy with floats rounded and Decimals as fixed strings, so a file of
    figures is byte-identical across reruns (no float noise in the last digits)."""
    if isinstance(value, BaseModel):
        return rounded(value.model_dump(), digits)
    if isinstance(value, dict):
        return {str(k): rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    if isinstance(value, float):
        return round(value, digits) + 0.0 if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    return value
