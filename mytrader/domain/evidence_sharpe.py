"""How sure a Sharpe ratio is: block-bootstrap interval, PSR, minimum track record, who beats whom.

Definitions (those of mytrader.backtest.metrics, i.e. empyrical's): daily simple returns, Sharpe
= mean / sample standard deviation (ddof=1), annualised by sqrt(252), no risk-free rate.

Interval: a block bootstrap, because a book that holds positions for days has autocorrelated
daily returns and the i.i.d. bootstrap then reads too much certainty into them.

- Resampling: the stationary bootstrap (Politis & Romano 1994), arch.bootstrap.
  StationaryBootstrap: blocks of consecutive days, of random (geometric) length with mean b,
  wrapping around the end. With b = 1 every block is one day: the i.i.d. bootstrap.
- Block length rule: b = the Politis & White (2004) automatic block length, with the
  correction of Patton, Politis & White (2009), for the stationary bootstrap
  (arch.bootstrap.optimal_block_length, column "stationary"), estimated on the returns,
  rounded up to a whole number of days (arch takes an int) and bounded to [1, n / 2]; 1 when
  the estimate is not finite (a flat series). For a pair of series: the larger of the two.
- SAMPLES resamples, seed SEED, 95 % percentile interval. Same input, same bytes.

PSR and minimum track record length (Bailey & López de Prado 2012, "The Sharpe ratio efficient
frontier"), on the per-day Sharpe SR (not annualised, as the formulas want), with the sample's
skewness g3 and kurtosis g4 (biased moment estimates; g4 = 3 for a normal):

    PSR(SR*) = Phi( (SR - SR*) sqrt(n - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2) )
    MinTRL(SR*) = 1 + (1 - g3 SR + (g4 - 1) / 4 SR^2) (z_0.95 / (SR - SR*))^2   (days of returns)

MinTRL exists only when SR > SR* (no track record makes a lower Sharpe beat SR*): None then.

Who beats whom: P(Sharpe_a > Sharpe_b) is the share of paired resamples (the same resampled days
for both series, so their correlation is kept) in which a's Sharpe is higher; ties count half,
so P(a > b) + P(b > a) = 1. Resamples in which either series is flat are dropped.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel
from scipy import stats

TRADING_DAYS = 252
SAMPLES = 2000
SEED = 20240101  # the backtest report's seed: the same run gives the same interval
LEVEL = 0.95  # the interval's coverage
TRL_CONFIDENCE = 0.95  # the minimum track record length's confidence

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Interval(BaseModel):
    """A percentile interval of the annualised Sharpe, and the mean block length it used."""

    low: float
    high: float
    block_length: int


def as_returns(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _flat(r: FloatArray) -> bool:
    return len(r) < 2 or not float(np.std(r)) > 0


def daily_sharpe(r: FloatArray) -> float | None:
    """Per-day Sharpe (mean over sample standard deviation); None if fewer than 2 days or flat."""
    if _flat(r):
        return None
    return float(r.mean() / r.std(ddof=1))


def annual_sharpe(r: FloatArray) -> float | None:
    sr = daily_sharpe(r)
    return None if sr is None else sr * math.sqrt(TRADING_DAYS)


def moments(r: FloatArray) -> tuple[float, float]:
    """Skewness and (non-excess) kurtosis, biased estimates as in the PSR paper's code."""
    return (
        float(stats.skew(r, bias=True)),
        float(stats.kurtosis(r, fisher=False, bias=True)),
    )


def block_length(*series: FloatArray) -> int:
    """The documented rule: Politis-White for the stationary bootstrap, the largest over the
    series, rounded up, bounded to [1, n / 2]."""
    from arch.bootstrap import optimal_block_length  # lazy: arch costs seconds to import

    n = min(len(s) for s in series)
    found = []
    for s in series:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a flat series: no autocovariance, b is NaN
            b = float(optimal_block_length(s[:n])["stationary"].iloc[0]) if n >= 3 else math.nan
        found.append(b if math.isfinite(b) else 1.0)
    return max(1, min(math.ceil(max(found)), n // 2))


def resampled_days(n: int, block: int, samples: int = SAMPLES, seed: int = SEED) -> IntArray:
    """samples x n day indices of the stationary bootstrap (mean block length `block`)."""
    from arch.bootstrap import StationaryBootstrap  # lazy: arch costs seconds to import

    boot = StationaryBootstrap(block, np.arange(n), seed=seed)
    return np.stack([data[0][0] for data in boot.bootstrap(samples)]).astype(np.int64)


def _annual_sharpes(draws: FloatArray) -> FloatArray:
    """Annualised Sharpe of each row; NaN where a row is flat."""
    sd = draws.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = draws.mean(axis=1) / sd * math.sqrt(TRADING_DAYS)
    out[~(sd > 0)] = np.nan
    return np.asarray(out, dtype=np.float64)


def sharpe_interval(
    r: FloatArray,
    block: int | None = None,
    samples: int = SAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> Interval | None:
    """Percentile interval of the annualised Sharpe from the stationary bootstrap; block None:
    the documented rule; block 1: the i.i.d. bootstrap. None if under 3 days or flat."""
    if len(r) < 3 or _flat(r):
        return None
    b = block_length(r) if block is None else block
    values = _annual_sharpes(r[resampled_days(len(r), b, samples, seed)])
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return Interval(low=float(low), high=float(high), block_length=b)


def psr_of(sr: float, n: int, skew: float, kurt: float, benchmark: float = 0.0) -> float | None:
    """The PSR formula on a per-day Sharpe; None when the variance term is not positive."""
    var = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if n < 2 or var <= 0:
        return None
    return float(stats.norm.cdf((sr - benchmark) * math.sqrt(n - 1) / math.sqrt(var)))


def psr(r: FloatArray, benchmark: float = 0.0) -> float | None:
    """P(true per-day Sharpe > benchmark), benchmark a per-day Sharpe. None under 3 days or flat."""
    sr = daily_sharpe(r)
    if sr is None or len(r) < 3:
        return None
    return psr_of(sr, len(r), *moments(r), benchmark=benchmark)


def min_trl_of(
    sr: float, skew: float, kurt: float, benchmark: float = 0.0, confidence: float = TRL_CONFIDENCE
) -> float | None:
    """The MinTRL formula, in days of returns; None unless sr > benchmark (no length suffices)."""
    var = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if sr <= benchmark or var <= 0:
        return None
    z = float(stats.norm.ppf(confidence))
    return 1.0 + var * (z / (sr - benchmark)) ** 2


def min_track_record(r: FloatArray, benchmark: float = 0.0) -> int | None:
    """Days of returns needed for PSR(benchmark) >= 95 % at this Sharpe, skewness and kurtosis
    (rounded up); None under 3 days, flat, or when the Sharpe is not above the benchmark."""
    sr = daily_sharpe(r)
    if sr is None or len(r) < 3:
        return None
    found = min_trl_of(sr, *moments(r), benchmark=benchmark)
    return None if found is None else math.ceil(found - 1e-9)


def beat_probability(
    a: FloatArray, b: FloatArray, samples: int = SAMPLES, seed: int = SEED
) -> float | None:
    """P(Sharpe of a > Sharpe of b) over the same days, by a paired stationary bootstrap.
    None under 3 common days or if either series is flat."""
    if len(a) != len(b):
        raise ValueError("a paired bootstrap needs the two series over the same days")
    if len(a) < 3 or _flat(a) or _flat(b):
        return None
    idx = resampled_days(len(a), block_length(a, b), samples, seed)
    sa, sb = _annual_sharpes(a[idx]), _annual_sharpes(b[idx])
    ok = np.isfinite(sa) & np.isfinite(sb)
    if not ok.any():
        return None
    wins = np.count_nonzero(sa[ok] > sb[ok]) + 0.5 * np.count_nonzero(sa[ok] == sb[ok])
    return float(wins / np.count_nonzero(ok))
